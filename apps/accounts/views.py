"""Pages for Cloud accounts: list, create, detail, edit, delete, connection test, members, audit."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.access import (
    accounts_for_user,
    audited_accounts_for_user,
    get_account_for_user,
    require_superuser,
    role_for,
)
from apps.accounts.audit import AuditTarget, audit
from apps.accounts.connection import check_connection
from apps.accounts.forms import AccountForm, AddMemberForm, MemberRoleForm
from apps.accounts.models import AuditLog, CloudAccount, Membership, Role
from apps.core.csv import csv_lines

AUDIT_PAGE_SIZE = 50


@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = list(accounts_for_user(request.user))
    for account in accounts:
        account.my_role = Role.ADMIN if request.user.is_superuser else Role(account.member_role)
    return render(request, "accounts/list.html", {"accounts": accounts})


def _audit_refusal(
    request: HttpRequest,
    action: str,
    form: AccountForm,
    target: AuditTarget,
    account: CloudAccount | None = None,
) -> None:
    """Record a save the server refused (a call went upstream; nothing was saved)."""
    if form.connection_check is not None:
        audit(request, action, target, False, form.connection_check.message, account)


@sensitive_post_parameters("api_key")
@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    require_superuser(request)
    form = AccountForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid() and form.connection_ok():
            account = form.save()
            audit(request, "account.create", account, True, form.connection_check.message)
            messages.success(request, f"Account {account.name} added. {account.last_check_message}")
            return redirect("accounts:detail", pk=account.pk)
        target = AuditTarget("cloudaccount", "", form.instance.name)
        _audit_refusal(request, "account.create", form, target)
    return render(request, "accounts/form.html", {"form": form, "account": None})


def _members_of(account: CloudAccount) -> QuerySet[Membership]:
    """Return the account's members, admins first."""
    return account.memberships.select_related("user").order_by("-role", "user__username")


@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk)
    role = role_for(request.user, account)
    context = {
        "account": account,
        "role": role,
        "can_operate": role >= Role.OPERATOR,
        "can_admin": role >= Role.ADMIN,
        "members": _members_of(account),
    }
    return render(request, "accounts/detail.html", context)


@sensitive_post_parameters("api_key")
@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk, Role.ADMIN)
    form = AccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid() and form.connection_ok():
        changed = ", ".join(form.changed_data) or "nothing"
        account = form.save()
        audit(request, "account.update", account, True, f"changed: {changed}")
        messages.success(request, f"Account {account.name} saved.")
        return redirect("accounts:detail", pk=account.pk)
    # The form changes the instance in memory; the page and the audit name the stored account.
    stored = CloudAccount.objects.get(pk=pk)
    if request.method == "POST":
        _audit_refusal(request, "account.update", form, AuditTarget.of(stored), stored)
    return render(request, "accounts/form.html", {"form": form, "account": stored})


@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk, Role.ADMIN)
    if request.method == "POST":
        target = AuditTarget.of(account)
        account.delete()
        audit(request, "account.delete", target, True)
        messages.success(request, f"Account {target.label} deleted.")
        return redirect("accounts:list")
    return render(request, "accounts/delete.html", {"account": account})


