"""Every route of the fake answers with the shapes the Cloud OpenAPI document declares.

Each route in ``apps.fake_app_server.routes.API_ROUTES`` must have a case below (a missing case
fails), must exist in the document with the same method and path template, and its answers are
validated with ``jsonschema`` against the document's response schema for that status, with
``$ref``s resolved inside the document. The document lives next to the repository, in
``../shared/reference/openhands-cloud.openapi.json``; if it is missing the tests fail.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from apps.fake_app_server.events import UNKNOWN_FUTURE_KIND
from apps.fake_app_server.routes import API_ROUTES
from tests.peers.fake_fixtures import REPO_ROOT, FakeAppServer

OPENAPI_PATH = REPO_ROOT.parent / "shared" / "reference" / "openhands-cloud.openapi.json"
# Route errors documented without a body: FastAPI's HTTPException or a JSONResponse error.
ERROR_BODY = {
    "type": "object",
    "oneOf": [{"required": ["detail"]}, {"required": ["error"]}],
    "properties": {"detail": {"type": "string"}, "error": {"type": "string"}},
    "additionalProperties": False,
}
# OpenAPI keywords that JSON Schema does not know and that carry no validation meaning here.
OPENAPI_ONLY_KEYWORDS = frozenset({"discriminator", "example", "xml", "externalDocs"})


def to_json_schema(node: Any) -> Any:
    """Return an OpenAPI schema tree as plain JSON Schema (``nullable`` becomes a null type)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: to_json_schema(value)
        for key, value in node.items()
        if key not in OPENAPI_ONLY_KEYWORDS and key != "nullable"
    }
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def test_openapi_conversion_handles_nullable_and_discriminators() -> None:
    schema = to_json_schema(
        {
            "type": "object",
            "properties": {"name": {"type": "string", "nullable": True}},
            "discriminator": {"propertyName": "kind"},
        }
    )
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"name": None})
    assert not validator.is_valid({"name": 3})
    assert "discriminator" not in schema


@dataclass
class Document:
    """The Cloud OpenAPI document, converted for ``jsonschema``."""

    raw: dict[str, Any]

    def __post_init__(self) -> None:
        self.converted = to_json_schema(self.raw)
        self.components = self.converted["components"]
        event_refs = self.raw["components"]["schemas"]["Event-Output"]["oneOf"]
        self.event_kinds = {
            self.raw["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]["properties"]["kind"][
                "const"
            ]
            for ref in event_refs
        }

    def has_route(self, method: str, template: str) -> bool:
        return method.lower() in self.raw["paths"].get(template, {})

    def response_schema(self, method: str, template: str, status: int) -> dict[str, Any]:
        """Return the schema of an answer; errors documented without a body get ours."""
        responses = self.converted["paths"][template][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {template} documents no {status} answer"
        content = responses[str(status)].get("content")
        if content is None:
            return ERROR_BODY
        return content["application/json"]["schema"]

    def check(self, schema: dict[str, Any], instance: Any, what: str) -> None:
        # `$ref`s point into "#/components/...": carry the components along with the schema.
        validator = Draft202012Validator({**schema, "components": self.components})
        errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.path))
        assert not errors, f"{what}:\n" + "\n".join(
            f"  at {list(error.absolute_path)}: {error.message[:300]}" for error in errors[:10]
        )

    def check_answer(self, method: str, template: str, response: httpx.Response) -> None:
        payload = self.without_future_events(response.json())
        self.check(
            self.response_schema(method, template, response.status_code),
            payload,
            f"{method} {template} -> {response.status_code}",
        )

    def check_component(self, name: str, instance: Any) -> None:
        self.check({"$ref": f"#/components/schemas/{name}"}, instance, name)

    def without_future_events(self, payload: Any) -> Any:
        """Drop events of kinds the document does not know (the demo has one on purpose)."""
        items = payload.get("items") if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            return payload
        unknown = [
            item
            for item in items
            if isinstance(item, dict)
            and "kind" in item
            and "timestamp" in item
            and item["kind"] not in self.event_kinds
        ]
        assert {item["kind"] for item in unknown} <= {UNKNOWN_FUTURE_KIND}
        kept = [item for item in items if item not in unknown]
        return {**payload, "items": kept} if isinstance(payload, dict) else kept


@pytest.fixture(scope="module")
def document() -> Document:
    if not OPENAPI_PATH.is_file():
        pytest.fail(
            f"The Cloud OpenAPI document is missing: expected {OPENAPI_PATH} (the shared "
            "reference folder next to the repository). The conformance tests cannot run "
            "without it; restore ../shared/reference/openhands-cloud.openapi.json.",
            pytrace=False,
        )
    return Document(json.loads(OPENAPI_PATH.read_text()))


