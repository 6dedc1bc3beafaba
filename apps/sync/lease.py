"""One sync per account at a time: a lease row taken and released with conditional UPDATEs.

A conditional UPDATE is atomic on SQLite and PostgreSQL alike, so two workers can never both
hold the lease; the expiry frees it if its holder dies (the OOM killer, a lost machine).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from apps.sync.models import SyncLease

logger = logging.getLogger(__name__)


class AccountLease:
    """The right to sync one account until `ttl` seconds after the last renewal."""

    def __init__(self, account_id: int, *, ttl: float) -> None:
        self.account_id = account_id
        self.ttl = timedelta(seconds=ttl)
        self.holder = secrets.token_hex(16)
        self.held = False

    def acquire(self) -> bool:
        """Take the lease if it is free or expired; return whether this caller holds it."""
        now = timezone.now()
        # get_or_create survives a concurrent insert of the same row (it reads it back).
        SyncLease.objects.get_or_create(account_id=self.account_id, defaults={"expires_at": now})
        taken = SyncLease.objects.filter(
            Q(holder="") | Q(expires_at__lte=now), account_id=self.account_id
        ).update(holder=self.holder, expires_at=now + self.ttl)
        self.held = taken == 1
        return self.held

    def renew(self) -> bool:
        """Extend the lease; return False if it was lost (expired and taken by another)."""
        renewed = SyncLease.objects.filter(account_id=self.account_id, holder=self.holder).update(
            expires_at=timezone.now() + self.ttl
        )
        self.held = renewed == 1
        if not self.held:
            logger.warning("Lost the sync lease of account %s", self.account_id)
        return self.held

    def release(self) -> None:
        """Free the lease if this caller still holds it."""
        SyncLease.objects.filter(account_id=self.account_id, holder=self.holder).update(
            holder="", expires_at=timezone.now()
        )
        self.held = False
