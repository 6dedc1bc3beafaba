"""Whether an account's mirror is fresh: used by the status page and the navigation badge."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apps.accounts.access import accounts_for_user
from apps.accounts.models import CloudAccount
from apps.sync.models import Resource, SyncState

# A resource is shown as stale when it has not finished a run for this many sync intervals.
STALE_AFTER_INTERVALS = 3
TROUBLED = (SyncState.Status.FAILING, SyncState.Status.AUTH_FAILED)


def stale_cutoff() -> datetime:
    interval = settings.SYNC_INTERVAL_SECONDS
    return timezone.now() - timedelta(seconds=interval * STALE_AFTER_INTERVALS)


def is_stale(account: CloudAccount, state: SyncState | None, cutoff: datetime) -> bool:
    """Return True for an enabled account whose resource has not synced recently."""
    if not account.enabled:
        return False
    return state is None or state.last_finished_at is None or state.last_finished_at < cutoff


def troubles_for(user) -> dict[str, int]:
    """Count, over the user's enabled accounts, resources that fail and resources gone stale."""
    accounts = list(accounts_for_user(user).filter(enabled=True))
    states = {
        (state.account_id, state.resource): state
        for state in SyncState.objects.filter(account__in=accounts)
    }
    cutoff = stale_cutoff()
    failing = sum(state.status in TROUBLED for state in states.values())
    stale = sum(
        is_stale(account, states.get((account.pk, resource)), cutoff)
        for account in accounts
        for resource in Resource
    )
    return {"failing": failing, "stale": stale}