@require_POST
def account_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask the server who the stored key belongs to; htmx gets only the result fragment."""
    account = get_account_for_user(request, pk, Role.OPERATOR)
    check = check_connection(account)
    account.record_check(check)
    account.save(update_fields=CloudAccount.CHECK_FIELDS)
    audit(request, "account.test", account, check.ok, check.message)
    if request.htmx:
        return render(request, "accounts/detail.html#connection", {"account": account})
    (messages.success if check.ok else messages.error)(request, check.message)
    return redirect("accounts:detail", pk=account.pk)


@require_GET
def member_list(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk, Role.ADMIN)
    return _render_members(request, account, AddMemberForm(account=account))


def _render_members(
    request: HttpRequest, account: CloudAccount, add_form: AddMemberForm, status: int = 200
) -> HttpResponse:
    context = {
        "account": account,
        "members": _members_of(account),
        "add_form": add_form,
        "roles": Role,
    }
    return render(request, "accounts/members.html", context, status=status)


@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk, Role.ADMIN)
    form = AddMemberForm(request.POST, account=account)
    if not form.is_valid():
        return _render_members(request, account, form, status=400)
    member = Membership.objects.create(
        account=account, user=form.cleaned_data["username"], role=form.cleaned_data["role"]
    )
    audit(request, "member.add", member, True, f"role: {member.get_role_display()}", account)
    messages.success(request, f"{member.user} added as {member.get_role_display().lower()}.")
    return redirect("accounts:members", pk=account.pk)


def _get_member(account: CloudAccount, member_pk: int) -> Membership:
    """Return membership ``member_pk`` of ``account`` (404 for another account's member)."""
    members = Membership.objects.select_related("user", "account")
    return get_object_or_404(members, pk=member_pk, account=account)


def _is_last_admin(member: Membership) -> bool:
    if member.role != Role.ADMIN:
        return False
    # Lock the admin rows so that two admins cannot demote each other at the same moment.
    admins = Membership.objects.select_for_update().filter(account=member.account, role=Role.ADMIN)
    return len(admins.values_list("pk", flat=True)) == 1


def _refuse_last_admin(request: HttpRequest, member: Membership, action: str) -> bool:
    """Tell whether to refuse losing the account's last admin (only superusers may do it).

    Without an admin, nobody but a superuser could manage the account any more.
    """
    if request.user.is_superuser or not _is_last_admin(member):
        return False
    reason = f"{member.user} is the last admin of {member.account}; make someone else admin first."
    audit(request, action, member, False, reason, member.account)
    messages.error(request, reason)
    return True


@require_POST
def member_role(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk, Role.ADMIN)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
        return redirect("accounts:members", pk=account.pk)
    new_role = Role(form.cleaned_data["role"])
    with transaction.atomic():
        member = _get_member(account, member_pk)
        if new_role < member.role and _refuse_last_admin(request, member, "member.role"):
            return redirect("accounts:members", pk=account.pk)
        detail = f"role: {member.get_role_display()} -> {new_role.label}"
        member.role = new_role
        member.save(update_fields=["role"])
        audit(request, "member.role", member, True, detail, account)
    messages.success(request, f"{member.user} is now {new_role.label.lower()}.")
    return redirect("accounts:members", pk=account.pk)


@require_POST
def member_remove(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    account = get_account_for_user(request, pk, Role.ADMIN)
    with transaction.atomic():
        member = _get_member(account, member_pk)
        if _refuse_last_admin(request, member, "member.remove"):
            return redirect("accounts:members", pk=account.pk)
        target = AuditTarget.of(member)
        member.delete()
        audit(request, "member.remove", target, True, "", account)
    messages.success(request, f"{member.user} removed from {account}.")
    return redirect("accounts:members", pk=account.pk)


@require_GET
def _visible_audit_entries(request: HttpRequest):
    """Return the audit entries this user may read, filtered by the query string."""
    visible_accounts = audited_accounts_for_user(request.user)
    entries = AuditLog.objects.select_related("account")
    if not request.user.is_superuser:
        if not visible_accounts.exists():
            raise PermissionDenied("Only account admins can read the audit log.")
        entries = entries.filter(account__in=visible_accounts)
    actions = entries.order_by("action").values_list("action", flat=True).distinct()
    account_filter = request.GET.get("account", "")
    if account_filter.isdigit():
        entries = entries.filter(account_id=int(account_filter))
    action_filter = request.GET.get("action", "")
    if action_filter:
        entries = entries.filter(action=action_filter)
    filters = {"account_filter": account_filter, "action_filter": action_filter}
    return entries, visible_accounts, actions, filters


@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """List audit entries: all for superusers, their accounts' entries for account admins."""
    entries, visible_accounts, actions, filters = _visible_audit_entries(request)
    context = {
        "page": Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page")),
        "accounts": visible_accounts.order_by("name"),
        "actions": actions,
        **filters,
    }
    return render(request, "accounts/audit.html", context)


@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """Stream the visible, filtered audit entries as CSV (constant memory)."""
    entries, _, _, _ = _visible_audit_entries(request)
    rows = (
        [
            entry.created_at.isoformat(),
            entry.username,
            entry.action,
            entry.target_type,
            entry.target_id,
            entry.target_label,
            entry.account.name if entry.account else "",
            entry.result,
            entry.detail,
            entry.client_ip or "",
        ]
        for entry in entries.iterator(chunk_size=500)
    )
    header = ["when", "who", "action", "target_type", "target_id", "target", "account", "result",
              "detail", "ip"]  # fmt: skip
    response = StreamingHttpResponse(csv_lines([header], rows), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
