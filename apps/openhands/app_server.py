"""Client for an OpenHands V1 App Server: the Cloud (app.all-hands.dev) or a self-hosted one.

Every method maps to one documented `/api/v1` endpoint (see reference/app-server-v1.md), except
the `iter_*` helpers (which follow pages), the batch helpers (which split ids into chunks the
server accepts), and the `wait_*` helpers (which poll).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from apps.openhands import shapes
from apps.openhands.dates import to_query_datetime
from apps.openhands.downloads import check_destination, write_atomically
from apps.openhands.errors import NotFoundError, TransportError, WaitTimeoutError
from apps.openhands.jsonstream import IncompleteJSONArrayError, JSONArrayStream
from apps.openhands.paging import MAX_PAGE_SIZE, check_limit, fetch_in_chunks, iterate_pages
from apps.openhands.records import (
    Conversation,
    DownloadResult,
    Event,
    Page,
    Record,
    Sandbox,
    SandboxSpec,
    StartTask,
    User,
)
from apps.openhands.transport import (
    DEFAULT_MAX_RETRIES,
    READ_TIMEOUTS,
    CallKind,
    Clock,
    ServiceNames,
    Transport,
    TransportClient,
)

DEFAULT_BASE_URL = "https://app.all-hands.dev"
API_PREFIX = "/api/v1"
# How many ids each batch lookup accepts per call (more gives 400).
CONVERSATIONS_PER_BATCH = 99
START_TASKS_PER_BATCH = 100
SANDBOXES_PER_BATCH = 100
SANDBOX_SPECS_PER_BATCH = 100
EVENTS_PER_BATCH = 100
# `stream-start` stays silent while the server waits (up to 120 s) for a sandbox to start.
STREAM_START_READ_TIMEOUT = READ_TIMEOUTS[CallKind.START] + 30.0
UPDATABLE_CONVERSATION_FIELDS = frozenset(
    {"title", "public", "selected_repository", "selected_branch", "git_provider"}
)

type When = datetime | str | None

APP_SERVER_NAMES = ServiceNames(
    service="App Server",
    credential="API key",
    credential_advice="Check the key, or whether it was revoked.",
)


@dataclass(frozen=True)
class _BatchLookup[R: Record]:
    """One batch lookup endpoint: `GET path?<id_param>=a&<id_param>=b`, one record or null each."""

    path: str
    id_param: str
    chunk_size: int
    record_type: type[R]
    label: str  # one, for messages: "Start task"
    plural: str  # many, for messages: "start tasks"


_CONVERSATION_LOOKUP = _BatchLookup(
    "/app-conversations",
    "ids",
    CONVERSATIONS_PER_BATCH,
    Conversation,
    "Conversation",
    "conversations",
)
_START_TASK_LOOKUP = _BatchLookup(
    "/app-conversations/start-tasks",
    "ids",
    START_TASKS_PER_BATCH,
    StartTask,
    "Start task",
    "start tasks",
)
# The sandbox, sandbox spec and event lookups take a singular `id` parameter.
_SANDBOX_LOOKUP = _BatchLookup(
    "/sandboxes", "id", SANDBOXES_PER_BATCH, Sandbox, "Sandbox", "sandboxes"
)
_SANDBOX_SPEC_LOOKUP = _BatchLookup(
    "/sandbox-specs", "id", SANDBOX_SPECS_PER_BATCH, SandboxSpec, "Sandbox spec", "sandbox specs"
)


class AuthStyle(StrEnum):
    """Say how the API key is sent."""

    BEARER = "bearer"  # Cloud API key: `Authorization: Bearer <key>`
    SESSION_KEY = "session_key"  # self-hosted server's shared key: `X-Session-API-Key: <key>`
    NONE = "none"  # unauthenticated local server


class AppServerClient(TransportClient):
    """Call the `/api/v1` endpoints of one App Server with one API key (and optional org)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        auth_style: AuthStyle | str = AuthStyle.BEARER,
        org_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        user_agent: str | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.auth_style = AuthStyle(auth_style)
        self.org_id = org_id or None
        key = (api_key or "").strip() or None
        if self.auth_style is AuthStyle.NONE:
            key = None
        headers = _auth_headers(self.auth_style, key)
        if self.org_id:
            headers["X-Org-Id"] = self.org_id
        self._http = Transport(
            base_url,
            names=APP_SERVER_NAMES,
            api_prefix=API_PREFIX,
            headers=headers,
            credential=key,
            org_id=self.org_id,
            transport=transport,
            max_retries=max_retries,
            user_agent=user_agent,
            clock=clock,
            rng=rng,
        )
        self.base_url = self._http.server_url

    def __repr__(self) -> str:
        return (
            f"AppServerClient(base_url={self.base_url!r}, auth_style={self.auth_style.value!r}, "
            f"org_id={self.org_id!r})"
        )

    # Conversations ------------------------------------------------------------------------

    def search_conversations(
        self,
        *,
        title_contains: str | None = None,
        created_at_gte: When = None,
        created_at_lt: When = None,
        updated_at_gte: When = None,
        updated_at_lt: When = None,
        sandbox_id: str | None = None,
        include_sub_conversations: bool = False,
        limit: int = MAX_PAGE_SIZE,
        page_id: str | None = None,
    ) -> Page[Conversation]:
        """Return one page of conversations, newest first (the server ignores any sort order)."""
        params = _conversation_filters(
            title_contains, created_at_gte, created_at_lt, updated_at_gte, updated_at_lt, sandbox_id
        )
        params |= _page_params(limit, page_id)
        if include_sub_conversations:
            params["include_sub_conversations"] = True
        return self._http.call(
            "GET",
            "/app-conversations/search",
            shapes.page(shapes.record(Conversation)),
            params=params,
        )

    def iter_conversations(
        self,
        *,
        title_contains: str | None = None,
        created_at_gte: When = None,
        created_at_lt: When = None,
        updated_at_gte: When = None,
        updated_at_lt: When = None,
        sandbox_id: str | None = None,
        include_sub_conversations: bool = False,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Conversation]:
        """Yield every matching conversation once, following pages until the last."""
        return iterate_pages(
            lambda page_id: self.search_conversations(
                title_contains=title_contains,
                created_at_gte=created_at_gte,
                created_at_lt=created_at_lt,
                updated_at_gte=updated_at_gte,
                updated_at_lt=updated_at_lt,
                sandbox_id=sandbox_id,
                include_sub_conversations=include_sub_conversations,
                limit=page_size,
                page_id=page_id,
            ),
            what="conversations",
        )

    def count_conversations(
        self,
        *,
        title_contains: str | None = None,
        created_at_gte: When = None,
        created_at_lt: When = None,
        updated_at_gte: When = None,
        updated_at_lt: When = None,
        sandbox_id: str | None = None,
    ) -> int:
        """Return how many conversations match (sub-conversations included, unlike search)."""
        params = _conversation_filters(
            title_contains, created_at_gte, created_at_lt, updated_at_gte, updated_at_lt, sandbox_id
        )
        return self._http.call("GET", "/app-conversations/count", shapes.count, params=params)

    def get_conversations(self, ids: Sequence[str]) -> list[Conversation | None]:
        """Return the conversations for `ids` in the same order, None for unknown ones."""
        return self._get_batch(_CONVERSATION_LOOKUP, ids)

    def get_conversation(self, conversation_id: str) -> Conversation:
        """Return one conversation (there is no single-item GET; this asks the batch endpoint)."""
        return self._get_one(_CONVERSATION_LOOKUP, conversation_id)

    def start_conversation(
        self,
        request: Mapping[str, Any] | None = None,
        *,
        message: str | None = None,
        **fields: Any,
    ) -> StartTask:
        """Start a conversation and return its start task (poll it with wait_for_start_task)."""
        return self._http.call(
            "POST",
            "/app-conversations",
            shapes.record(StartTask),
            json_body=_start_request(request, message, fields),
            timeout=CallKind.START,
        )

    def stream_start_conversation(
        self,
        request: Mapping[str, Any] | None = None,
        *,
        message: str | None = None,
        **fields: Any,
    ) -> Iterator[StartTask]:
        """Start a conversation and yield each state of its start task as the server sends it.

        The request is sent when iteration begins; the last task is READY or ERROR.
        """
        body = _start_request(request, message, fields)
        with self._http.stream(
            "POST",
            "/app-conversations/stream-start",
            json_body=body,
            timeout=STREAM_START_READ_TIMEOUT,
        ) as response:
            self._http.require_json_content_type(response)
            parser = JSONArrayStream()
            for text in self._http.iter_text(response):
                try:
                    tasks = [
                        StartTask.from_json(shapes.json_object(item)) for item in parser.feed(text)
                    ]
                except ValueError as exc:
                    raise self._http.not_json_error(
                        response, f"is not a JSON array of start tasks ({exc})"
                    ) from exc
                yield from tasks
            try:
                parser.close()
            except IncompleteJSONArrayError as exc:
                raise TransportError(
                    f"The App Server at {self.base_url} ended the stream-start answer before "
                    "the conversation was ready or failed. Check the start task with "
                    "search_start_tasks().",
                    method="POST",
                    url=self._http.describe_url("/app-conversations/stream-start"),
                ) from exc

    def wait_for_start_task(
        self, task_id: str, *, timeout: float = 180.0, poll_interval: float = 3.0
    ) -> StartTask:
        """Poll a start task until it is READY or ERROR; raise WaitTimeoutError if it is not."""
        return self._poll_until(
            lambda: self.get_start_task(task_id),
            lambda task: task.is_ready or task.is_error,
            timeout=timeout,
            poll_interval=poll_interval,
            describe=lambda task: f"Start task {task_id} is still {task.status}",
        )

    def get_start_tasks(self, ids: Sequence[str]) -> list[StartTask | None]:
        """Return the start tasks for `ids` in the same order, None for unknown ones."""
        return self._get_batch(_START_TASK_LOOKUP, ids)

    def get_start_task(self, task_id: str) -> StartTask:
        """Return one start task."""
        return self._get_one(_START_TASK_LOOKUP, task_id)

    def search_start_tasks(
        self,
        *,
        conversation_id: str | None = None,
        created_at_gte: When = None,
        sort_order: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        page_id: str | None = None,
    ) -> Page[StartTask]:
        """Return one page of start tasks (newest first unless `sort_order` says otherwise)."""
        params = _start_task_filters(conversation_id, created_at_gte)
        params |= {"sort_order": sort_order, **_page_params(limit, page_id)}
        return self._http.call(
            "GET",
            "/app-conversations/start-tasks/search",
            shapes.page(shapes.record(StartTask)),
            params=params,
        )

    def count_start_tasks(
        self, *, conversation_id: str | None = None, created_at_gte: When = None
    ) -> int:
        """Return how many start tasks match."""
        return self._http.call(
            "GET",
            "/app-conversations/start-tasks/count",
            shapes.count,
            params=_start_task_filters(conversation_id, created_at_gte),
        )

    def update_conversation(self, conversation_id: str, **fields: Any) -> Conversation:
        """Change a conversation's metadata; only the given fields are sent (None clears one)."""
        unknown = set(fields) - UPDATABLE_CONVERSATION_FIELDS
        if unknown:
            allowed = ", ".join(sorted(UPDATABLE_CONVERSATION_FIELDS))
            raise ValueError(f"Cannot update {', '.join(sorted(unknown))}; updatable: {allowed}")
        if not fields:
            raise ValueError("Give at least one field to update")
        return self._http.call(
            "PATCH",
            f"/app-conversations/{_segment(conversation_id)}",
            shapes.record(Conversation),
            json_body=fields,
        )

    def delete_conversation(self, conversation_id: str) -> bool:
        """Delete a conversation and its sub-conversations; its sandbox goes afterwards."""
        return self._http.call(
            "DELETE",
            f"/app-conversations/{_segment(conversation_id)}",
            shapes.success,
            timeout=CallKind.SLOW,
        )

    def send_message(self, conversation_id: str, text: str, *, run: bool = True) -> dict[str, Any]:
        """Send a follow-up user message; the sandbox must be RUNNING (409 when paused)."""
        return self._http.call(
            "POST",
            f"/app-conversations/{_segment(conversation_id)}/send-message",
            shapes.json_object,
            json_body={"role": "user", "content": [_text_content(text)], "run": run},
            # The server forwards to the agent server with its own 30 s timeout.
            timeout=CallKind.SLOW,
        )

    def get_skills(self, conversation_id: str) -> list[dict[str, Any]]:
        """Return the skills loaded for a conversation (empty while its sandbox is paused)."""
        return self._http.call(
            "GET",
            f"/app-conversations/{_segment(conversation_id)}/skills",
            shapes.objects_under("skills"),
        )

    def get_hooks(self, conversation_id: str) -> list[dict[str, Any]]:
        """Return the hooks configured for a conversation (empty while its sandbox is paused)."""
        return self._http.call(
            "GET",
            f"/app-conversations/{_segment(conversation_id)}/hooks",
            shapes.objects_under("hooks"),
        )

    def get_conversation_git_changes(
        self, conversation_id: str, path: str, ref: str | None = None
    ) -> list[Any]:
        """Return the git changes of the repository at `path` in the conversation's sandbox."""
        return self._http.call(
            "GET",
            f"/app-conversations/{_segment(conversation_id)}/git/changes",
            shapes.json_list,
            params={"path": path, "ref": ref},
        )

    def get_conversation_git_diff(
        self, conversation_id: str, path: str, ref: str | None = None
    ) -> dict[str, Any]:
        """Return `{modified, original}` texts of one file in the conversation's sandbox."""
        return self._http.call(
            "GET",
            f"/app-conversations/{_segment(conversation_id)}/git/diff",
            shapes.json_object,
            params={"path": path, "ref": ref},
        )

    def read_conversation_file(self, conversation_id: str, file_path: str) -> str:
        """Return a workspace file's text ("" if it is missing or the sandbox is not running)."""
        return self._http.call(
            "GET",
            f"/app-conversations/{_segment(conversation_id)}/file",
            shapes.json_string,
            params={"file_path": file_path},
        )

    def download_conversation(self, conversation_id: str, dest: str | Path) -> DownloadResult:
        """Download the trajectory zip to `dest` in constant memory; `dest` changes only if the
        whole body arrived (it is written to `dest.part`, synced, then renamed)."""
        path = check_destination(dest)
        with self._http.stream(
            "GET",
            f"/app-conversations/{_segment(conversation_id)}/download",
            timeout=CallKind.SLOW,
        ) as response:
            if "html" in response.headers.get("content-type", "").lower():
                raise self._http.not_json_error(response, "is an HTML page, not a zip file")
            return write_atomically(self._http.iter_bytes(response), path)

    def wait_until_terminal(
        self, conversation_id: str, *, timeout: float = 600.0, poll_interval: float = 5.0
    ) -> Conversation:
        """Poll a conversation until it is finished, errored or stuck."""
        return self._poll_until(
            lambda: self.get_conversation(conversation_id),
            lambda conversation: conversation.is_terminal,
            timeout=timeout,
            poll_interval=poll_interval,
            describe=_describe_unfinished,
        )

    # Sandboxes ----------------------------------------------------------------------------

    def search_sandboxes(
        self, *, limit: int = MAX_PAGE_SIZE, page_id: str | None = None
    ) -> Page[Sandbox]:
        """Return one page of the caller's sandboxes, newest first."""
        return self._http.call(
            "GET",
            "/sandboxes/search",
            shapes.page(shapes.record(Sandbox)),
            params=_page_params(limit, page_id),
        )

    def iter_sandboxes(self, *, page_size: int = MAX_PAGE_SIZE) -> Iterator[Sandbox]:
        """Yield every sandbox once, following pages until the last."""
        return iterate_pages(
            lambda page_id: self.search_sandboxes(limit=page_size, page_id=page_id),
            what="sandboxes",
        )

    def get_sandboxes(self, ids: Sequence[str]) -> list[Sandbox | None]:
        """Return the sandboxes for `ids` in the same order, None for unknown ones."""
        return self._get_batch(_SANDBOX_LOOKUP, ids)

    def get_sandbox(self, sandbox_id: str) -> Sandbox:
        """Return one sandbox."""
        return self._get_one(_SANDBOX_LOOKUP, sandbox_id)

    def start_sandbox(self, sandbox_spec_id: str | None = None) -> Sandbox:
        """Start a new sandbox (normally STARTING); the server may pause older ones first."""
        return self._http.call(
            "POST",
            "/sandboxes",
            shapes.record(Sandbox),
            params={"sandbox_spec_id": sandbox_spec_id},
            timeout=CallKind.START,
        )

    def pause_sandbox(self, sandbox_id: str) -> bool:
        """Pause a sandbox; its session key stops working."""
        return self._sandbox_action(sandbox_id, "pause")

    def resume_sandbox(self, sandbox_id: str) -> bool:
        """Resume a sandbox; it gets a new session key and is RUNNING a little later."""
        return self._sandbox_action(sandbox_id, "resume")

    def delete_sandbox(self, sandbox_id: str) -> bool:
        """Delete a sandbox and stop its runtime."""
        # The route reads the id from the query; the path segment is ignored but required.
        return self._http.call(
            "DELETE",
            f"/sandboxes/{_segment(sandbox_id)}",
            shapes.success,
            params={"sandbox_id": sandbox_id},
            timeout=CallKind.SLOW,
        )

    def search_sandbox_specs(
        self, *, limit: int = MAX_PAGE_SIZE, page_id: str | None = None
    ) -> Page[SandboxSpec]:
        """Return one page of sandbox specs (agent-server images)."""
        return self._http.call(
            "GET",
            "/sandbox-specs/search",
            shapes.page(shapes.record(SandboxSpec)),
            params=_page_params(limit, page_id),
        )

    def get_sandbox_specs(self, ids: Sequence[str]) -> list[SandboxSpec | None]:
        """Return the sandbox specs for `ids` in the same order, None for unknown ones."""
        return self._get_batch(_SANDBOX_SPEC_LOOKUP, ids)

    # Events -------------------------------------------------------------------------------

    def search_events(
        self,
        conversation_id: str,
        *,
        kind: str | None = None,
        timestamp_gte: When = None,
        timestamp_lt: When = None,
        sort_order: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        page_id: str | None = None,
    ) -> Page[Event]:
        """Return one page of a conversation's stored events (readable while paused too)."""
        params = _event_filters(kind, timestamp_gte, timestamp_lt)
        params |= {"sort_order": sort_order, **_page_params(limit, page_id)}
        return self._http.call(
            "GET",
            f"{_events_path(conversation_id)}/search",
            shapes.page(shapes.record(Event)),
            params=params,
        )

    def iter_events(
        self,
        conversation_id: str,
        *,
        kind: str | None = None,
        timestamp_gte: When = None,
        timestamp_lt: When = None,
        sort_order: str | None = None,
    ) -> Iterator[Event]:
        """Yield every matching event once, following pages until the last."""
        return iterate_pages(
            lambda page_id: self.search_events(
                conversation_id,
                kind=kind,
                timestamp_gte=timestamp_gte,
                timestamp_lt=timestamp_lt,
                sort_order=sort_order,
                page_id=page_id,
            ),
            what="events",
        )

    def count_events(
        self,
        conversation_id: str,
        *,
        kind: str | None = None,
        timestamp_gte: When = None,
        timestamp_lt: When = None,
    ) -> int:
        """Return how many stored events match (0 for an unknown conversation, not 404)."""
        return self._http.call(
            "GET",
            f"{_events_path(conversation_id)}/count",
            shapes.count,
            params=_event_filters(kind, timestamp_gte, timestamp_lt),
        )

    def get_events(self, conversation_id: str, ids: Sequence[str]) -> list[Event | None]:
        """Return the events for `ids` in the same order, None for unknown ones."""
        return self._get_batch(_event_lookup(conversation_id), ids)

    # Users --------------------------------------------------------------------------------

    def get_user(self) -> User:
        """Return the caller (on the Cloud: with the effective organization and role)."""
        return self._http.call("GET", "/users/me", shapes.record(User))

    # Raw reads ----------------------------------------------------------------------------

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Return the parsed JSON of a GET below /api/v1, without building records.

        For callers that must judge items one by one: the sync records and skips one malformed
        record instead of losing the 99 good ones on its page. Retries, error mapping and secret
        scrubbing are the same as for every other call.
        """
        return self._http.call("GET", path, _as_parsed, params=params)

    # Helpers ------------------------------------------------------------------------------

    def _sandbox_action(self, sandbox_id: str, action: str) -> bool:
        return self._http.call(
            "POST",
            f"/sandboxes/{_segment(sandbox_id)}/{action}",
            shapes.success,
            timeout=CallKind.SLOW,
        )

    def _get_batch[R: Record](self, lookup: _BatchLookup[R], ids: Sequence[str]) -> list[R | None]:
        """Look `ids` up in chunks the endpoint accepts; keep their order, None where unknown."""
        return fetch_in_chunks(
            ids,
            lookup.chunk_size,
            lambda chunk: self._http.call(
                "GET",
                lookup.path,
                shapes.records_or_none(lookup.record_type),
                params={lookup.id_param: chunk},
            ),
            what=lookup.plural,
        )

    def _get_one[R: Record](self, lookup: _BatchLookup[R], identifier: str) -> R:
        """Return the only result of a batch lookup, or raise NotFoundError if it is null."""
        found = self._get_batch(lookup, [_required(identifier, lookup.label)])[0]
        if found is None:
            raise NotFoundError(
                f"{lookup.label} {identifier} was not found at the App Server at {self.base_url}: "
                "the lookup answered null. It may have been deleted, or belong to another user or "
                "organization.",
                method="GET",
                url=self._http.describe_url(lookup.path, {lookup.id_param: identifier}),
            )
        return found

    def _poll_until[T](
        self,
        fetch: Callable[[], T],
        done: Callable[[T], bool],
        *,
        timeout: float,
        poll_interval: float,
        describe: Callable[[T], str],
    ) -> T:
        clock = self._http.clock
        deadline = clock.monotonic() + timeout
        while True:
            current = fetch()
            if done(current):
                return current
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"{describe(current)} after {timeout:g} s at the App Server at "
                    f"{self.base_url}. It may still get there; check again later."
                )
            clock.sleep(min(poll_interval, remaining))


def _auth_headers(style: AuthStyle, key: str | None) -> dict[str, str]:
    if key is None:
        return {}
    if style is AuthStyle.BEARER:
        return {"Authorization": f"Bearer {key}"}
    return {"X-Session-API-Key": key}


def _conversation_filters(
    title_contains: str | None,
    created_at_gte: When,
    created_at_lt: When,
    updated_at_gte: When,
    updated_at_lt: When,
    sandbox_id: str | None,
) -> dict[str, Any]:
    return {
        "title__contains": title_contains,
        "created_at__gte": _when(created_at_gte),
        "created_at__lt": _when(created_at_lt),
        "updated_at__gte": _when(updated_at_gte),
        "updated_at__lt": _when(updated_at_lt),
        "sandbox_id__eq": sandbox_id,
    }


def _start_task_filters(conversation_id: str | None, created_at_gte: When) -> dict[str, Any]:
    return {"conversation_id__eq": conversation_id, "created_at__gte": _when(created_at_gte)}


def _event_filters(kind: str | None, timestamp_gte: When, timestamp_lt: When) -> dict[str, Any]:
    return {
        "kind__eq": kind,
        "timestamp__gte": _when(timestamp_gte),
        "timestamp__lt": _when(timestamp_lt),
    }


def _page_params(limit: int, page_id: str | None) -> dict[str, Any]:
    return {"limit": check_limit(limit), "page_id": page_id}


def _when(value: When) -> str | None:
    return None if value is None else to_query_datetime(value)


def _start_request(
    request: Mapping[str, Any] | None, message: str | None, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Build an `AppConversationStartRequest` body from a dict, a message and extra fields."""
    body = {**(request or {}), **fields}
    if message is not None:
        if "initial_message" in body:
            raise ValueError("Give the first message either as message= or as initial_message")
        # `run` defaults to false on the server, which would leave the agent idle.
        body["initial_message"] = {"role": "user", "content": [_text_content(message)], "run": True}
    return body


def _text_content(text: str) -> dict[str, str]:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("The message text must not be empty")
    return {"type": "text", "text": text}


def _event_lookup(conversation_id: str) -> _BatchLookup[Event]:
    path = _events_path(conversation_id)
    return _BatchLookup(path, "id", EVENTS_PER_BATCH, Event, "Event", "events")


def _events_path(conversation_id: str) -> str:
    # Singular `conversation`: `/conversations/...` is a different router and answers 404.
    return f"/conversation/{_segment(conversation_id)}/events"


def _segment(value: str) -> str:
    """Return an id made safe for one URL path segment; an empty id would change the route."""
    return quote(_required(value, "id"), safe="")


def _required(value: str, label: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label} id must be a non-empty string, got {value!r}")
    return value.strip()


def _describe_unfinished(conversation: Conversation) -> str:
    status = conversation.execution_status or "unknown"
    text = f"Conversation {conversation.id} is still {status}"
    if conversation.sandbox_status and conversation.sandbox_status != "RUNNING":
        text += f" (its sandbox is {conversation.sandbox_status}; resume it to let it finish)"
    return text


def _as_parsed(data: Any) -> Any:
    return data
