"""Every AgentServerClient endpoint method, the session-key header, the command timeout, and
the fallback to the path-style file routes of agent servers older than 1.14."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from apps.openhands import AgentServerClient, ConflictError, NotFoundError, ServerError
from apps.openhands.records import BashCommand, BashOutput, Event, GitChange, Page, Sandbox
from tests.openhands.support import (
    AGENT,
    CONVERSATION_ID,
    SESSION_KEY,
    Endpoint,
    FakeClock,
    agent_client,
    agent_router,
    body,
    call_endpoint,
    event_json,
    page,
    query,
    sandbox_json,
)

REMOTE = "/workspace/project/notes/a b.txt"
LEGACY_DOWNLOAD = "/api/file/download//workspace/project/notes/a%20b.txt"
LEGACY_UPLOAD = "/api/file/upload//workspace/project/notes/a%20b.txt"
ROUTE_MISSING = {"detail": "Not Found"}
FILE_MISSING = {"detail": "File not found"}
MESSAGE_EVENT_PATH = "openhands.sdk.event.llm_convertible.message.MessageEvent"
VSCODE_DISABLED = {
    "detail": "VSCode is disabled in configuration. Set enable_vscode=true to enable."
}


@pytest.fixture
def router() -> respx.MockRouter:
    """Fake the agent server instead of the App Server (conftest's `router`)."""
    return agent_router()


@pytest.fixture
def agent(router: respx.MockRouter, clock: FakeClock) -> Iterator[AgentServerClient]:
    with agent_client(router, clock) as agent:
        yield agent


BASH_OUTPUT = {
    "id": "o1",
    "command_id": "c533",
    "order": 0,
    "exit_code": 3,
    "stdout": "hi\n/tmp\n",
    "stderr": "err\n",
    "kind": "BashOutput",
    "timestamp": "2026-01-27T10:00:00",
}
BASH_COMMAND = {
    "id": "c533",
    "command": "sleep 60",
    "cwd": "/tmp",
    "timeout": 90,
    "kind": "BashCommand",
    "timestamp": "2026-01-27T10:00:00",
}

ENDPOINTS = {
    "server_info": Endpoint(
        lambda a: a.server_info(),
        "GET",
        "/server_info",
        [],
        None,
        {"uptime": 12.5, "idle_time": 3.0, "version": "1.58.2"},
        lambda result: result["idle_time"] == 3.0,
    ),
    "execute_bash": Endpoint(
        lambda a: a.execute_bash("echo hi; exit 3", cwd="/tmp", timeout=20),
        "POST",
        "/api/bash/execute_bash_command",
        [],
        {"command": "echo hi; exit 3", "cwd": "/tmp", "timeout": 20},
        BASH_OUTPUT,
        lambda result: isinstance(result, BashOutput) and result.exit_code == 3,
    ),
    "start_bash": Endpoint(
        lambda a: a.start_bash("sleep 60", cwd="/tmp", timeout=90),
        "POST",
        "/api/bash/start_bash_command",
        [],
        {"command": "sleep 60", "cwd": "/tmp", "timeout": 90},
        BASH_COMMAND,
        lambda result: isinstance(result, BashCommand) and result.timeout == 90,
    ),
    "search_bash_events": Endpoint(
        lambda a: a.search_bash_events(command_id="c533", kind="BashOutput", limit=10, page_id="p"),
        "GET",
        "/api/bash/bash_events/search",
        [("command_id__eq", "c533"), ("kind__eq", "BashOutput"), ("limit", "10"), ("page_id", "p")],
        None,
        page([BASH_OUTPUT]),
        lambda result: isinstance(result, Page) and result.items[0]["exit_code"] == 3,
    ),
    "stop_bash": Endpoint(
        lambda a: a.stop_bash("c533"),
        "POST",
        "/api/bash/bash_commands/c533/stop",
        [],
        None,
        {"success": True},
        lambda result: result is True,
    ),
    "create_directory": Endpoint(
        lambda a: a.create_directory("/workspace/project/new"),
        "POST",
        "/api/file/create_directory",
        [("path", "/workspace/project/new")],
        None,
        {"success": True},
        lambda result: result is True,
    ),
    "search_subdirs": Endpoint(
        lambda a: a.search_subdirs("/workspace", limit=20),
        "GET",
        "/api/file/search_subdirs",
        [("limit", "20"), ("path", "/workspace")],
        None,
        page([{"name": "project", "path": "/workspace/project"}]),
        lambda result: result.items[0]["name"] == "project",
    ),
    "workspace_home": Endpoint(
        lambda a: a.workspace_home(),
        "GET",
        "/api/file/home",
        [],
        None,
        {"home": "/root", "favorites": [], "locations": [{"label": "/", "path": "/"}]},
        lambda result: result["home"] == "/root",
    ),
    "git_changes": Endpoint(
        lambda a: a.git_changes("/workspace/project", ref="HEAD"),
        "GET",
        "/api/git/changes",
        [("path", "/workspace/project"), ("ref", "HEAD")],
        None,
        [{"status": "UPDATED", "path": "a.txt"}, {"status": "ADDED", "path": "d.txt"}],
        lambda result: result == [GitChange("UPDATED", "a.txt"), GitChange("ADDED", "d.txt")],
    ),
    "git_diff": Endpoint(
        lambda a: a.git_diff("/workspace/project/a.txt"),
        "GET",
        "/api/git/diff",
        [("path", "/workspace/project/a.txt")],
        None,
        {"modified": "line1\nline2 changed", "original": "line1\nline2"},
        lambda result: result["original"] == "line1\nline2",
    ),
    "git_commits": Endpoint(
        lambda a: a.git_commits("/workspace/project", limit=5),
        "GET",
        "/api/git/commits",
        [("limit", "5"), ("path", "/workspace/project")],
        None,
        {"commits": [{"sha": "abc", "subject": "init"}], "has_more": False},
        lambda result: result["commits"][0]["sha"] == "abc",
    ),
    "vscode_url": Endpoint(
        lambda a: a.vscode_url(base_url="https://vscode.test", workspace_dir="workspace"),
        "GET",
        "/api/vscode/url",
        [("base_url", "https://vscode.test"), ("workspace_dir", "workspace")],
        None,
        {"url": "https://vscode.test/?tkn=abc&folder=workspace"},
        lambda result: result == "https://vscode.test/?tkn=abc&folder=workspace",
    ),
    "vscode_url_when_not_running": Endpoint(
        lambda a: a.vscode_url(),
        "GET",
        "/api/vscode/url",
        [],
        None,
        {"url": None},
        lambda result: result is None,
    ),
    "search_conversation_events": Endpoint(
        lambda a: a.search_conversation_events(CONVERSATION_ID, kind="MessageEvent", limit=5),
        "GET",
        f"/api/conversations/{CONVERSATION_ID}/events/search",
        [("kind", MESSAGE_EVENT_PATH), ("limit", "5")],
        None,
        page([event_json()], "5"),
        lambda result: isinstance(result.items[0], Event) and result.next_page_id == "5",
    ),
    "count_conversation_events": Endpoint(
        lambda a: a.count_conversation_events(CONVERSATION_ID),
        "GET",
        f"/api/conversations/{CONVERSATION_ID}/events/count",
        [],
        None,
        34,
        lambda result: result == 34,
    ),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_each_endpoint_sends_the_documented_request_with_the_session_key(
    agent: AgentServerClient, router: respx.MockRouter, endpoint: Endpoint[AgentServerClient]
) -> None:
    request = call_endpoint(agent, router, endpoint)
    assert request.headers["x-session-api-key"] == SESSION_KEY
    assert "authorization" not in request.headers


def test_health_is_true_when_the_server_answers(
    agent: AgentServerClient, router: respx.MockRouter
) -> None:
    route = router.get("/health").respond(json={"status": "ok"})
    assert agent.health() is True
    assert route.calls.last.request.headers["x-session-api-key"] == SESSION_KEY


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.Response(503, json={"status": "down"})]
)
def test_health_is_false_at_once_when_the_server_does_not_answer(
    agent: AgentServerClient, router: respx.MockRouter, clock: FakeClock, failure
) -> None:
    route = router.get("/health").mock(side_effect=[failure])
    assert agent.health() is False
    assert route.call_count == 1
    assert clock.waits == []


