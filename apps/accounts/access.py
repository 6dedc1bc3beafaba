"""Who may do what to which Cloud account.

Views call one of these helpers on their first line and never repeat permission logic.
Outsiders get 404 (an account's existence is not revealed); members whose role is too low
get 403. Dashboard superusers act as admins of every account.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest

from apps.accounts.models import CloudAccount, Membership, Role

AnyUser = AbstractBaseUser | AnonymousUser


def _is_superuser(user: AnyUser) -> bool:
    return bool(user.is_active and getattr(user, "is_superuser", False))


def accounts_for_user(user: AnyUser) -> QuerySet[CloudAccount]:
    """Return the accounts ``user`` may see, each annotated with ``member_role`` (or None)."""
    if not user.is_authenticated or not user.is_active:
        return CloudAccount.objects.none()
    own_role = Membership.objects.filter(account=OuterRef("pk"), user=user).values("role")[:1]
    accounts = CloudAccount.objects.annotate(member_role=Subquery(own_role))
    if _is_superuser(user):
        return accounts
    return accounts.filter(memberships__user=user)


def role_for(user: AnyUser, account: CloudAccount) -> Role | None:
    """Return ``user``'s effective role on ``account`` (superusers are admins), or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    if _is_superuser(user):
        return Role.ADMIN
    role = (
        Membership.objects.filter(account=account, user=user).values_list("role", flat=True).first()
    )
    return None if role is None else Role(role)


def require_role(user: AnyUser, account: CloudAccount, minimum_role: Role) -> Role:
    """Return ``user``'s role on ``account``; raise 404 for outsiders, 403 if it is too low.

    The building block for other object types: a sandbox or a conversation belongs to an
    account, so its access helper checks the role on that account.
    """
    role = role_for(user, account)
    if role is None:
        raise Http404("No such Cloud account.")
    if role < minimum_role:
        raise PermissionDenied(f"This needs the {minimum_role.label.lower()} role.")
    return role


def get_account_for_user(
    request: HttpRequest, pk: int, minimum_role: Role = Role.VIEWER
) -> CloudAccount:
    """Return account ``pk`` if the requesting user holds at least ``minimum_role`` on it."""
    account = CloudAccount.objects.filter(pk=pk).first()
    if account is None:
        raise Http404("No such Cloud account.")
    require_role(request.user, account, minimum_role)
    return account


def require_superuser(request: HttpRequest) -> None:
    """Raise 403 unless the requesting user is a dashboard superuser."""
    if not _is_superuser(request.user):
        raise PermissionDenied("Only dashboard administrators can do this.")


def audited_accounts_for_user(user: AnyUser) -> QuerySet[CloudAccount]:
    """Return the accounts whose audit entries ``user`` may read (admin role or superuser)."""
    if _is_superuser(user):
        return CloudAccount.objects.all()
    if not user.is_authenticated or not user.is_active:
        return CloudAccount.objects.none()
    return CloudAccount.objects.filter(memberships__user=user, memberships__role=Role.ADMIN)
