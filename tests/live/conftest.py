"""The live tier: contract scenarios against the REAL OpenHands App Server and agent server.

App Server scenarios take the ``peer`` fixture, so the same scenario runs against the project's
fake App Server and against the real one (differential testing): where the fake and the real
server disagree, the fake's variant fails.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from apps.openhands import AgentServerClient, AppServerClient, AuthStyle
from apps.openhands.records import Conversation, Event, Sandbox, StartTask
from tests.peers.fake_fixtures import FakeAppServer, FakeAppServerProcess
from tests.peers.live_fixtures import RealAgentServer, RealAppServer, peer_log_tails
from tests.processes import wait_for

FIRST_MESSAGE = "Say hello"
# The real App Server allows 10 requests/s per IP, shared with its agent servers' webhook posts;
# polling every 0.5 s keeps the tests far below it.
POLL_INTERVAL = 0.5
# A new sandbox plus conversation takes 8-10 s on an idle 2-core machine, 25-35 s on a busy one.
START_TIMEOUT = 90.0
FINISH_TIMEOUT = 60.0
# The fake's agent works to a schedule in fake time: a first turn lasts 2 fake minutes.
FAKE_TURN_SECONDS = 300


@dataclass(frozen=True)
class AppServerPeer:
    """One App Server the scenarios run against: the fake or the real one."""

    name: str
    base_url: str
    api_key: str = field(repr=False)
    auth_style: AuthStyle
    # The fake's control handle; None for the real server, whose agents run in real time.
    fake: FakeAppServer | None = field(default=None, repr=False)

    def client(self, **overrides: Any) -> AppServerClient:
        """Return a client for this server; keyword arguments replace the defaults."""
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "api_key": self.api_key,
            "auth_style": self.auth_style,
            **overrides,
        }
        return AppServerClient(**options)

    def finish_turn(self, app: AppServerClient, conversation_id: str, message: str) -> None:
        """Let the agent answer ``message`` and wait until the App Server stored the whole turn.

        The fake shows a turn's events as soon as its clock has passed them. The real server
        receives them by webhook from the agent server, a second or two after the agent is done.
        """
        if self.fake is not None:
            self.fake.advance_clock(FAKE_TURN_SECONDS)
        app.wait_until_terminal(
            conversation_id, timeout=FINISH_TIMEOUT, poll_interval=POLL_INTERVAL
        )
        if self.fake is None:
            wait_for(
                lambda: real_turn_stored(list(app.iter_events(conversation_id)), message),
                timeout=FINISH_TIMEOUT,
                what=f"conversation {conversation_id}'s answer to {message!r} to be stored",
                interval=POLL_INTERVAL,
            )


@dataclass(frozen=True)
class FinishedConversation:
    """A conversation started with FIRST_MESSAGE that has finished and whose events are stored."""

    first_task: StartTask
    ready_task: StartTask
    conversation: Conversation
    events: list[Event]


def message_text(event: Event) -> str:
    """Return the text of a MessageEvent's first content item."""
    return event.raw["llm_message"]["content"][0]["text"]


def real_turn_stored(events: list[Event], message: str) -> bool:
    """Tell whether the real server stored the turn answering ``message``.

    The agent server ends each turn with a ``full_state`` snapshot posted after the agent's
    reply, so the turn is complete once that snapshot is the newest stored event.
    """
    asked = [
        position
        for position, event in enumerate(events)
        if event.kind == "MessageEvent"
        and event.source == "user"
        and message_text(event) == message
    ]
    if not asked:
        return False
    answered = any(
        event.kind == "MessageEvent" and event.source == "agent" for event in events[asked[-1] :]
    )
    return answered and events[-1].raw.get("key") == "full_state"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Attach the tails of the peer servers' logs to the report of a failed live test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("live") is not None:
        tails = peer_log_tails()
        if tails:
            report.sections.append(("peer server logs (tails)", tails))


@pytest.fixture(scope="session")
def contract_fake_app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAppServer]:
    """Run a fake App Server set up like the real one: empty, with a shared session key.

    Its rate limit is off: the fake answers 429 where the real server only delays (tested with
    the client's unit tests), and retries would only slow this tier down.
    """
    process = FakeAppServerProcess.start(
        ["--scenario", "empty", "--auth", "session_key", "--no-rate-limit"],
        api_keys=[secrets.token_urlsafe(24)],
        log_dir=tmp_path_factory.mktemp("contract-fake-app-server"),
    )
    server = FakeAppServer(process)
    yield server
    server.close()
    process.stop()


@pytest.fixture(scope="session", params=["fake", pytest.param("real", marks=pytest.mark.live)])
def peer(request: pytest.FixtureRequest) -> AppServerPeer:
    """Run the scenario against the fake App Server, then against the real one."""
    if request.param == "fake":
        fake: FakeAppServer = request.getfixturevalue("contract_fake_app_server")
        return AppServerPeer("fake", fake.base_url, fake.api_key, AuthStyle.SESSION_KEY, fake)
    real: RealAppServer = request.getfixturevalue("real_app_server")
    return AppServerPeer("real", real.base_url, real.api_key, AuthStyle(real.auth_style))


@pytest.fixture(scope="session")
def app(peer: AppServerPeer) -> Iterator[AppServerClient]:
    """Return a client of the peer App Server, authenticated with its key."""
    with peer.client() as client:
        yield client


@pytest.fixture(scope="session")
def finished_conversation(peer: AppServerPeer, app: AppServerClient) -> FinishedConversation:
    """Start one conversation per peer, wait until it finished and its events were stored."""
    first_task = app.start_conversation(message=FIRST_MESSAGE)
    ready_task = app.wait_for_start_task(
        first_task.id, timeout=START_TIMEOUT, poll_interval=POLL_INTERVAL
    )
    assert ready_task.is_ready, f"start task ended {ready_task.status}: {ready_task.detail}"
    conversation_id = ready_task.app_conversation_id
    peer.finish_turn(app, conversation_id, FIRST_MESSAGE)
    return FinishedConversation(
        first_task=first_task,
        ready_task=ready_task,
        conversation=app.get_conversation(conversation_id),
        events=list(app.iter_events(conversation_id)),
    )


def wait_for_sandbox_status(app: AppServerClient, sandbox_id: str, status: str) -> Sandbox:
    """Poll a sandbox until it reports ``status``; return it."""

    def sandbox_in_status() -> Sandbox | None:
        sandbox = app.get_sandbox(sandbox_id)
        return sandbox if sandbox.status == status else None

    return wait_for(
        sandbox_in_status,
        timeout=START_TIMEOUT,
        what=f"sandbox {sandbox_id} to be {status}",
        interval=POLL_INTERVAL,
    )


@pytest.fixture
def agent(real_agent_server: RealAgentServer) -> Iterator[AgentServerClient]:
    """Return a client of the real standalone agent server, with its session key."""
    with AgentServerClient(real_agent_server.base_url, real_agent_server.session_api_key) as client:
        yield client


@pytest.fixture
def agent_workspace(real_agent_server: RealAgentServer, request: pytest.FixtureRequest) -> Path:
    """Return a fresh folder inside the real agent server's workspace, named after the test."""
    folder = real_agent_server.workspace / re.sub(r"[^\w.-]", "_", request.node.name)
    folder.mkdir()
    return folder
