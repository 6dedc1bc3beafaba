"""Every AppServerClient endpoint method: the request it sends and what it makes of the answer;
plus paging, batch chunking, start streaming, waiting and downloads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from apps.openhands import (
    AppServerClient,
    NotFoundError,
    NotJSONError,
    PaginationError,
    PayloadTooLargeError,
    TransportError,
    UnexpectedResponseError,
)
from apps.openhands.errors import WaitTimeoutError
from apps.openhands.records import Conversation, Event, Page, Sandbox, SandboxSpec, StartTask, User
from tests.openhands.support import (
    API,
    CONVERSATION_ID,
    EVENT_ID,
    SANDBOX_ID,
    TASK_ID,
    Endpoint,
    FakeClock,
    body,
    call_endpoint,
    conversation_json,
    event_json,
    page,
    sandbox_json,
    task_json,
)

# One request per endpoint -----------------------------------------------------------------


SPEC = {"id": "ghcr.io/openhands/agent-server:1.58.2-python", "working_dir": "/workspace/project"}
JAN_27 = datetime(2026, 1, 27)  # naive: read as UTC
PARIS = timezone(timedelta(hours=1))

ENDPOINTS = {
    "search_conversations": Endpoint(
        lambda c: c.search_conversations(
            title_contains="fix",
            created_at_gte=JAN_27,
            created_at_lt="2026-01-28T00:00:00+00:00",
            updated_at_gte=datetime(2026, 1, 27, 13, 0, tzinfo=PARIS),
            updated_at_lt="2026-01-29T10:00:00Z",
            sandbox_id=SANDBOX_ID,
            include_sub_conversations=True,
            limit=10,
            page_id="20",
        ),
        "GET",
        "/app-conversations/search",
        [
            ("created_at__gte", "2026-01-27T00:00:00Z"),
            ("created_at__lt", "2026-01-28T00:00:00Z"),
            ("include_sub_conversations", "true"),
            ("limit", "10"),
            ("page_id", "20"),
            ("sandbox_id__eq", SANDBOX_ID),
            ("title__contains", "fix"),
            ("updated_at__gte", "2026-01-27T12:00:00Z"),
            ("updated_at__lt", "2026-01-29T10:00:00Z"),
        ],
        None,
        page([conversation_json()], "30"),
        lambda result: (
            isinstance(result, Page)
            and result.next_page_id == "30"
            and result.items[0].id == CONVERSATION_ID
        ),
    ),
    "search_conversations_defaults": Endpoint(
        lambda c: c.search_conversations(),
        "GET",
        "/app-conversations/search",
        [("limit", "100")],
        None,
        page([]),
        lambda result: result.items == [] and result.next_page_id is None,
    ),
    "count_conversations": Endpoint(
        lambda c: c.count_conversations(title_contains="fix", sandbox_id=SANDBOX_ID),
        "GET",
        "/app-conversations/count",
        [("sandbox_id__eq", SANDBOX_ID), ("title__contains", "fix")],
        None,
        604,
        lambda result: result == 604,
    ),
    "get_conversations": Endpoint(
        lambda c: c.get_conversations([CONVERSATION_ID, "missing"]),
        "GET",
        "/app-conversations",
        [("ids", CONVERSATION_ID), ("ids", "missing")],
        None,
        [conversation_json(), None],
        lambda result: isinstance(result[0], Conversation) and result[1] is None,
    ),
    "get_conversation": Endpoint(
        lambda c: c.get_conversation(CONVERSATION_ID),
        "GET",
        "/app-conversations",
        [("ids", CONVERSATION_ID)],
        None,
        [conversation_json()],
        lambda result: isinstance(result, Conversation) and result.title == "Fix README typo",
    ),
    "start_conversation": Endpoint(
        lambda c: c.start_conversation(
            message="Summarise README.md", selected_repository="owner/repo", git_provider="github"
        ),
        "POST",
        "/app-conversations",
        [],
        {
            "initial_message": {
                "role": "user",
                "content": [{"type": "text", "text": "Summarise README.md"}],
                "run": True,
            },
            "selected_repository": "owner/repo",
            "git_provider": "github",
        },
        task_json(),
        lambda result: isinstance(result, StartTask) and result.status == "WORKING",
    ),
    "start_conversation_from_request": Endpoint(
        lambda c: c.start_conversation({"sandbox_id": SANDBOX_ID, "title": "t"}, title="u"),
        "POST",
        "/app-conversations",
        [],
        {"sandbox_id": SANDBOX_ID, "title": "u"},
        task_json(),
        lambda result: result.id == TASK_ID,
    ),
    "get_start_tasks": Endpoint(
        lambda c: c.get_start_tasks([TASK_ID]),
        "GET",
        "/app-conversations/start-tasks",
        [("ids", TASK_ID)],
        None,
        [task_json(status="READY")],
        lambda result: result[0].is_ready and result[0].app_conversation_id == CONVERSATION_ID,
    ),
    "get_start_task": Endpoint(
        lambda c: c.get_start_task(TASK_ID),
        "GET",
        "/app-conversations/start-tasks",
        [("ids", TASK_ID)],
        None,
        [task_json(status="ERROR", detail="Sandbox failed")],
        lambda result: result.is_error and result.detail == "Sandbox failed",
    ),
    "search_start_tasks": Endpoint(
        lambda c: c.search_start_tasks(
            conversation_id=CONVERSATION_ID,
            created_at_gte="2026-01-27",
            sort_order="UPDATED_AT_DESC",
            limit=5,
            page_id="5",
        ),
        "GET",
        "/app-conversations/start-tasks/search",
        [
            ("conversation_id__eq", CONVERSATION_ID),
            ("created_at__gte", "2026-01-27T00:00:00Z"),
            ("limit", "5"),
            ("page_id", "5"),
            ("sort_order", "UPDATED_AT_DESC"),
        ],
        None,
        page([task_json()]),
        lambda result: result.items[0].id == TASK_ID,
    ),
    "count_start_tasks": Endpoint(
        lambda c: c.count_start_tasks(conversation_id=CONVERSATION_ID),
        "GET",
        "/app-conversations/start-tasks/count",
        [("conversation_id__eq", CONVERSATION_ID)],
        None,
        3,
        lambda result: result == 3,
    ),
    "update_conversation": Endpoint(
        lambda c: c.update_conversation(CONVERSATION_ID, title="New title", public=None),
        "PATCH",
        f"/app-conversations/{CONVERSATION_ID}",
        [],
        {"title": "New title", "public": None},
        conversation_json(title="New title"),
        lambda result: result.title == "New title",
    ),
    "delete_conversation": Endpoint(
        lambda c: c.delete_conversation(CONVERSATION_ID),
        "DELETE",
        f"/app-conversations/{CONVERSATION_ID}",
        [],
        None,
        {"success": True},
        lambda result: result is True,
    ),
    "send_message": Endpoint(
        lambda c: c.send_message(CONVERSATION_ID, "Also fix the docs", run=False),
        "POST",
        f"/app-conversations/{CONVERSATION_ID}/send-message",
        [],
        {"role": "user", "content": [{"type": "text", "text": "Also fix the docs"}], "run": False},
        {"success": True, "sandbox_status": "RUNNING", "message": None},
        lambda result: result["sandbox_status"] == "RUNNING",
    ),
    "get_skills": Endpoint(
        lambda c: c.get_skills(CONVERSATION_ID),
        "GET",
        f"/app-conversations/{CONVERSATION_ID}/skills",
        [],
        None,
        {"skills": [{"name": "github", "type": "knowledge", "content": "", "triggers": ["gh"]}]},
        lambda result: result[0]["name"] == "github",
    ),
    "get_hooks": Endpoint(
        lambda c: c.get_hooks(CONVERSATION_ID),
        "GET",
        f"/app-conversations/{CONVERSATION_ID}/hooks",
        [],
        None,
        {"hooks": []},
        lambda result: result == [],
    ),
    "get_conversation_git_changes": Endpoint(
        lambda c: c.get_conversation_git_changes(CONVERSATION_ID, "/workspace/project", "HEAD"),
        "GET",
        f"/app-conversations/{CONVERSATION_ID}/git/changes",
        [("path", "/workspace/project"), ("ref", "HEAD")],
        None,
        [{"status": "UPDATED", "path": "a.txt"}],
        lambda result: result == [{"status": "UPDATED", "path": "a.txt"}],
    ),
    "get_conversation_git_diff": Endpoint(
        lambda c: c.get_conversation_git_diff(CONVERSATION_ID, "/workspace/project/a.txt"),
        "GET",
        f"/app-conversations/{CONVERSATION_ID}/git/diff",
        [("path", "/workspace/project/a.txt")],
        None,
        {"modified": "b", "original": "a"},
        lambda result: result["modified"] == "b",
    ),
    "read_conversation_file": Endpoint(
        lambda c: c.read_conversation_file(CONVERSATION_ID, "/workspace/project/PLAN.md"),
        "GET",
        f"/app-conversations/{CONVERSATION_ID}/file",
        [("file_path", "/workspace/project/PLAN.md")],
        None,
        "# Plan\n",
        lambda result: result == "# Plan\n",
    ),
    "search_sandboxes": Endpoint(
        lambda c: c.search_sandboxes(limit=1, page_id="1"),
        "GET",
        "/sandboxes/search",
        [("limit", "1"), ("page_id", "1")],
        None,
        page([sandbox_json()], "2"),
        lambda result: isinstance(result.items[0], Sandbox) and result.next_page_id == "2",
    ),
    "get_sandboxes": Endpoint(
        lambda c: c.get_sandboxes([SANDBOX_ID, "gone"]),
        "GET",
        "/sandboxes",
        [("id", SANDBOX_ID), ("id", "gone")],
        None,
        [sandbox_json(), None],
        lambda result: result[0].agent_server_url is not None and result[1] is None,
    ),
    "get_sandbox": Endpoint(
        lambda c: c.get_sandbox(SANDBOX_ID),
        "GET",
        "/sandboxes",
        [("id", SANDBOX_ID)],
        None,
        [sandbox_json()],
        lambda result: result.id == SANDBOX_ID,
    ),
    "start_sandbox": Endpoint(
        lambda c: c.start_sandbox("ghcr.io/openhands/agent-server:1.58.2-python"),
        "POST",
        "/sandboxes",
        [("sandbox_spec_id", "ghcr.io/openhands/agent-server:1.58.2-python")],
        None,
        sandbox_json(status="STARTING", exposed_urls=None, session_api_key=None),
        lambda result: result.status == "STARTING" and result.agent_server_url is None,
    ),
    "start_sandbox_default_spec": Endpoint(
        lambda c: c.start_sandbox(),
        "POST",
        "/sandboxes",
        [],
        None,
        sandbox_json(status="STARTING"),
        lambda result: result.status == "STARTING",
    ),
    "pause_sandbox": Endpoint(
        lambda c: c.pause_sandbox(SANDBOX_ID),
        "POST",
        f"/sandboxes/{SANDBOX_ID}/pause",
        [],
        None,
        {"success": True},
        lambda result: result is True,
    ),
    "resume_sandbox": Endpoint(
        lambda c: c.resume_sandbox(SANDBOX_ID),
        "POST",
        f"/sandboxes/{SANDBOX_ID}/resume",
        [],
        None,
        {"success": True},
        lambda result: result is True,
    ),
    "delete_sandbox": Endpoint(
        lambda c: c.delete_sandbox(SANDBOX_ID),
        "DELETE",
        f"/sandboxes/{SANDBOX_ID}",
        [("sandbox_id", SANDBOX_ID)],
        None,
        {"success": True},
        lambda result: result is True,
    ),
    "search_sandbox_specs": Endpoint(
        lambda c: c.search_sandbox_specs(),
        "GET",
        "/sandbox-specs/search",
        [("limit", "100")],
        None,
        page([SPEC]),
        lambda result: isinstance(result.items[0], SandboxSpec),
    ),
    "get_sandbox_specs": Endpoint(
        lambda c: c.get_sandbox_specs([SPEC["id"]]),
        "GET",
        "/sandbox-specs",
        [("id", SPEC["id"])],
        None,
        [SPEC],
        lambda result: result[0].working_dir == "/workspace/project",
    ),
    "search_events": Endpoint(
        lambda c: c.search_events(
            CONVERSATION_ID,
            kind="MessageEvent",
            timestamp_gte="2026-01-27T10:00:00",
            timestamp_lt=datetime(2026, 1, 27, 11, tzinfo=UTC),
            sort_order="TIMESTAMP_DESC",
            limit=50,
            page_id="50",
        ),
        "GET",
        f"/conversation/{CONVERSATION_ID}/events/search",
        [
            ("kind__eq", "MessageEvent"),
            ("limit", "50"),
            ("page_id", "50"),
            ("sort_order", "TIMESTAMP_DESC"),
            ("timestamp__gte", "2026-01-27T10:00:00Z"),
            ("timestamp__lt", "2026-01-27T11:00:00Z"),
        ],
        None,
        page([event_json()]),
        lambda result: isinstance(result.items[0], Event),
    ),
    "count_events": Endpoint(
        lambda c: c.count_events(CONVERSATION_ID, kind="ActionEvent"),
        "GET",
        f"/conversation/{CONVERSATION_ID}/events/count",
        [("kind__eq", "ActionEvent")],
        None,
        18,
        lambda result: result == 18,
    ),
    "get_events": Endpoint(
        lambda c: c.get_events(CONVERSATION_ID, [EVENT_ID]),
        "GET",
        f"/conversation/{CONVERSATION_ID}/events",
        [("id", EVENT_ID)],
        None,
        [event_json()],
        lambda result: result[0].kind == "MessageEvent",
    ),
    "get_user": Endpoint(
        lambda c: c.get_user(),
        "GET",
        "/users/me",
        [],
        None,
        {"id": "u1", "email": "a@example.test", "org_id": "o1", "org_name": "Org", "role": "admin"},
        lambda result: isinstance(result, User) and result.org_name == "Org",
    ),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_each_endpoint_sends_the_documented_request(
    client: AppServerClient, router: respx.MockRouter, endpoint: Endpoint[AppServerClient]
) -> None:
    request = call_endpoint(client, router, endpoint)
    assert request.url.path == f"/api/v1{endpoint.path}"


def test_ids_with_url_special_characters_are_escaped(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    route = router.post(url__regex=r".*/sandboxes/.*/pause$").respond(json={"success": True})
    client.pause_sandbox("a/b?c")
    assert route.calls.last.request.url.raw_path == b"/api/v1/sandboxes/a%2Fb%3Fc/pause"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.delete_conversation(""),
        lambda c: c.get_conversation("  "),
        lambda c: c.search_conversations(limit=0),
        lambda c: c.search_events(CONVERSATION_ID, limit=101),
        lambda c: c.search_conversations(created_at_gte="last tuesday"),
        lambda c: c.update_conversation(CONVERSATION_ID, titel="typo"),
        lambda c: c.update_conversation(CONVERSATION_ID),
        lambda c: c.send_message(CONVERSATION_ID, "   "),
        lambda c: c.start_conversation({"initial_message": {}}, message="twice"),
    ],
)
def test_bad_arguments_fail_before_any_request(
    client: AppServerClient, router: respx.MockRouter, call: Callable[[AppServerClient], Any]
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages differ per argument
        call(client)
    assert router.calls.call_count == 0


def test_get_conversation_raises_not_found_when_the_batch_answers_null(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    router.get("/app-conversations").respond(json=[None])
    with pytest.raises(NotFoundError) as caught:
        client.get_conversation(CONVERSATION_ID)
    assert CONVERSATION_ID in str(caught.value)
    assert caught.value.url == f"{API}/app-conversations?ids={CONVERSATION_ID}"


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda c: c.get_sandbox("gone"), "/sandboxes"),
        (lambda c: c.get_start_task("gone"), "/app-conversations/start-tasks"),
    ],
)
def test_single_gets_raise_not_found_on_null(
    client: AppServerClient, router: respx.MockRouter, call, path: str
) -> None:
    router.get(path).respond(json=[None])
    with pytest.raises(NotFoundError):
        call(client)


# Paging -----------------------------------------------------------------------------------


def _paged(router: respx.MockRouter, path: str, pages: dict[str | None, dict]) -> respx.Route:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("page_id")])

    return router.get(path).mock(side_effect=answer)


def test_iter_conversations_follows_pages_and_skips_repeats(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    route = _paged(
        router,
        "/app-conversations/search",
        {
            None: page([conversation_json("a"), conversation_json("b")], "2"),
            # An item created meanwhile shifts the offset window: "b" shows up again.
            "2": page([conversation_json("b"), conversation_json("c")], "4"),
            "4": page([conversation_json("d")], None),
        },
    )
    found = [c.id for c in client.iter_conversations(title_contains="x", page_size=2)]
    assert found == ["a", "b", "c", "d"]
    sent = [request.url.params.get("page_id") for request, _ in route.calls]
    assert sent == [None, "2", "4"]
    assert all(request.url.params["limit"] == "2" for request, _ in route.calls)
    assert all(request.url.params["title__contains"] == "x" for request, _ in route.calls)


def test_iteration_stops_when_the_server_repeats_a_page_id(
    client: AppServerClient, router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    route = _paged(
        router,
        "/sandboxes/search",
        {
            None: page([sandbox_json("s1")], "1"),
            "1": page([sandbox_json("s2")], "1"),
        },
    )
    found: list[str] = []
    with pytest.raises(PaginationError, match="next_page_id '1' again"):
        found.extend(sandbox.id for sandbox in client.iter_sandboxes())
    assert found == ["s1", "s2"]
    assert route.call_count == 2
    assert "repeated next_page_id" in caplog.text


def test_iter_events_follows_pages(client: AppServerClient, router: respx.MockRouter) -> None:
    route = _paged(
        router,
        f"/conversation/{CONVERSATION_ID}/events/search",
        {
            None: page([event_json("e1"), event_json("e2")], "100"),
            "100": page([event_json("e3")], None),
        },
    )
    events = list(client.iter_events(CONVERSATION_ID, kind="MessageEvent"))
    assert [event.id for event in events] == ["e1", "e2", "e3"]
    assert route.calls.last.request.url.params["kind__eq"] == "MessageEvent"


# Batch chunking ---------------------------------------------------------------------------


def _echo_batch(param: str, known: Callable[[str], dict | None]):
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[known(i) for i in request.url.params.get_list(param)])

    return answer


def test_conversations_are_fetched_99_ids_at_a_time_in_order(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    ids = [f"{n:032x}" for n in range(250)]
    route = router.get("/app-conversations").mock(
        side_effect=_echo_batch(
            "ids", lambda i: None if int(i, 16) % 7 == 0 else conversation_json(i)
        )
    )
    found = client.get_conversations(ids)
    sizes = [len(request.url.params.get_list("ids")) for request, _ in route.calls]
    assert sizes == [99, 99, 52]
    assert [request.url.params.get_list("ids") for request, _ in route.calls] == [
        ids[:99],
        ids[99:198],
        ids[198:],
    ]
    assert len(found) == 250
    for identifier, conversation in zip(ids, found, strict=True):
        if int(identifier, 16) % 7 == 0:
            assert conversation is None
        else:
            assert conversation is not None
            assert conversation.id == identifier


@pytest.mark.parametrize(
    ("call", "path", "param", "count", "sizes"),
    [
        (lambda c, ids: c.get_sandboxes(ids), "/sandboxes", "id", 250, [100, 100, 50]),
        (lambda c, ids: c.get_sandbox_specs(ids), "/sandbox-specs", "id", 100, [100]),
        (
            lambda c, ids: c.get_start_tasks(ids),
            "/app-conversations/start-tasks",
            "ids",
            150,
            [100, 50],
        ),
        (
            lambda c, ids: c.get_events(CONVERSATION_ID, ids),
            f"/conversation/{CONVERSATION_ID}/events",
            "id",
            101,
            [100, 1],
        ),
    ],
)
def test_batches_are_chunked_with_the_right_parameter(
    client: AppServerClient,
    router: respx.MockRouter,
    call,
    path: str,
    param: str,
    count: int,
    sizes: list[int],
) -> None:
    ids = [f"id-{n}" for n in range(count)]
    route = router.get(path).mock(side_effect=_echo_batch(param, lambda i: {"id": i}))
    found = call(client, ids)
    assert [len(request.url.params.get_list(param)) for request, _ in route.calls] == sizes
    assert [item.id for item in found] == ids


def test_a_batch_answer_of_the_wrong_length_is_reported(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    router.get("/sandboxes").respond(json=[sandbox_json()])
    with pytest.raises(UnexpectedResponseError, match="Asked for 2 sandboxes and got 1"):
        client.get_sandboxes(["a", "b"])


def test_an_empty_batch_sends_nothing(client: AppServerClient, router: respx.MockRouter) -> None:
    assert client.get_conversations([]) == []
    assert router.calls.call_count == 0


def test_a_single_string_is_not_taken_for_a_list_of_ids(client: AppServerClient) -> None:
    with pytest.raises(TypeError, match="not a single string"):
        client.get_conversations(CONVERSATION_ID)


# Starting and waiting ---------------------------------------------------------------------


def _streamed(chunks: list[bytes], pulled: list[bytes] | None = None) -> httpx.Response:
    def produce() -> Iterator[bytes]:
        for chunk in chunks:
            if pulled is not None:
                pulled.append(chunk)
            yield chunk

    return httpx.Response(200, headers={"content-type": "application/json"}, content=produce())


def _server_stream(*tasks: dict) -> bytes:
    """Write tasks the way the server does: `[\\n`, then items joined by `,\\n`, then `]`."""
    return ("[\n" + ",\n".join(json.dumps(task) for task in tasks) + "]").encode()


def test_stream_start_yields_each_task_as_it_arrives(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    tasks = [
        task_json(status="WORKING"),
        task_json(status="WAITING_FOR_SANDBOX", sandbox_id=SANDBOX_ID),
        task_json(status="READY", sandbox_id=SANDBOX_ID),
    ]
    pieces = [b"[\n", json.dumps(tasks[0]).encode(), b",\n" + json.dumps(tasks[1]).encode()]
    pieces += [b",\n" + json.dumps(tasks[2]).encode(), b"]"]
    pulled: list[bytes] = []
    route = router.post("/app-conversations/stream-start").mock(
        return_value=_streamed(pieces, pulled)
    )
    stream = client.stream_start_conversation(message="hi", sandbox_id=SANDBOX_ID)
    first = next(stream)
    assert first.status == "WORKING"
    # The first task came out before the server had written the rest.
    assert len(pulled) < len(pieces)
    assert [task.status for task in stream] == ["WAITING_FOR_SANDBOX", "READY"]
    assert body(route.calls.last.request)["sandbox_id"] == SANDBOX_ID


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64])
def test_stream_start_survives_any_chunk_boundary(
    client: AppServerClient, router: respx.MockRouter, chunk_size: int
) -> None:
    tasks = [
        task_json(status="WORKING", detail="déjà vu ✓"),
        task_json(status="ERROR", detail='quote " and \\ backslash, comma ] bracket'),
    ]
    raw = _server_stream(*tasks)
    chunks = [raw[i : i + chunk_size] for i in range(0, len(raw), chunk_size)]
    router.post("/app-conversations/stream-start").mock(return_value=_streamed(chunks))
    found = list(client.stream_start_conversation(message="hi"))
    assert [task.detail for task in found] == [task["detail"] for task in tasks]
    assert found[-1].is_error


def test_a_stream_that_stops_early_is_a_transport_error(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    raw = _server_stream(task_json(status="WORKING"))[:-1]
    router.post("/app-conversations/stream-start").mock(return_value=_streamed([raw]))
    found: list[StartTask] = []
    with pytest.raises(TransportError, match="ended the stream-start answer"):
        found.extend(client.stream_start_conversation(message="hi"))
    assert [task.status for task in found] == ["WORKING"]


def test_a_stream_that_is_not_a_json_array_is_not_json(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    router.post("/app-conversations/stream-start").mock(return_value=_streamed([b'{"id": "x"}']))
    with pytest.raises(NotJSONError, match="not a JSON array"):
        list(client.stream_start_conversation(message="hi"))


def test_wait_for_start_task_polls_until_ready(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.get("/app-conversations/start-tasks").mock(
        side_effect=[
            httpx.Response(200, json=[task_json(status="WORKING")]),
            httpx.Response(200, json=[task_json(status="STARTING_CONVERSATION")]),
            httpx.Response(200, json=[task_json(status="READY")]),
        ]
    )
    task = client.wait_for_start_task(TASK_ID, poll_interval=2.5)
    assert task.is_ready
    assert route.call_count == 3
    assert clock.waits == [2.5, 2.5]


def test_wait_for_start_task_returns_an_error_task(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get("/app-conversations/start-tasks").respond(
        json=[task_json(status="ERROR", detail="boom")]
    )
    assert client.wait_for_start_task(TASK_ID).detail == "boom"
    assert clock.waits == []


def test_wait_for_start_task_gives_up_at_the_deadline(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get("/app-conversations/start-tasks").respond(json=[task_json(status="WORKING")])
    with pytest.raises(WaitTimeoutError, match=f"Start task {TASK_ID} is still WORKING after 10 s"):
        client.wait_for_start_task(TASK_ID, timeout=10, poll_interval=3)
    assert clock.waits == [3, 3, 3, 1]


def test_wait_until_terminal_polls_the_conversation(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get("/app-conversations").mock(
        side_effect=[
            httpx.Response(200, json=[conversation_json(execution_status="running")]),
            httpx.Response(200, json=[conversation_json(execution_status="stuck")]),
        ]
    )
    assert client.wait_until_terminal(CONVERSATION_ID).execution_status == "stuck"
    assert clock.waits == [5.0]


def test_wait_until_terminal_explains_a_paused_sandbox(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get("/app-conversations").respond(
        json=[conversation_json(execution_status=None, sandbox_status="PAUSED")]
    )
    with pytest.raises(WaitTimeoutError, match="sandbox is PAUSED; resume it"):
        client.wait_until_terminal(CONVERSATION_ID, timeout=12, poll_interval=5)
    assert sum(clock.waits) == 12


# Downloads --------------------------------------------------------------------------------

ZIP_BYTES = bytes(range(256)) * 1200  # ~300 KB


def _zip_response(chunks: list[bytes], length: int | None, watch=None) -> httpx.Response:
    def produce() -> Iterator[bytes]:
        for chunk in chunks:
            if watch:
                watch()
            yield chunk

    headers = {"content-type": "application/zip"}
    if length is not None:
        headers["content-length"] = str(length)
    return httpx.Response(200, headers=headers, content=produce())


def test_download_streams_to_a_part_file_then_renames(
    client: AppServerClient, router: respx.MockRouter, tmp_path
) -> None:
    dest = tmp_path / "conversation.zip"
    part = tmp_path / "conversation.zip.part"
    chunks = [ZIP_BYTES[i : i + 100_000] for i in range(0, len(ZIP_BYTES), 100_000)]
    part_sizes: list[int] = []

    def watch() -> None:
        part_sizes.append(part.stat().st_size if part.exists() else -1)
        assert not dest.exists()

    router.get(f"/app-conversations/{CONVERSATION_ID}/download").mock(
        return_value=_zip_response(chunks, len(ZIP_BYTES), watch)
    )
    result = client.download_conversation(CONVERSATION_ID, str(dest))
    assert result.path == dest
    assert result.size == len(ZIP_BYTES)
    assert result.sha256 == hashlib.sha256(ZIP_BYTES).hexdigest()
    assert dest.read_bytes() == ZIP_BYTES
    assert not part.exists()
    # Earlier chunks were already on disk while later ones were still coming.
    assert part_sizes[1] >= 100_000
    assert part_sizes[-1] >= 200_000


def test_a_truncated_download_leaves_no_file(
    client: AppServerClient, router: respx.MockRouter, tmp_path
) -> None:
    dest = tmp_path / "conversation.zip"
    router.get(f"/app-conversations/{CONVERSATION_ID}/download").mock(
        return_value=_zip_response([ZIP_BYTES[:1000]], len(ZIP_BYTES))
    )
    with pytest.raises(TransportError, match=f"sent 1000 of the {len(ZIP_BYTES)} bytes"):
        client.download_conversation(CONVERSATION_ID, dest)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_leaves_an_existing_destination_untouched(
    client: AppServerClient, router: respx.MockRouter, tmp_path
) -> None:
    dest = tmp_path / "conversation.zip"
    dest.write_bytes(b"the previous archive")

    def produce() -> Iterator[bytes]:
        yield ZIP_BYTES[:5000]
        raise httpx.ReadError("connection reset")

    router.get(f"/app-conversations/{CONVERSATION_ID}/download").mock(
        return_value=httpx.Response(
            200, headers={"content-type": "application/zip"}, content=produce()
        )
    )
    with pytest.raises(TransportError, match="connection reset"):
        client.download_conversation(CONVERSATION_ID, dest)
    assert dest.read_bytes() == b"the previous archive"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["conversation.zip"]


@pytest.mark.parametrize(
    ("response", "error_class"),
    [
        (httpx.Response(413, json={"detail": "More than 10000 events"}), PayloadTooLargeError),
        (httpx.Response(200, html="<!doctype html><html></html>"), NotJSONError),
    ],
)
def test_a_refused_download_writes_nothing(
    client: AppServerClient, router: respx.MockRouter, tmp_path, response, error_class
) -> None:
    router.get(f"/app-conversations/{CONVERSATION_ID}/download").mock(return_value=response)
    with pytest.raises(error_class):
        client.download_conversation(CONVERSATION_ID, tmp_path / "c.zip")
    assert list(tmp_path.iterdir()) == []


def test_a_download_into_a_missing_folder_fails_before_the_request(
    client: AppServerClient, router: respx.MockRouter, tmp_path
) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        client.download_conversation(CONVERSATION_ID, tmp_path / "nope" / "c.zip")
    with pytest.raises(IsADirectoryError):
        client.download_conversation(CONVERSATION_ID, tmp_path)
    assert router.calls.call_count == 0


def test_get_json_returns_the_raw_answer_with_the_usual_error_mapping(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    page = {"items": [{"id": 12345}, {"title": "no id"}], "next_page_id": None}
    route = router.get("/app-conversations/search").respond(json=page)
    assert client.get_json("/app-conversations/search", {"limit": 100}) == page
    assert route.calls.last.request.url.params["limit"] == "100"
    router.get("/sandboxes/search").respond(text="<html>app</html>", content_type="text/html")
    with pytest.raises(NotJSONError):
        client.get_json("/sandboxes/search")
