"""Helpers for the client-library tests: a fake clock, sample API objects, request inspection.

The fake clock records every wait the code asks for and advances time instead of sleeping.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import respx

from apps.openhands import AgentServerClient, AppServerClient
from apps.openhands.transport import Clock

SERVER = "https://app.example.test"
API = f"{SERVER}/api/v1"
AGENT = "https://runtime.example.test"
API_KEY = "sk-oh-TESTKEY-4f1c9a7e2b5d8c3a"
SESSION_KEY = "session-TESTKEY-9d8c7b6a5f4e3d2c"
WALL_START = 1_800_000_000.0

CONVERSATION_ID = "bb6a1b39c0d44d4db931e53d59897c77"
TASK_ID = "fac0ed3e5c1d4b6a9e8f7a6b5c4d3e2f"
SANDBOX_ID = "22Cnn1FqUu17shZhJ7b5Ka"
EVENT_ID = "3f2c8a10-1111-4a2b-9c3d-4e5f6a7b8c9d"


class FakeClock:
    """Stand in for time: `waits` lists every sleep requested, and time jumps by it."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._monotonic = 100.0
        self._wall = WALL_START

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._monotonic += seconds
        self._wall += seconds

    def monotonic(self) -> float:
        return self._monotonic

    def now(self) -> float:
        return self._wall

    def as_clock(self) -> Clock:
        return Clock(sleep=self.sleep, monotonic=self.monotonic, now=self.now)


def app_router() -> respx.MockRouter:
    return respx.MockRouter(base_url=API, assert_all_called=False)


def agent_router() -> respx.MockRouter:
    return respx.MockRouter(base_url=AGENT, assert_all_called=False)


def app_client(router: respx.MockRouter, clock: FakeClock, **kwargs: Any) -> AppServerClient:
    kwargs.setdefault("api_key", API_KEY)
    return AppServerClient(SERVER, **_faked(router, clock), **kwargs)


def agent_client(router: respx.MockRouter, clock: FakeClock, **kwargs: Any) -> AgentServerClient:
    kwargs.setdefault("session_api_key", SESSION_KEY)
    return AgentServerClient(AGENT, **_faked(router, clock), **kwargs)


def _faked(router: respx.MockRouter, clock: FakeClock) -> dict[str, Any]:
    """Return client arguments that send HTTP to `router`, time to `clock`, fixed jitter."""
    return {
        "transport": httpx.MockTransport(router.handler),
        "clock": clock.as_clock(),
        "rng": random.Random(7),
    }


@dataclass(frozen=True)
class Endpoint[C]:
    """One client method's call, the request it must send, the answer given, the result check."""

    call: Callable[[C], Any]
    method: str
    path: str
    query: list[tuple[str, str]]
    json_body: Any
    answer: Any
    check: Callable[[Any], bool]


def call_endpoint[C](client: C, router: respx.MockRouter, endpoint: Endpoint[C]) -> httpx.Request:
    """Call `endpoint` through `client`, check its one request and its result; return the
    request for further checks."""
    route = router.request(endpoint.method, endpoint.path).respond(json=endpoint.answer)
    result = endpoint.call(client)
    assert route.call_count == 1
    request = route.calls.last.request
    assert query(request) == endpoint.query
    assert body(request) == endpoint.json_body
    assert endpoint.check(result)
    return request


def query(request: httpx.Request) -> list[tuple[str, str]]:
    """Return the query as (name, value) pairs, grouped by name with each name's order kept."""
    return sorted(request.url.params.multi_items(), key=lambda pair: pair[0])


def body(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


def conversation_json(conversation_id: str = CONVERSATION_ID, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": conversation_id,
        "created_by_user_id": "6f0c1d2e",
        "sandbox_id": SANDBOX_ID,
        "selected_repository": "owner/repo",
        "selected_branch": "main",
        "git_provider": "github",
        "title": "Fix README typo",
        "trigger": None,
        "pr_number": [12],
        "llm_model": "claude",
        "agent_kind": "openhands",
        "metrics": {
            "model_name": "default",
            "accumulated_cost": 0.024,
            "max_budget_per_task": None,
            "accumulated_token_usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 80,
                "cache_read_tokens": 5,
                "cache_write_tokens": 0,
                "reasoning_tokens": 3,
                "context_window": 200000,
            },
        },
        "parent_conversation_id": None,
        "sub_conversation_ids": [],
        "public": None,
        "tags": {"repo_name": "owner/repo"},
        "created_at": "2026-01-27T15:25:00.123456Z",
        "updated_at": "2026-01-27T15:27:41+00:00",
        "sandbox_status": "RUNNING",
        "execution_status": "finished",
        "conversation_url": f"{AGENT}/api/conversations/{conversation_id}",
        "session_api_key": SESSION_KEY,
    }
    return data | overrides


def task_json(task_id: str = TASK_ID, status: str = "WORKING", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": task_id,
        "created_by_user_id": None,
        "status": status,
        "detail": None,
        "app_conversation_id": CONVERSATION_ID if status == "READY" else None,
        "sandbox_id": None,
        "agent_server_url": None,
        "request": {},
        "created_at": "2026-01-27T15:25:00.123456",
        "updated_at": "2026-01-27T15:25:01",
    }
    return data | overrides


def sandbox_json(sandbox_id: str = SANDBOX_ID, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": sandbox_id,
        "created_by_user_id": None,
        "sandbox_spec_id": "ghcr.io/openhands/agent-server:1.58.2-python",
        "status": "RUNNING",
        "session_api_key": SESSION_KEY,
        "exposed_urls": [
            {"name": "AGENT_SERVER", "url": AGENT, "port": 60000},
            {"name": "VSCODE", "url": f"https://vscode.example.test/?tkn={SESSION_KEY}", "port": 1},
        ],
        "created_at": "2026-01-27T15:25:00Z",
        "status_detail": None,
    }
    return data | overrides


def event_json(event_id: str = EVENT_ID, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": event_id,
        "kind": "MessageEvent",
        "source": "user",
        "timestamp": "2026-01-27T15:25:03.5",
        "llm_message": {"role": "user", "content": [{"type": "text", "text": "hi"}]},
    }
    return data | overrides


def page(items: list[dict[str, Any]], next_page_id: str | None = None) -> dict[str, Any]:
    return {"items": items, "next_page_id": next_page_id}
