"""The account sync status page (viewer+) and the "sync now" / "reconcile now" actions
(operator+)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.access import get_account_for_user, role_for
from apps.accounts.audit import audit
from apps.accounts.models import CloudAccount, Role
from apps.sync.budget import BudgetPolicy
from apps.sync.health import is_stale, stale_cutoff
from apps.sync.models import Resource, SyncProblem, SyncState
from apps.sync.tasks import sync_account

RECENT_PROBLEMS = 10


@require_GET
def account_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Show how each resource of one account last synced; htmx gets only the status table."""
    account = get_account_for_user(request, pk, Role.VIEWER)
    template = "sync/status.html#status" if request.htmx else "sync/status.html"
    return render(request, template, _status_context(request, account))


@require_POST
def sync_now(request: HttpRequest, pk: int) -> HttpResponse:
    """Enqueue an incremental sync of the account now, even if its key was rejected before."""
    return _enqueue_sync(
        request,
        pk,
        full=False,
        action="sync.now",
        notice="Sync requested; the table updates when a worker has run it.",
    )


@require_POST
def reconcile_now(request: HttpRequest, pk: int) -> HttpResponse:
    """Enqueue a full reconciliation now: every conversation is listed, deletions are marked."""
    return _enqueue_sync(
        request,
        pk,
        full=True,
        action="sync.reconcile",
        notice=(
            "Full reconciliation requested; the table updates when a worker has run it "
            "(shown as “full”)."
        ),
    )


def _enqueue_sync(
    request: HttpRequest, pk: int, *, full: bool, action: str, notice: str
) -> HttpResponse:
    """Enqueue one forced sync run (operator+), audit it, and answer with the status table."""
    account = get_account_for_user(request, pk, Role.OPERATOR)
    sync_account.delay(account.pk, force=True, full=full)
    kind = "Full reconciliation" if full else "Sync"
    audit(request, action, account, True, f"{kind} enqueued by an operator.")
    if request.htmx:
        context = _status_context(request, account) | {"notice": notice}
        return render(request, "sync/status.html#status", context)
    messages.success(request, notice)
    return redirect("sync:status", pk=account.pk)


def _status_context(request: HttpRequest, account: CloudAccount) -> dict:
    states = {state.resource: state for state in SyncState.objects.filter(account=account)}
    cutoff = stale_cutoff()
    rows = [
        {
            "label": resource.label,
            "state": states.get(resource),
            "stale": is_stale(account, states.get(resource), cutoff),
        }
        for resource in Resource
    ]
    return {
        "account": account,
        "budget": _budget_summary(account),
        "rows": rows,
        "problems": SyncProblem.objects.filter(account=account)[:RECENT_PROBLEMS],
        "can_operate": (role_for(request.user, account) or 0) >= Role.OPERATOR,
    }


def _budget_summary(account: CloudAccount) -> dict:
    """Describe the account's rate budget and whether it overrides the global default."""
    policy = BudgetPolicy.for_account(account)
    return {
        "per_minute": policy.rate_per_second * 60.0,
        "burst": int(policy.capacity),
        "rate_overridden": account.sync_rate_per_minute is not None,
        "burst_overridden": account.sync_rate_burst is not None,
    }