def test_a_client_without_a_key_sends_no_key_header(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.get("/server_info").respond(json={})
    with agent_client(router, clock, session_api_key=None) as agent:
        agent.server_info()
    assert "x-session-api-key" not in route.calls.last.request.headers


# Bash timeouts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("command_timeout", "read_timeout"), [(10, 40.0), (None, 330.0)])
def test_execute_bash_waits_longer_than_the_command(
    agent: AgentServerClient,
    router: respx.MockRouter,
    command_timeout: int | None,
    read_timeout: float,
) -> None:
    route = router.post("/api/bash/execute_bash_command").respond(json=BASH_OUTPUT)
    agent.execute_bash("make test", timeout=command_timeout)
    assert route.calls.last.request.extensions["timeout"]["read"] == read_timeout
    assert body(route.calls.last.request) == (
        {"command": "make test"}
        if command_timeout is None
        else {"command": "make test", "timeout": command_timeout}
    )


def test_execute_bash_is_never_repeated_on_a_server_error(
    agent: AgentServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.post("/api/bash/execute_bash_command").respond(502)
    with pytest.raises(ServerError):
        agent.execute_bash("rm -rf build")
    assert route.call_count == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.execute_bash(""),
        lambda a: a.execute_bash("ls", timeout=0),
        lambda a: a.download_file("relative/path.txt", io.BytesIO()),
        lambda a: a.upload_file("relative.txt", io.BytesIO(b"x")),
        lambda a: a.search_subdirs("/", limit=500),
        lambda a: a.stop_bash(""),
    ],
)
def test_bad_arguments_fail_before_any_request(
    agent: AgentServerClient, router: respx.MockRouter, call
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages differ per argument
        call(agent)
    assert router.calls.call_count == 0


# Conversation events and VS Code -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "sent"),
    [
        # Agent servers before 1.58 filter on the class path only: short names are mapped.
        ("MessageEvent", MESSAGE_EVENT_PATH),
        (
            "ConversationStateUpdateEvent",
            "openhands.sdk.event.conversation_state.ConversationStateUpdateEvent",
        ),
        ("ServerErrorEvent", "openhands.agent_server.models.ServerErrorEvent"),
        (MESSAGE_EVENT_PATH, MESSAGE_EVENT_PATH),
        # A kind newer than the client only exists on servers that accept bare names.
        ("QuantumEntanglementEvent", "QuantumEntanglementEvent"),
    ],
)
def test_event_kind_filters_are_sent_as_sdk_class_paths(
    agent: AgentServerClient, router: respx.MockRouter, kind: str, sent: str
) -> None:
    events_path = f"/api/conversations/{CONVERSATION_ID}/events"
    search = router.get(f"{events_path}/search").respond(json=page([event_json()], None))
    count = router.get(f"{events_path}/count").respond(json=7)

    assert len(agent.search_conversation_events(CONVERSATION_ID, kind=kind).items) == 1
    assert agent.count_conversation_events(CONVERSATION_ID, kind=kind) == 7

    assert search.calls.last.request.url.params["kind"] == sent
    assert count.calls.last.request.url.params["kind"] == sent


