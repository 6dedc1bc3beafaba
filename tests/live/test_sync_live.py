"""The sync engine against the REAL App Server and the real agent server of its sandbox.

One finished conversation (shared with the other live tests) is mirrored by a direct call of
the engine (no Celery): the rows must hold what the real server reports, nothing secret, and
the sandbox's idle time must come from its agent server's ``server_info.idle_time``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from django.utils import timezone

from apps.accounts.models import CloudAccount
from apps.conversations.models import Conversation
from apps.openhands import AgentServerClient, AppServerClient
from apps.sandboxes.models import Sandbox
from apps.sync.engine import run_account_sync
from apps.sync.models import SyncProblem, SyncState
from tests.live.conftest import AppServerPeer, FinishedConversation

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db,
    pytest.mark.parametrize("peer", ["real"], indirect=True),
]


@dataclass(frozen=True)
class AgentCall:
    """One request the sync sent to an agent server, and what came back."""

    url: str
    session_key: str
    status_code: int
    body: object


class RecordingTransport(httpx.BaseTransport):
    """Send requests to the real agent servers and keep a copy of each answer."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.calls: list[AgentCall] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.calls.append(
            AgentCall(
                url=str(request.url),
                session_key=request.headers.get("X-Session-API-Key", ""),
                status_code=response.status_code,
                body=response.json() if response.status_code == 200 else None,
            )
        )
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def sync_settings(settings):
    """Use the default budget (below the real server's 10 requests/s) and probe agent servers."""
    settings.REDIS_URL = None
    settings.SYNC_RATE_PER_MINUTE = 80.0
    settings.SYNC_RATE_BURST = 8
    settings.SYNC_AGENT_PROBE_SECONDS = 300.0
    return settings


def stored_rows_text() -> str:
    """Return every row the sync writes (raw JSON included) as one text to search."""
    rows = [
        *Conversation.objects.values(),
        *Sandbox.objects.values(),
        *SyncState.objects.values(),
        *SyncProblem.objects.values(),
    ]
    return json.dumps(rows, default=str)


@pytest.mark.usefixtures("sync_settings")
def test_the_sync_mirrors_the_real_server_without_secrets(
    peer: AppServerPeer, app: AppServerClient, finished_conversation: FinishedConversation
) -> None:
    conversation_id = finished_conversation.conversation.id
    sandbox = app.get_sandbox(finished_conversation.conversation.sandbox_id)
    assert sandbox.status == "RUNNING"
    # A command in the sandbox makes its agent server's last activity newer than the
    # conversation's last update, so the idle time can only have come from the agent server.
    with AgentServerClient.for_sandbox(sandbox) as agent:
        assert agent.execute_bash("true").exit_code == 0
    account = CloudAccount(
        name="Real App Server", base_url=peer.base_url, auth_style=peer.auth_style.value
    )
    account.set_api_key(peer.api_key)
    account.save()
    agent_transport = RecordingTransport()

    states = run_account_sync(account.pk, agent_transport=agent_transport)

    assert states is not None
    assert {state.resource: state.status for state in states} == {
        "conversations": SyncState.Status.OK,
        "sandboxes": SyncState.Status.OK,
    }, [state.last_error for state in states]
    upstream = app.get_conversation(conversation_id)
    row = Conversation.objects.get(account=account, remote_id=conversation_id)
    assert_conversation_mirrored(row, upstream)
    sandbox_row = Sandbox.objects.get(account=account, remote_id=sandbox.id)
    assert sandbox_row.status == "RUNNING"
    assert sandbox_row.exposed_url_names == [exposed.name for exposed in sandbox.exposed_urls]
    assert "AGENT_SERVER" in sandbox_row.exposed_url_names
    assert sandbox_row.remote_created_at == sandbox.created_at

    agent_url = sandbox.agent_server_url
    secrets = {
        "the App Server key": peer.api_key,
        "the sandbox session key": sandbox.session_api_key,
        "the conversation session key": upstream.session_api_key,
        "the agent server URL": agent_url,
        "the agent server address": urlsplit(agent_url).netloc,
        "the conversation URL": upstream.conversation_url,
        **{f"the exposed URL {e.name}": e.url for e in sandbox.exposed_urls},
    }
    stored = stored_rows_text()
    assert all(secrets.values()), "the real server no longer sends a value this test looks for"
    leaked = [what for what, value in secrets.items() if value in stored]
    assert leaked == [], f"stored in the mirror: {', '.join(leaked)}"
    assert "session_api_key" not in stored

    assert_idle_time_from_the_agent_server(sandbox_row, row, agent_transport, sandbox)


def assert_conversation_mirrored(row: Conversation, upstream) -> None:
    """Fail unless the row holds what the real server reports about the conversation."""
    metrics = upstream.metrics
    assert metrics is not None
    assert metrics.prompt_tokens > 0
    assert (row.title, row.execution_status) == (upstream.title or "", "finished")
    assert (row.sandbox_id, row.sandbox_status) == (upstream.sandbox_id, "RUNNING")
    assert row.llm_model == upstream.llm_model == "openai/fake"
    assert (row.remote_created_at, row.remote_updated_at) == (
        upstream.created_at,
        upstream.updated_at,
    )
    assert {
        "accumulated_cost": row.accumulated_cost,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "reasoning_tokens": row.reasoning_tokens,
    } == {
        "accumulated_cost": metrics.accumulated_cost,
        "prompt_tokens": metrics.prompt_tokens,
        "completion_tokens": metrics.completion_tokens,
        "cache_read_tokens": metrics.cache_read_tokens,
        "reasoning_tokens": metrics.reasoning_tokens,
    }


def assert_idle_time_from_the_agent_server(
    sandbox_row: Sandbox, conversation_row: Conversation, transport: RecordingTransport, sandbox
) -> None:
    """Fail unless the row's idle_since is the agent server's answer, asked with a fresh key."""
    calls = [call for call in transport.calls if call.url.startswith(sandbox.agent_server_url)]
    assert [urlsplit(call.url).path for call in calls] == ["/server_info"]
    (call,) = calls
    assert call.status_code == 200
    assert call.session_key == sandbox.session_api_key
    idle_time = call.body["idle_time"]
    assert isinstance(idle_time, int | float)
    assert sandbox_row.idle_source == Sandbox.IdleSource.AGENT_SERVER
    assert sandbox_row.agent_checked_at is not None
    expected = sandbox_row.agent_checked_at - timedelta(seconds=float(idle_time))
    assert abs(sandbox_row.idle_since - expected) < timedelta(milliseconds=1)
    assert sandbox_row.idle_since > conversation_row.remote_updated_at
    assert sandbox_row.idle_since <= timezone.now()