@dataclass
class Samples:
    """Ids from the demo world the cases need."""

    api: httpx.Client
    fake: FakeAppServer
    running: dict[str, Any]
    paused: dict[str, Any]
    events_path: str

    def ids(self, path: str, **params: Any) -> list[str]:
        return [item["id"] for item in self.api.get(path, params=params).json()["items"]]


@pytest.fixture
def samples(api: httpx.Client, fake_app_server: FakeAppServer) -> Samples:
    fake_app_server.freeze_clock()
    conversations = api.get("/app-conversations/search").json()["items"]
    running = next(item for item in conversations if item["title"].startswith("<script>"))
    paused = next(item for item in conversations if item["sandbox_status"] == "PAUSED")
    quantum = next(item for item in conversations if item["title"].startswith("Translate"))
    return Samples(
        api=api,
        fake=fake_app_server,
        running=running,
        paused=paused,
        events_path=f"/conversation/{quantum['id']}/events",
    )


Case = Callable[[Samples], list[httpx.Response]]
CONVERSATION = "/app-conversations/{id}"


def _start_body() -> dict[str, Any]:
    return {
        "initial_message": {
            "role": "user",
            "content": [{"type": "text", "text": "Hello"}],
            "run": True,
        },
        "selected_repository": "acme-corp/storefront",
    }


def _stream_start(samples: Samples) -> list[httpx.Response]:
    response = samples.api.post("/app-conversations/stream-start", json=_start_body())
    tasks = json.loads(response.content)
    assert tasks[-1]["status"] == "READY"
    return [response]


def _start_task_ids(samples: Samples) -> list[str]:
    task = samples.api.post("/app-conversations", json=_start_body()).json()
    return [task["id"], uuid.uuid4().hex]


def _download(samples: Samples, document: Document) -> list[httpx.Response]:
    conversation_id = samples.events_path.split("/")[2]
    response = samples.api.get(f"/app-conversations/{conversation_id}/download")
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    document.check_component("AppConversation", json.loads(archive.read("meta.json")))
    events = [json.loads(archive.read(name)) for name in archive.namelist()[1:]]
    for event in document.without_future_events(events):
        document.check_component("Event-Output", event)
    return []


