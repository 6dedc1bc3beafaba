"""Fixtures of the sync tests: the fake App Server, the personas, and accounts aimed at the fake."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apps.accounts.models import CloudAccount
from apps.conversations.models import Conversation
from apps.openhands import AppServerClient
from apps.sandboxes.models import Sandbox
from tests.peers.fake_fixtures import *  # noqa: F403
from tests.peers.fake_fixtures import FakeAppServer
from tests.personas import *  # noqa: F403


def make_account(fake: FakeAppServer, *, name: str = "Fake Cloud", key_index: int = 0):
    """Create a Cloud account that talks to `fake` with its API key number `key_index`."""
    account = CloudAccount(name=name, base_url=fake.base_url)
    account.set_api_key(fake.api_keys[key_index])
    account.save()
    return account


@pytest.fixture
def frozen_fake(fake_app_server: FakeAppServer) -> FakeAppServer:
    """Return the demo fake with its clock frozen, so upstream changes only when told to."""
    fake_app_server.reset(frozen_clock=True)
    return fake_app_server


@pytest.fixture
def fake_account(db, frozen_fake: FakeAppServer) -> CloudAccount:
    return make_account(frozen_fake)


@pytest.fixture
def fast_sync_settings(settings):
    """Make the sync wait for nothing: a generous budget, and no agent-server probes."""
    settings.REDIS_URL = None
    settings.SYNC_RATE_PER_MINUTE = 60_000.0
    settings.SYNC_RATE_BURST = 1000
    settings.SYNC_AGENT_PROBE_SECONDS = 0.0
    return settings


def upstream_state(fake: FakeAppServer, key_index: int = 0) -> tuple[dict, dict]:
    """Return the upstream conversations and sandboxes by id, read directly (no budget)."""
    with AppServerClient(fake.base_url, api_key=fake.api_keys[key_index]) as client:
        conversations = {c.id: c for c in client.iter_conversations(include_sub_conversations=True)}
        sandboxes = {s.id: s for s in client.iter_sandboxes()}
    return conversations, sandboxes


def assert_mirror_matches(account: CloudAccount, fake: FakeAppServer, key_index: int = 0) -> None:
    """Fail unless the live mirror rows of `account` are exactly the upstream records."""
    conversations, sandboxes = upstream_state(fake, key_index)
    rows = Conversation.objects.filter(account=account, deleted_upstream_at__isnull=True)
    local = {row.remote_id: row for row in rows}
    assert set(local) == set(conversations)
    for remote_id, record in conversations.items():
        assert local[remote_id].title == (record.title or "")
        assert local[remote_id].remote_updated_at == record.updated_at
        assert local[remote_id].execution_status == (record.execution_status or "")
    local_sandboxes = {
        row.remote_id: row
        for row in Sandbox.objects.filter(account=account, deleted_upstream_at__isnull=True)
    }
    assert {key: row.status for key, row in local_sandboxes.items()} == {
        key: record.status for key, record in sandboxes.items()
    }


@pytest.fixture
def mirror_matches() -> Callable[..., None]:
    return assert_mirror_matches
