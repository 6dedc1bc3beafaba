"""Re-encrypt every stored Cloud API key with the newest encryption key."""

from __future__ import annotations

from collections import defaultdict

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts import crypto
from apps.accounts.audit import audit
from apps.accounts.models import CloudAccount

ACTOR = "manage.py rotate_encryption_keys"
ROTATED, CURRENT, UNREADABLE, GONE = "rotated", "current", "unreadable", "gone"


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Cloud API key with the first (newest) key of "
        "DASHBOARD_ENCRYPTION_KEYS. Safe to run any number of times; afterwards the older keys "
        "can be removed from the environment."
    )

    def handle(self, *args, **options) -> None:
        names_by_outcome: dict[str, list[str]] = defaultdict(list)
        accounts_with_keys = CloudAccount.objects.exclude(encrypted_api_key="")
        for pk, name in accounts_with_keys.values_list("pk", "name"):
            names_by_outcome[self._rotate(pk)].append(name)
        rotated, unreadable = names_by_outcome[ROTATED], names_by_outcome[UNREADABLE]
        summary = (
            f"{len(rotated)} key(s) re-encrypted, {len(names_by_outcome[CURRENT])} already used "
            f"the newest key, {len(unreadable)} could not be decrypted"
        )
        audit(None, "keys.rotate", None, not unreadable, summary, actor=ACTOR)
        for name in rotated:
            self.stdout.write(f"re-encrypted: {name}")
        self.stdout.write(summary + ".")
        if unreadable:
            raise CommandError(
                f"No configured key decrypts the stored key of: {', '.join(unreadable)}. Put the "
                "old encryption key back (at the end of DASHBOARD_ENCRYPTION_KEYS) and run this "
                "again, or enter those accounts' API keys again."
            )

    def _rotate(self, pk: int) -> str:
        """Re-encrypt one account's key under a row lock; return what happened to it.

        GONE covers an account deleted, or its key cleared, since the list was read.
        """
        with transaction.atomic():
            account = CloudAccount.objects.select_for_update().filter(pk=pk).first()
            if account is None or not account.encrypted_api_key:
                return GONE
            if crypto.is_current(account.encrypted_api_key):
                return CURRENT
            try:
                account.encrypted_api_key = crypto.reencrypt(account.encrypted_api_key)
            except crypto.KeyDecryptionError:
                return UNREADABLE
            account.save(update_fields=["encrypted_api_key"])
            return ROTATED