def test_vscode_url_is_none_at_once_when_vscode_is_disabled(
    agent: AgentServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.get("/api/vscode/url").respond(503, json=VSCODE_DISABLED)

    assert agent.vscode_url() is None
    assert route.call_count == 1
    assert clock.waits == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, text="upstream unavailable"),
        httpx.Response(500, json={"detail": "Failed to get VSCode URL"}),
    ],
    ids=["503 from a gateway", "500"],
)
def test_vscode_url_raises_other_failures(
    agent: AgentServerClient, router: respx.MockRouter, answer: httpx.Response
) -> None:
    router.get("/api/vscode/url").mock(return_value=answer)

    with pytest.raises(ServerError) as failed:
        agent.vscode_url()

    assert failed.value.status_code == answer.status_code
    assert SESSION_KEY not in str(failed.value)


# Files ------------------------------------------------------------------------------------

CONTENT = b"hello agent server\n" * 5000


def _uploaded(request: httpx.Request) -> tuple[str, bytes]:
    """Return the filename and bytes of the multipart field `file`."""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    for part in request.content.split(b"--" + boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            filename = head.split(b'filename="')[1].split(b'"')[0].decode()
            return filename, data[: -len(b"\r\n")]
    raise AssertionError("no file field")


def test_upload_posts_the_file_as_multipart_to_the_query_route(
    agent: AgentServerClient, router: respx.MockRouter, tmp_path
) -> None:
    local = tmp_path / "local.txt"
    local.write_bytes(CONTENT)
    route = router.post("/api/file/upload").respond(
        json={"success": True, "file_size": len(CONTENT)}
    )
    assert agent.upload_file(REMOTE, local) == len(CONTENT)
    request = route.calls.last.request
    assert query(request) == [("path", REMOTE)]
    assert request.headers["x-session-api-key"] == SESSION_KEY
    assert _uploaded(request) == ("a b.txt", CONTENT)
    assert route.calls.last.request.extensions["timeout"]["read"] == 60.0


def test_upload_counts_bytes_when_the_server_does_not(
    agent: AgentServerClient, router: respx.MockRouter
) -> None:
    router.post("/api/file/upload").respond(json={"success": True})
    assert agent.upload_file(REMOTE, io.BytesIO(CONTENT), filename="x.bin") == len(CONTENT)


@pytest.mark.parametrize(
    "old_answer",
    [httpx.Response(404, json=ROUTE_MISSING), httpx.Response(307, headers={"location": "/x/"})],
)
def test_upload_falls_back_to_the_path_route_on_old_servers(
    agent: AgentServerClient, router: respx.MockRouter, old_answer: httpx.Response
) -> None:
    current = router.post("/api/file/upload").mock(return_value=old_answer)
    legacy = router.post(url=f"{AGENT}{LEGACY_UPLOAD}").respond(json={"success": True})
    source = io.BytesIO(CONTENT)
    assert agent.upload_file(REMOTE, source) == len(CONTENT)
    assert current.call_count == 1
    assert legacy.call_count == 1
    # The stream was rewound for the second attempt: the whole file went both times.
    assert _uploaded(current.calls.last.request)[1] == CONTENT
    assert _uploaded(legacy.calls.last.request)[1] == CONTENT


class Pipe(io.RawIOBase):
    """A readable stream that cannot seek, like a pipe or a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_upload_from_a_pipe_counts_what_was_sent(
    agent: AgentServerClient, router: respx.MockRouter
) -> None:
    route = router.post("/api/file/upload").respond(json={"success": True})
    assert agent.upload_file(REMOTE, Pipe(CONTENT)) == len(CONTENT)
    assert _uploaded(route.calls.last.request)[1] == CONTENT


def test_upload_from_a_pipe_cannot_fall_back(
    agent: AgentServerClient, router: respx.MockRouter
) -> None:
    router.post("/api/file/upload").respond(404, json=ROUTE_MISSING)
    legacy = router.post(url=f"{AGENT}{LEGACY_UPLOAD}").respond(json={"success": True})
    with pytest.raises(ValueError, match="cannot be rewound"):
        agent.upload_file(REMOTE, Pipe(CONTENT))
    assert legacy.call_count == 0


def test_download_streams_the_file_to_disk(
    agent: AgentServerClient, router: respx.MockRouter, tmp_path
) -> None:
    route = router.get("/api/file/download").respond(
        content=CONTENT, headers={"content-type": "application/octet-stream"}
    )
    dest = tmp_path / "a.txt"
    result = agent.download_file(REMOTE, dest)
    assert query(route.calls.last.request) == [("path", REMOTE)]
    assert dest.read_bytes() == CONTENT
    assert (result.path, result.size) == (dest, len(CONTENT))
    assert result.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert not (tmp_path / "a.txt.part").exists()


def test_download_into_a_binary_stream(agent: AgentServerClient, router: respx.MockRouter) -> None:
    router.get("/api/file/download").respond(content=CONTENT)
    target = io.BytesIO()
    result = agent.download_file(REMOTE, target)
    assert target.getvalue() == CONTENT
    assert result.path is None
    assert result.size == len(CONTENT)


def test_download_of_a_missing_file_does_not_try_the_old_route(
    agent: AgentServerClient, router: respx.MockRouter, tmp_path
) -> None:
    router.get("/api/file/download").respond(404, json=FILE_MISSING)
    legacy = router.get(url=f"{AGENT}{LEGACY_DOWNLOAD}").respond(content=b"")
    with pytest.raises(NotFoundError, match="File not found"):
        agent.download_file(REMOTE, tmp_path / "a.txt")
    assert legacy.call_count == 0
    assert list(tmp_path.iterdir()) == []


def test_download_falls_back_to_the_path_route_on_old_servers(
    agent: AgentServerClient, router: respx.MockRouter, tmp_path
) -> None:
    router.get("/api/file/download").respond(404, json=ROUTE_MISSING)
    legacy = router.get(url=f"{AGENT}{LEGACY_DOWNLOAD}").respond(content=CONTENT)
    result = agent.download_file(REMOTE, tmp_path / "a.txt")
    assert legacy.call_count == 1
    assert legacy.calls.last.request.headers["x-session-api-key"] == SESSION_KEY
    assert result.size == len(CONTENT)


def test_download_missing_on_both_routes_is_not_found(
    agent: AgentServerClient, router: respx.MockRouter, tmp_path
) -> None:
    router.get("/api/file/download").respond(404, json=ROUTE_MISSING)
    legacy = router.get(url=f"{AGENT}{LEGACY_DOWNLOAD}").respond(404, json=FILE_MISSING)
    with pytest.raises(NotFoundError):
        agent.download_file(REMOTE, tmp_path / "a.txt")
    assert legacy.call_count == 1
    assert list(tmp_path.iterdir()) == []


def test_git_changes_fall_back_to_the_path_route_on_old_servers(
    agent: AgentServerClient, router: respx.MockRouter
) -> None:
    router.get("/api/git/changes").respond(404, json=ROUTE_MISSING)
    legacy = router.get(url__startswith=f"{AGENT}/api/git/changes//workspace/project").respond(
        json=[{"status": "ADDED", "path": "new.txt"}]
    )
    assert agent.git_changes("/workspace/project") == [GitChange("ADDED", "new.txt")]
    assert legacy.call_count == 1


# For a sandbox ----------------------------------------------------------------------------


def test_for_sandbox_uses_the_agent_server_url_and_current_key(clock: FakeClock) -> None:
    sandbox = Sandbox.from_json(sandbox_json())
    router = agent_router()
    route = router.get("/server_info").respond(json={"version": "1.58.2"})
    with AgentServerClient.for_sandbox(
        sandbox, transport=httpx.MockTransport(router.handler), clock=clock.as_clock()
    ) as agent:
        assert agent.base_url == AGENT
        agent.server_info()
    assert route.calls.last.request.headers["x-session-api-key"] == SESSION_KEY


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"status": "PAUSED", "exposed_urls": None}, "is PAUSED"),
        ({"status": "RUNNING", "exposed_urls": []}, "no AGENT_SERVER URL"),
    ],
)
def test_for_sandbox_refuses_a_sandbox_it_cannot_reach(
    overrides: dict[str, Any], reason: str
) -> None:
    sandbox = Sandbox.from_json(sandbox_json(**overrides))
    with pytest.raises(ConflictError, match=reason):
        AgentServerClient.for_sandbox(sandbox)
