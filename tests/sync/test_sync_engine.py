"""The sync against the fake App Server: what it mirrors, what it costs, how it survives faults."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from apps.conversations.models import Conversation
from apps.sandboxes.models import Sandbox
from apps.sync.engine import run_account_sync
from apps.sync.lease import AccountLease
from apps.sync.models import RateBucket, Resource, SyncLease, SyncProblem, SyncState
from tests.sync.conftest import upstream_state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_sync_settings")]

SEARCH_ROUTES = {"conversations": "/app-conversations/search", "sandboxes": "/sandboxes/search"}


def states_of(account) -> dict[str, SyncState]:
    return {state.resource: state for state in SyncState.objects.filter(account=account)}


def requests_by_route(fake) -> dict[str, int]:
    return {
        route: count for route, count in fake.stats()["by_route"].items() if "/_fake" not in route
    }


def make_full_sync_due(account) -> None:
    SyncState.objects.filter(account=account).update(
        last_full_sync_at=timezone.now() - timedelta(days=1)
    )


def test_first_sync_mirrors_every_record_without_secrets(fake_account, frozen_fake, mirror_matches):
    states = run_account_sync(fake_account.pk)

    assert states is not None
    mirror_matches(fake_account, frozen_fake)
    by_resource = states_of(fake_account)
    for resource in Resource:
        state = by_resource[resource]
        assert state.status == SyncState.Status.OK, state.last_error
        assert state.last_full_sync_at is not None
        assert state.last_requests >= 1
        assert state.last_changed == state.last_seen > 0
    assert by_resource[Resource.CONVERSATIONS].cursor == max(
        row.remote_updated_at for row in Conversation.objects.filter(account=fake_account)
    )
    stored = json.dumps(
        [
            *Conversation.objects.values_list("raw", flat=True),
            *Sandbox.objects.values_list("raw", "exposed_url_names"),
        ]
    )
    assert "session_api_key" not in stored
    assert "sess_" not in stored
    assert "tkn=" not in stored
    assert "conversation_url" not in stored
    running = Sandbox.objects.filter(account=fake_account, status="RUNNING")
    assert running.exists()
    assert all("AGENT_SERVER" in row.exposed_url_names for row in running)


def test_quiet_cycle_costs_one_request_per_resource(fake_account, frozen_fake):
    run_account_sync(fake_account.pk)
    frozen_fake.clear_stats()

    run_account_sync(fake_account.pk)

    assert requests_by_route(frozen_fake) == {
        "GET /api/v1/app-conversations/search": 1,
        "GET /api/v1/sandboxes/search": 1,
    }
    states = states_of(fake_account)
    assert [states[r].last_requests for r in Resource] == [1, 1]
    assert states[Resource.CONVERSATIONS].last_was_full is False


def test_incremental_sync_picks_up_changes_and_reconciliation_marks_deletions(
    fake_account, frozen_fake, mirror_matches
):
    run_account_sync(fake_account.pk)
    conversations, sandboxes = upstream_state(frozen_fake)
    touched, deleted = sorted(conversations)[:2]
    frozen_fake.advance_clock(30)
    frozen_fake.mutate("touch_conversation", conversation_id=touched, title="Renamed upstream")
    frozen_fake.mutate("delete_conversation", conversation_id=deleted)
    added = frozen_fake.mutate("add_conversations", count=2, running=False)["conversation_ids"]
    gone_sandbox = next(s.id for s in sandboxes.values() if s.status != "RUNNING")
    frozen_fake.mutate("delete_sandbox", sandbox_id=gone_sandbox)

    run_account_sync(fake_account.pk)

    assert Conversation.objects.get(remote_id=touched).title == "Renamed upstream"
    assert Conversation.objects.filter(remote_id__in=added).count() == 2
    # Deleted conversations are found only by the (slower) full reconciliation...
    assert Conversation.objects.get(remote_id=deleted).deleted_upstream_at is None
    # ...while the sandbox list is complete on every run.
    assert Sandbox.objects.get(remote_id=gone_sandbox).deleted_upstream_at is not None

    make_full_sync_due(fake_account)
    run_account_sync(fake_account.pk)

    assert Conversation.objects.get(remote_id=deleted).deleted_upstream_at is not None
    assert Conversation.objects.filter(remote_id=deleted).count() == 1  # kept, only marked
    mirror_matches(fake_account, frozen_fake)


def test_reconciliation_clears_the_mark_of_a_record_that_reappears(fake_account, frozen_fake):
    run_account_sync(fake_account.pk)
    row = Conversation.objects.filter(account=fake_account).first()
    Conversation.objects.filter(pk=row.pk).update(deleted_upstream_at=timezone.now())
    make_full_sync_due(fake_account)

    run_account_sync(fake_account.pk)

    row.refresh_from_db()
    assert row.deleted_upstream_at is None


def test_sync_converges_through_faults_without_losing_or_duplicating(
    fake_account, frozen_fake, mirror_matches
):
    search = SEARCH_ROUTES["conversations"]
    frozen_fake.inject_fault(fault="status", path_regex=search, status=503, times=2)
    frozen_fake.inject_fault(fault="reset", path_regex=SEARCH_ROUTES["sandboxes"], times=1)
    frozen_fake.inject_fault(
        fault="malformed_record", path_regex=search, record_index=1, mutation="wrong_types", times=1
    )
    frozen_fake.inject_fault(
        fault="malformed_record",
        path_regex=SEARCH_ROUTES["sandboxes"],
        record_index=0,
        mutation="drop_id",
        times=1,
    )

    run_account_sync(fake_account.pk)  # retries the 503s and the reset, skips damaged records

    states = states_of(fake_account)
    assert states[Resource.CONVERSATIONS].status == SyncState.Status.OK
    assert "malformed" in states[Resource.CONVERSATIONS].last_error
    assert states[Resource.SANDBOXES].status == SyncState.Status.OK
    problems = SyncProblem.objects.filter(account=fake_account)
    assert sorted(problems.values_list("resource", flat=True)) == ["conversations", "sandboxes"]
    assert not Conversation.objects.filter(remote_id="12345").exists()  # no phantom row

    frozen_fake.inject_fault(fault="status", path_regex=search, status=500, times=1)
    run_account_sync(fake_account.pk)
    failed = states_of(fake_account)[Resource.CONVERSATIONS]
    assert failed.status == SyncState.Status.FAILING
    assert failed.consecutive_failures == 1
    assert "500" in failed.last_error

    make_full_sync_due(fake_account)
    run_account_sync(fake_account.pk)

    recovered = states_of(fake_account)[Resource.CONVERSATIONS]
    assert recovered.status == SyncState.Status.OK
    assert recovered.consecutive_failures == 0
    mirror_matches(fake_account, frozen_fake)
    remote_ids = list(Conversation.objects.values_list("remote_id", flat=True))
    assert len(remote_ids) == len(set(remote_ids))


def test_a_429_pauses_the_account_budget_and_the_run_still_succeeds(fake_account, frozen_fake):
    frozen_fake.inject_fault(
        fault="status",
        path_regex=SEARCH_ROUTES["conversations"],
        status=429,
        times=1,
        headers={"Retry-After": "1"},
        body={"error": "Rate limit exceeded: 10 per 1 second"},
    )

    run_account_sync(fake_account.pk)

    bucket = RateBucket.objects.get(key=f"account:{fake_account.pk}")
    assert bucket.paused_until > 0
    assert states_of(fake_account)[Resource.CONVERSATIONS].status == SyncState.Status.OK


def test_a_revoked_key_is_marked_and_not_hammered(fake_account, frozen_fake):
    run_account_sync(fake_account.pk)
    frozen_fake.mutate("revoke_key", api_key=frozen_fake.api_key)
    frozen_fake.clear_stats()

    run_account_sync(fake_account.pk)

    states = states_of(fake_account)
    assert {state.status for state in states.values()} == {SyncState.Status.AUTH_FAILED}
    assert "401" in states[Resource.CONVERSATIONS].last_error
    assert frozen_fake.api_key not in states[Resource.CONVERSATIONS].last_error
    assert sum(requests_by_route(frozen_fake).values()) == 1

    assert run_account_sync(fake_account.pk) is None  # skipped: the key was not edited
    assert sum(requests_by_route(frozen_fake).values()) == 1

    assert run_account_sync(fake_account.pk, force=True) is not None  # an operator's "sync now"
    assert sum(requests_by_route(frozen_fake).values()) == 2

    fake_account.set_api_key(frozen_fake.api_keys[1])  # an admin stores another key
    fake_account.save()
    run_account_sync(fake_account.pk)
    assert states_of(fake_account)[Resource.CONVERSATIONS].status == SyncState.Status.OK


def test_a_second_worker_skips_an_account_being_synced(fake_account, frozen_fake):
    lease = AccountLease(fake_account.pk, ttl=60)
    assert lease.acquire()
    frozen_fake.clear_stats()

    assert run_account_sync(fake_account.pk) is None
    assert requests_by_route(frozen_fake) == {}

    lease.release()
    assert run_account_sync(fake_account.pk) is not None


def test_an_expired_lease_is_taken_over(fake_account):
    stale = AccountLease(fake_account.pk, ttl=60)
    assert stale.acquire()
    SyncLease.objects.filter(account=fake_account).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    successor = AccountLease(fake_account.pk, ttl=60)

    assert successor.acquire()
    assert not stale.renew()


class HidingTransport(httpx.BaseTransport):
    """Hide one conversation from the first search answer, as if its update committed late."""

    def __init__(self, hidden_id: str) -> None:
        self.inner = httpx.HTTPTransport()
        self.hidden_id = hidden_id
        self.hid = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.hid or not request.url.path.endswith("/app-conversations/search"):
            return response
        response.read()
        body = response.json()
        body["items"] = [item for item in body["items"] if item["id"] != self.hidden_id]
        self.hid = True
        return httpx.Response(response.status_code, headers={"content-type": "application/json"},
                              content=json.dumps(body).encode())  # fmt: skip

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize(("overlap", "caught"), [(120.0, True), (10.0, False)])
def test_the_cursor_overlap_catches_a_record_updated_during_a_sync(
    fake_account, frozen_fake, settings, overlap, caught
):
    settings.SYNC_CURSOR_OVERLAP_SECONDS = overlap
    run_account_sync(fake_account.pk)
    conversations, _ = upstream_state(frozen_fake)
    late, other = sorted(conversations)[:2]
    frozen_fake.advance_clock(5)
    frozen_fake.mutate("touch_conversation", conversation_id=late, title="Written during a sync")
    frozen_fake.advance_clock(30)
    frozen_fake.mutate("touch_conversation", conversation_id=other, title="Newest")

    run_account_sync(fake_account.pk, inner_transport=HidingTransport(late))
    assert Conversation.objects.get(remote_id=late).title != "Written during a sync"
    run_account_sync(fake_account.pk)  # quiet: nothing changed upstream since

    assert (Conversation.objects.get(remote_id=late).title == "Written during a sync") is caught


def test_idle_time_comes_from_the_agent_server_or_the_hosted_conversations(
    fake_account, frozen_fake, settings
):
    settings.SYNC_AGENT_PROBE_SECONDS = 300.0
    asked_with_keys: list[str] = []

    def agent_server(request: httpx.Request) -> httpx.Response:
        asked_with_keys.append(request.headers.get("X-Session-API-Key", ""))
        # Idle for 0 s: newer than any conversation update, so the agent server's word wins.
        return httpx.Response(200, json={"idle_time": 0.0, "uptime": 99.0, "version": "1.58.2"})

    before = timezone.now()
    run_account_sync(fake_account.pk, agent_transport=httpx.MockTransport(agent_server))

    running = list(Sandbox.objects.filter(account=fake_account, status="RUNNING"))
    assert running
    assert len(asked_with_keys) == len(running)
    assert all(key.startswith("sess_") for key in asked_with_keys)
    for row in running:
        assert row.idle_source == Sandbox.IdleSource.AGENT_SERVER
        assert before <= row.idle_since <= timezone.now()
    others = Sandbox.objects.filter(account=fake_account).exclude(status="RUNNING")
    for row in others.exclude(idle_since=None):
        hosted = Conversation.objects.filter(account=fake_account, sandbox_id=row.remote_id)
        assert row.idle_source == Sandbox.IdleSource.CONVERSATIONS
        assert row.idle_since == max(c.remote_updated_at for c in hosted)
    assert others.exclude(idle_since=None).exists()
    stored = json.dumps(list(Sandbox.objects.values_list("raw", flat=True)))
    assert not any(key in stored for key in asked_with_keys)
