"""Celery tasks of the sync: a fan-out on beat, and one task per account that takes its id."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.accounts.models import CloudAccount
from apps.sync.engine import run_account_sync

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sync_all_accounts() -> int:
    """Enqueue one sync task per enabled account; return how many were enqueued."""
    account_ids = list(CloudAccount.objects.filter(enabled=True).values_list("pk", flat=True))
    for account_id in account_ids:
        sync_account.delay(account_id)
    logger.info("Enqueued the sync of %d account(s)", len(account_ids))
    return len(account_ids)


@shared_task(ignore_result=True)
def sync_account(account_id: int, force: bool = False, full: bool = False) -> None:
    """Sync one account (re-read from the database; skipped if another worker holds it).

    `full` reconciles the conversations now instead of when SYNC_RECONCILE_INTERVAL_SECONDS
    has passed.
    """
    run_account_sync(account_id, force=force, full=full)
