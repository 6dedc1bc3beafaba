"""The overview page's figures, read from the local mirror (never from the App Server)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum

from apps.accounts.access import accounts_for_user
from apps.accounts.models import CloudAccount
from apps.conversations.models import Conversation
from apps.sandboxes.models import Sandbox

_LIVE = Q(deleted_upstream_at__isnull=True)


@dataclass
class AccountSummary:
    account: CloudAccount
    conversations: int = 0
    running_conversations: int = 0
    cost: float = 0.0
    sandboxes_running: int = 0
    sandboxes_paused: int = 0
    sandbox_statuses: dict[str, int] = field(default_factory=dict)


def account_summaries(user) -> list[AccountSummary]:
    """Return one summary per account the user may see: two grouped queries in all."""
    summaries = {
        account.pk: AccountSummary(account) for account in accounts_for_user(user).order_by("name")
    }
    conversation_rows = (
        Conversation.objects.filter(_LIVE, account__in=summaries)
        .values("account")
        .annotate(
            total=Count("pk"),
            running=Count("pk", filter=Q(execution_status="running")),
            cost=Sum("accumulated_cost"),
        )
    )
    for row in conversation_rows:
        summary = summaries[row["account"]]
        summary.conversations = row["total"]
        summary.running_conversations = row["running"]
        summary.cost = row["cost"] or 0.0
    sandbox_rows = (
        Sandbox.objects.filter(_LIVE, account__in=summaries)
        .values("account", "status")
        .annotate(total=Count("pk"))
    )
    for row in sandbox_rows:
        summaries[row["account"]].sandbox_statuses[row["status"]] = row["total"]
    for summary in summaries.values():
        summary.sandboxes_running = summary.sandbox_statuses.get("RUNNING", 0)
        summary.sandboxes_paused = summary.sandbox_statuses.get("PAUSED", 0)
    return list(summaries.values())
