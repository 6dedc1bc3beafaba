"""The local mirror of upstream conversations, one row per (Cloud account, conversation id).

Rows are written only by the sync workers (apps.sync) and never deleted by them: a
conversation that disappears upstream keeps its row with `deleted_upstream_at` set, so its
archive and history stay browsable.
"""

from __future__ import annotations

from django.db import models

from apps.accounts.models import CloudAccount


class Conversation(models.Model):
    """Mirror one upstream conversation as the App Server last described it."""

    account = models.ForeignKey(
        CloudAccount, on_delete=models.CASCADE, related_name="conversations"
    )
    remote_id = models.CharField(max_length=64)
    title = models.CharField(max_length=500, blank=True)
    sandbox_id = models.CharField("sandbox remote id", max_length=64, blank=True)
    sandbox_status = models.CharField(max_length=32, blank=True)
    execution_status = models.CharField(max_length=32, blank=True)
    selected_repository = models.CharField(max_length=300, blank=True)
    selected_branch = models.CharField(max_length=255, blank=True)
    git_provider = models.CharField(max_length=32, blank=True)
    pr_numbers = models.JSONField(default=list, blank=True)
    trigger = models.CharField(max_length=32, blank=True)
    llm_model = models.CharField(max_length=200, blank=True)
    agent_kind = models.CharField(max_length=64, blank=True)
    accumulated_cost = models.FloatField(null=True, blank=True)
    prompt_tokens = models.BigIntegerField(null=True, blank=True)
    completion_tokens = models.BigIntegerField(null=True, blank=True)
    cache_read_tokens = models.BigIntegerField(null=True, blank=True)
    reasoning_tokens = models.BigIntegerField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    parent_remote_id = models.CharField(max_length=64, blank=True)
    sub_conversation_ids = models.JSONField(default=list, blank=True)
    public = models.BooleanField(null=True, blank=True)
    created_by_user_id = models.CharField(max_length=100, blank=True)
    remote_created_at = models.DateTimeField(null=True, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    # The upstream JSON without `session_api_key` and `conversation_url` (see apps.sync.mirror).
    raw = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_synced_at = models.DateTimeField()
    deleted_upstream_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-remote_created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "remote_id"], name="one_conversation_per_account_remote_id"
            )
        ]
        indexes = [
            # The conversation list: one account's conversations, most recently active first.
            models.Index(fields=["account", "-remote_updated_at"], name="conv_by_account_updated"),
            # Idle time of a sandbox: max(remote_updated_at) of the conversations it hosts.
            models.Index(fields=["account", "sandbox_id"], name="conv_by_account_sandbox"),
            # Reconciliation: the rows of one account still believed to exist upstream.
            models.Index(fields=["account", "deleted_upstream_at"], name="conv_by_account_deleted"),
        ]

    def __str__(self) -> str:
        return self.title or self.remote_id

    @property
    def is_terminal(self) -> bool:
        """Return True once the agent has stopped for good (finished, error or stuck)."""
        return self.execution_status in {"finished", "error", "stuck"}
