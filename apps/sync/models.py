"""Job state of the sync workers, kept in the database so every process and page sees it."""

from __future__ import annotations

from django.db import models

from apps.accounts.models import CloudAccount


class Resource(models.TextChoices):
    """What a sync run mirrors."""

    CONVERSATIONS = "conversations", "Conversations"
    SANDBOXES = "sandboxes", "Sandboxes"


class SyncState(models.Model):
    """Remember, per account and resource, where the sync stands and how its last run went."""

    class Status(models.TextChoices):
        NEVER = "never", "never run"
        OK = "ok", "ok"
        FAILING = "failing", "failing"
        AUTH_FAILED = "auth_failed", "key rejected"

    account = models.ForeignKey(CloudAccount, on_delete=models.CASCADE, related_name="sync_states")
    resource = models.CharField(max_length=20, choices=Resource.choices)
    # Upstream time (the newest `updated_at` seen): the next run asks for changes since
    # this moment minus the overlap.
    cursor = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEVER)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_duration_seconds = models.FloatField(null=True, blank=True)
    last_requests = models.PositiveIntegerField(default=0)
    last_changed = models.PositiveIntegerField(default=0)
    last_seen = models.PositiveIntegerField(default=0)
    last_was_full = models.BooleanField(default=False)
    last_error = models.TextField(blank=True)  # redacted before it is stored
    consecutive_failures = models.PositiveIntegerField(default=0)
    # A fingerprint of the encrypted key the App Server rejected: when an admin stores a new
    # key the fingerprint changes and the backoff ends.
    rejected_key_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["account__name", "resource"]
        constraints = [
            models.UniqueConstraint(fields=["account", "resource"], name="one_state_per_resource")
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.resource}: {self.status}"


class SyncProblem(models.Model):
    """Record an upstream record that could not be mirrored (malformed JSON), with a sample."""

    account = models.ForeignKey(
        CloudAccount, on_delete=models.CASCADE, related_name="sync_problems"
    )
    resource = models.CharField(max_length=20, choices=Resource.choices)
    # Identifies the same problem seen again, so it is counted instead of stored twice.
    fingerprint = models.CharField(max_length=64)
    remote_id = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=500)
    sample = models.JSONField(null=True, blank=True)  # scrubbed and truncated
    occurrences = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "resource", "fingerprint"], name="one_problem_per_fingerprint"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.resource}: {self.message}"


class SyncLease(models.Model):
    """Hold the one-sync-per-account lock: a row whose holder and expiry change atomically."""

    account = models.OneToOneField(
        CloudAccount, on_delete=models.CASCADE, related_name="sync_lease"
    )
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.account}: {self.holder or 'free'} until {self.expires_at}"


class RateBucket(models.Model):
    """Store one token bucket of the database rate budget (used when there is no Redis)."""

    key = models.CharField(max_length=100, unique=True)
    tokens = models.FloatField()
    # Seconds since the epoch (wall clock) of the last refill, and of the end of a 429 pause.
    refilled_at = models.FloatField()
    paused_until = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"{self.key}: {self.tokens:.2f} tokens"
