"""The local mirror of upstream sandboxes, one row per (Cloud account, sandbox id).

Written only by the sync workers (apps.sync), never deleted by them. Session keys and exposed
URLs (which embed tokens) are never stored: only the names of the exposed URLs are kept, and
actions read the live record from the App Server when they need a URL or a key.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from apps.accounts.models import CloudAccount


class Sandbox(models.Model):
    """Mirror one upstream sandbox as the App Server last described it."""

    class IdleSource(models.TextChoices):
        AGENT_SERVER = "agent_server", "agent server idle time"
        CONVERSATIONS = "conversations", "last conversation update"

    account = models.ForeignKey(CloudAccount, on_delete=models.CASCADE, related_name="sandboxes")
    remote_id = models.CharField(max_length=64)
    status = models.CharField(max_length=32, blank=True)
    sandbox_spec_id = models.CharField(max_length=300, blank=True)
    remote_created_at = models.DateTimeField(null=True, blank=True)
    created_by_user_id = models.CharField(max_length=100, blank=True)
    # Names only, e.g. ["AGENT_SERVER", "VSCODE"]: the URLs themselves carry session tokens.
    exposed_url_names = models.JSONField(default=list, blank=True)
    status_detail = models.TextField(blank=True)
    # The upstream JSON without `session_api_key` and `exposed_urls` (see apps.sync.mirror).
    raw = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_synced_at = models.DateTimeField()
    deleted_upstream_at = models.DateTimeField(null=True, blank=True)
    # Derived at sync time: since when nothing happened in the sandbox, and how that was learnt.
    idle_since = models.DateTimeField(null=True, blank=True)
    idle_source = models.CharField(max_length=20, choices=IdleSource.choices, blank=True)
    agent_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-remote_created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "remote_id"], name="one_sandbox_per_account_remote_id"
            )
        ]
        indexes = [
            # The fleet page: one account's sandboxes filtered by status (RUNNING, PAUSED...).
            models.Index(fields=["account", "status"], name="sandbox_by_account_status"),
            # "Idlest running sandboxes first" across accounts.
            models.Index(fields=["status", "idle_since"], name="sandbox_by_status_idle"),
        ]

    def __str__(self) -> str:
        return self.remote_id

    @property
    def idle_seconds(self) -> float | None:
        """Return how long the sandbox has been idle until now, or None when unknown."""
        return self.idle_seconds_at(timezone.now())

    def idle_seconds_at(self, now: datetime) -> float | None:
        """Return how long the sandbox had been idle at `now`, or None when unknown."""
        if self.idle_since is None:
            return None
        return max(0.0, (now - self.idle_since).total_seconds())