def cases(document: Document) -> dict[str, Case]:
    """Return, per route name, the requests whose answers must match the document."""

    def conversation(samples: Samples, suffix: str = "") -> str:
        return CONVERSATION.format(id=samples.running["id"]) + suffix

    def paused(samples: Samples, suffix: str) -> str:
        return CONVERSATION.format(id=samples.paused["id"]) + suffix

    return {
        "GET /alive": lambda s: [httpx.get(f"{s.fake.base_url}/alive")],
        "GET /health": lambda s: [httpx.get(f"{s.fake.base_url}/health")],
        "GET /ready": lambda s: [httpx.get(f"{s.fake.base_url}/ready")],
        "GET /api/v1/app-conversations/search": lambda s: [
            s.api.get("/app-conversations/search", params={"include_sub_conversations": True}),
            s.api.get("/app-conversations/search", params={"limit": 0}),
        ],
        "GET /api/v1/app-conversations/count": lambda s: [
            s.api.get("/app-conversations/count"),
            s.api.get("/app-conversations/count", params={"created_at__gte": "soon"}),
        ],
        "GET /api/v1/app-conversations/start-tasks/search": lambda s: [
            s.api.get("/app-conversations/start-tasks/search"),
            s.api.get("/app-conversations/start-tasks/search", params={"sort_order": "X"}),
        ],
        "GET /api/v1/app-conversations/start-tasks/count": lambda s: [
            s.api.get("/app-conversations/start-tasks/count"),
        ],
        "GET /api/v1/app-conversations/start-tasks": lambda s: [
            s.api.get("/app-conversations/start-tasks", params={"ids": _start_task_ids(s)}),
            s.api.get("/app-conversations/start-tasks", params={"ids": "not-a-uuid"}),
        ],
        "POST /api/v1/app-conversations/stream-start": _stream_start,
        "GET /api/v1/app-conversations": lambda s: [
            s.api.get("/app-conversations", params={"ids": [s.running["id"], uuid.uuid4().hex]}),
            s.api.get("/app-conversations"),
        ],
        "POST /api/v1/app-conversations": lambda s: [
            s.api.post("/app-conversations", json=_start_body()),
            s.api.post("/app-conversations", json={"pr_number": "seven"}),
        ],
        "PATCH /api/v1/app-conversations/{conversation_id}": lambda s: [
            s.api.patch(conversation(s), json={"title": "Renamed", "public": True}),
            s.api.patch(conversation(s), json={"public": "maybe"}),
        ],
        "DELETE /api/v1/app-conversations/{conversation_id}": lambda s: [
            s.api.delete(paused(s, "")),
            s.api.delete(paused(s, "")),
        ],
        "POST /api/v1/app-conversations/{conversation_id}/send-message": lambda s: [
            s.api.post(
                conversation(s, "/send-message"),
                json={"content": [{"type": "text", "text": "More, please."}]},
            ),
            s.api.post(conversation(s, "/send-message"), json={"content": []}),
            s.api.post(
                paused(s, "/send-message"), json={"content": [{"type": "text", "text": "Hello?"}]}
            ),
            s.api.post(
                f"/app-conversations/{uuid.uuid4().hex}/send-message",
                json={"content": [{"type": "text", "text": "Anyone?"}]},
            ),
        ],
        "GET /api/v1/app-conversations/{conversation_id}/skills": lambda s: [
            s.api.get(conversation(s, "/skills")),
        ],
        "GET /api/v1/app-conversations/{conversation_id}/hooks": lambda s: [
            s.api.get(conversation(s, "/hooks")),
        ],
        "GET /api/v1/app-conversations/{conversation_id}/git/changes": lambda s: [
            s.api.get(conversation(s, "/git/changes"), params={"path": "/workspace/project"}),
            s.api.get(conversation(s, "/git/changes")),
        ],
        "GET /api/v1/app-conversations/{conversation_id}/git/diff": lambda s: [
            s.api.get(
                conversation(s, "/git/diff"), params={"path": "/workspace/project/README.md"}
            ),
        ],
        "GET /api/v1/app-conversations/{conversation_id}/file": lambda s: [
            s.api.get(conversation(s, "/file")),
            s.api.get("/app-conversations/not-a-uuid/file"),
        ],
        "GET /api/v1/app-conversations/{conversation_id}/download": (
            lambda s: _download(s, document)
        ),
        "GET /api/v1/sandboxes/search": lambda s: [
            s.api.get("/sandboxes/search"),
            s.api.get("/sandboxes/search", params={"limit": 500}),
        ],
        "GET /api/v1/sandboxes": lambda s: [
            s.api.get("/sandboxes", params={"id": [*s.ids("/sandboxes/search"), "gone"]}),
            s.api.get("/sandboxes"),
        ],
        "POST /api/v1/sandboxes": lambda s: [s.api.post("/sandboxes")],
        "POST /api/v1/sandboxes/{sandbox_id}/pause": lambda s: [
            s.api.post(f"/sandboxes/{s.running['sandbox_id']}/pause"),
            s.api.post("/sandboxes/no-such-sandbox/pause"),
        ],
        "POST /api/v1/sandboxes/{sandbox_id}/resume": lambda s: [
            s.api.post(f"/sandboxes/{s.paused['sandbox_id']}/resume"),
        ],
        "DELETE /api/v1/sandboxes/{id}": lambda s: [
            s.api.delete(
                f"/sandboxes/{s.paused['sandbox_id']}",
                params={"sandbox_id": s.paused["sandbox_id"]},
            ),
            s.api.delete(
                f"/sandboxes/{s.paused['sandbox_id']}",
                params={"sandbox_id": s.paused["sandbox_id"]},
            ),
            s.api.delete(f"/sandboxes/{s.paused['sandbox_id']}"),
        ],
        "GET /api/v1/sandbox-specs/search": lambda s: [s.api.get("/sandbox-specs/search")],
        "GET /api/v1/sandbox-specs": lambda s: [
            s.api.get("/sandbox-specs", params={"id": [*s.ids("/sandbox-specs/search"), "x"]}),
        ],
        "GET /api/v1/conversation/{conversation_id}/events/search": lambda s: [
            s.api.get(f"{s.events_path}/search"),
            s.api.get(
                f"{s.events_path}/search",
                params={"sort_order": "TIMESTAMP_DESC", "limit": 7, "page_id": "7"},
            ),
            s.api.get(f"{s.events_path}/search", params={"kind__eq": "Nope"}),
        ],
        "GET /api/v1/conversation/{conversation_id}/events/count": lambda s: [
            s.api.get(f"{s.events_path}/count", params={"kind__eq": "MessageEvent"}),
        ],
        "GET /api/v1/conversation/{conversation_id}/events": lambda s: [
            s.api.get(
                s.events_path, params={"id": [*s.ids(f"{s.events_path}/search"), str(uuid.uuid4())]}
            ),
        ],
        "GET /api/v1/users/me": lambda s: [s.api.get("/users/me")],
    }


@pytest.mark.parametrize("route", API_ROUTES.routes, ids=lambda route: route.name)
def test_route_answers_match_the_cloud_openapi_document(
    route: Any, document: Document, samples: Samples
) -> None:
    assert document.has_route(route.method, route.template), (
        f"{route.name} is not in the Cloud OpenAPI document"
    )
    case = cases(document).get(route.name)
    assert case is not None, f"no conformance case for {route.name}: add one"
    for response in case(samples):
        assert response.headers["content-type"].startswith("application/json"), response.text
        document.check_answer(route.method, route.template, response)
