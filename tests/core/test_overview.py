from __future__ import annotations

import pytest
from django.utils import timezone

from apps.conversations.models import Conversation
from apps.sandboxes.models import Sandbox


def mirror_conversation(account, remote_id: str, **fields) -> None:
    now = timezone.now()
    Conversation.objects.create(
        account=account, remote_id=remote_id, first_seen_at=now, last_synced_at=now, **fields
    )


def mirror_sandbox(account, remote_id: str, status: str, **fields) -> None:
    now = timezone.now()
    Sandbox.objects.create(
        account=account, remote_id=remote_id, status=status, first_seen_at=now,
        last_synced_at=now, **fields,
    )  # fmt: skip


@pytest.fixture
def mirrored(persona_account):
    account, gone = persona_account, timezone.now()
    mirror_conversation(account, "a" * 32, execution_status="running", accumulated_cost=1.25)
    mirror_conversation(account, "b" * 32, execution_status="finished", accumulated_cost=0.5)
    mirror_conversation(account, "c" * 32, accumulated_cost=100.0, deleted_upstream_at=gone)
    mirror_sandbox(account, "sbx-running", "RUNNING")
    mirror_sandbox(account, "sbx-paused", "PAUSED")
    mirror_sandbox(account, "sbx-gone", "RUNNING", deleted_upstream_at=gone)
    return account


@pytest.mark.django_db
def test_the_overview_sums_the_mirror_per_account(victor_client, mirrored):
    response = victor_client.get("/")
    summary = response.context["summaries"][0]
    assert summary.account == mirrored
    # Rows deleted upstream stay in the mirror but do not count as current.
    assert (summary.conversations, summary.running_conversations) == (2, 1)
    assert summary.cost == pytest.approx(1.75)
    assert (summary.sandboxes_running, summary.sandboxes_paused) == (1, 1)
    assert b"$1.75" in response.content


@pytest.mark.django_db
def test_the_overview_costs_a_fixed_number_of_queries(
    victor_client, mirrored, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        victor_client.get("/")


@pytest.mark.django_db
def test_outsiders_see_no_account(charlie_client, mirrored):
    response = charlie_client.get("/")
    assert response.context["summaries"] == []
    assert b"not a member of any Cloud account" in response.content
