"""Client for the agent server inside a sandbox: shell commands, files, git, VS Code, events.

Its global file, bash and git routes are not confined to any folder (see
reference/agent-server.md): callers that pass on user-supplied paths must confine them first.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from apps.openhands import shapes
from apps.openhands.downloads import check_destination, write_atomically, write_to_stream
from apps.openhands.errors import ConflictError, OpenHandsError
from apps.openhands.paging import check_limit
from apps.openhands.records import (
    BashCommand,
    BashOutput,
    DownloadResult,
    Event,
    GitChange,
    Page,
    Sandbox,
)
from apps.openhands.transport import CallKind, Clock, ServiceNames, Transport, TransportClient

logger = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 2
# The server's own default when a command gives no timeout.
SERVER_DEFAULT_COMMAND_TIMEOUT = 300
# `execute_bash_command` answers only when the command ends: give the HTTP read that much more.
COMMAND_TIMEOUT_MARGIN = 30.0
FILE_NOT_FOUND_DETAIL = "File not found"
# What the agent server's 503 says when it runs without VS Code (`enable_vscode=false`).
VSCODE_DISABLED_DETAIL = "vscode is disabled"

# The module of each event class in the SDK (identical in 1.34.0 and 1.58.2). Before 1.58 the
# agent server matches the events `kind` filter against the full class path only: 1.34.0, the
# one inside openhands-ai 1.11 sandboxes, answers [] for "MessageEvent". 1.58 accepts both the
# bare name and the path, so the client always sends the path. This keeps filtering, paging
# and counting on the server (filtering pages client-side would make a count read every event
# and pages come back short). Names not listed here are sent as given: a kind newer than this
# table only exists on servers that accept bare names.
_SDK_EVENTS = "openhands.sdk.event"
EVENT_CLASS_MODULES = {
    "ACPToolCallEvent": f"{_SDK_EVENTS}.acp_tool_call",
    "ActionEvent": f"{_SDK_EVENTS}.llm_convertible.action",
    "AgentErrorEvent": f"{_SDK_EVENTS}.llm_convertible.observation",
    "Condensation": f"{_SDK_EVENTS}.condenser",
    "CondensationRequest": f"{_SDK_EVENTS}.condenser",
    "CondensationSummaryEvent": f"{_SDK_EVENTS}.condenser",
    "ConversationErrorEvent": f"{_SDK_EVENTS}.conversation_error",
    "ConversationStateUpdateEvent": f"{_SDK_EVENTS}.conversation_state",
    "HookExecutionEvent": f"{_SDK_EVENTS}.hook_execution",
    "InterruptEvent": f"{_SDK_EVENTS}.user_action",
    "LLMCompletionLogEvent": f"{_SDK_EVENTS}.llm_completion_log",
    "MessageEvent": f"{_SDK_EVENTS}.llm_convertible.message",
    "ObservationEvent": f"{_SDK_EVENTS}.llm_convertible.observation",
    "PauseEvent": f"{_SDK_EVENTS}.user_action",
    "SecurityAnalysisEvent": f"{_SDK_EVENTS}.security",
    "ServerErrorEvent": "openhands.agent_server.models",
    "StreamingDeltaEvent": f"{_SDK_EVENTS}.streaming_delta",
    "SystemPromptEvent": f"{_SDK_EVENTS}.llm_convertible.system",
    "TokenEvent": f"{_SDK_EVENTS}.token",
    "UserRejectObservation": f"{_SDK_EVENTS}.llm_convertible.observation",
}

AGENT_SERVER_NAMES = ServiceNames(
    service="agent server",
    credential="session key",
    credential_advice=(
        "Session keys change when a sandbox is paused and resumed: read the sandbox again "
        "for its current key."
    ),
)


class AgentServerClient(TransportClient):
    """Call one agent server with its sandbox's session key (`X-Session-API-Key`)."""

    def __init__(
        self,
        base_url: str,
        session_api_key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        user_agent: str | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        key = (session_api_key or "").strip() or None
        self._http = Transport(
            base_url,
            names=AGENT_SERVER_NAMES,
            headers={"X-Session-API-Key": key} if key else {},
            credential=key,
            transport=transport,
            max_retries=max_retries,
            user_agent=user_agent,
            clock=clock,
            rng=rng,
        )
        self.base_url = self._http.server_url

    @classmethod
    def for_sandbox(cls, sandbox: Sandbox, **kwargs: Any) -> AgentServerClient:
        """Return a client for a RUNNING sandbox's agent server, with its current session key."""
        if sandbox.status != "RUNNING":
            raise ConflictError(
                f"Sandbox {sandbox.id} is {sandbox.status or 'in an unknown state'}, so its agent "
                "server cannot be reached. Resume it and wait until it is RUNNING."
            )
        url = sandbox.agent_server_url
        if not url:
            raise ConflictError(
                f"Sandbox {sandbox.id} is RUNNING but lists no AGENT_SERVER URL yet. Read the "
                "sandbox again in a moment."
            )
        return cls(url, sandbox.session_api_key, **kwargs)

    def __repr__(self) -> str:
        return f"AgentServerClient(base_url={self.base_url!r})"

    # Server -------------------------------------------------------------------------------

    def health(self) -> bool:
        """Return True if the server answers its health check, False if it does not."""
        try:
            self._http.request("GET", "/health", max_retries=0)
        except OpenHandsError as exc:
            logger.info("Agent server health check failed: %s", exc)
            return False
        return True

    def server_info(self) -> dict[str, Any]:
        """Return version, uptime and `idle_time` (seconds since the last action)."""
        return self._http.call("GET", "/server_info", shapes.json_object)

    # Bash ---------------------------------------------------------------------------------

    def execute_bash(
        self, command: str, *, cwd: str | None = None, timeout: int | None = None
    ) -> BashOutput:
        """Run a command with `/bin/sh -c` and wait for it; a non-zero exit is not an error."""
        wait = SERVER_DEFAULT_COMMAND_TIMEOUT if timeout is None else timeout
        return self._http.call(
            "POST",
            "/api/bash/execute_bash_command",
            shapes.record(BashOutput),
            json_body=_command_body(command, cwd, timeout),
            timeout=wait + COMMAND_TIMEOUT_MARGIN,
        )

    def start_bash(
        self, command: str, *, cwd: str | None = None, timeout: int | None = None
    ) -> BashCommand:
        """Start a command in the background; follow it with search_bash_events."""
        return self._http.call(
            "POST",
            "/api/bash/start_bash_command",
            shapes.record(BashCommand),
            json_body=_command_body(command, cwd, timeout),
        )

    def search_bash_events(
        self,
        *,
        command_id: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        page_id: str | None = None,
    ) -> Page[dict[str, Any]]:
        """Return one page of BashCommand / BashOutput events."""
        return self._http.call(
            "GET",
            "/api/bash/bash_events/search",
            shapes.page(shapes.json_object),
            params={
                "command_id__eq": command_id,
                "kind__eq": kind,
                "limit": check_limit(limit),
                "page_id": page_id,
            },
        )

    def stop_bash(self, command_id: str) -> bool:
        """Stop a background command (its output then ends with exit code -15)."""
        return self._http.call(
            "POST", f"/api/bash/bash_commands/{_segment(command_id)}/stop", shapes.success
        )

    # Files --------------------------------------------------------------------------------

    def upload_file(
        self, remote_path: str, source: str | Path | BinaryIO, *, filename: str | None = None
    ) -> int:
        """Upload a local file or a binary stream (sent from its start) to an absolute path.

        Return the number of bytes stored. Parent folders are created; an existing file is
        replaced.
        """
        remote = _absolute(remote_path)
        name = filename or PurePosixPath(remote).name
        with ExitStack() as stack:
            body = _UploadBody(source, stack)

            def files() -> dict[str, Any]:
                return {"file": (name, body.open(), "application/octet-stream")}

            answer = self._with_legacy_route(
                lambda: self._http.call(
                    "POST",
                    "/api/file/upload",
                    shapes.json_object,
                    params={"path": remote},
                    files=files,
                    timeout=CallKind.SLOW,
                ),
                lambda: self._http.call(
                    "POST",
                    f"/api/file/upload/{_path_route(remote)}",
                    shapes.json_object,
                    files=files,
                    timeout=CallKind.SLOW,
                ),
            )
            stored = answer.get("file_size")
            # Servers before the `file_size` field answer only {"success": true}.
            return stored if isinstance(stored, int) else body.size

    def download_file(self, remote_path: str, dest: str | Path | BinaryIO) -> DownloadResult:
        """Download a file in constant memory, to a path (atomically) or a binary stream."""
        remote = _absolute(remote_path)
        target = check_destination(dest) if isinstance(dest, str | Path) else dest
        return self._with_legacy_route(
            lambda: self._download("/api/file/download", {"path": remote}, target),
            lambda: self._download(f"/api/file/download/{_path_route(remote)}", None, target),
        )

    def create_directory(self, path: str) -> bool:
        """Create a folder and its parents (nothing happens if it exists)."""
        return self._http.call(
            "POST", "/api/file/create_directory", shapes.success, params={"path": _absolute(path)}
        )

    def search_subdirs(
        self, path: str, *, limit: int = 100, page_id: str | None = None
    ) -> Page[dict[str, Any]]:
        """Return one page of `{name, path}` for the folders directly inside `path`."""
        return self._http.call(
            "GET",
            "/api/file/search_subdirs",
            shapes.page(shapes.json_object),
            params={"path": _absolute(path), "limit": check_limit(limit), "page_id": page_id},
        )

    def workspace_home(self) -> dict[str, Any]:
        """Return `{home, favorites, locations}` of the server's user."""
        return self._http.call("GET", "/api/file/home", shapes.json_object)

    # Git ----------------------------------------------------------------------------------

    def git_changes(self, path: str, ref: str | None = None) -> list[GitChange]:
        """Return the changed files of the repository at `path` (against `ref` or upstream)."""
        parse = shapes.records(GitChange)
        return self._with_legacy_route(
            lambda: self._http.call(
                "GET", "/api/git/changes", parse, params={"path": path, "ref": ref}
            ),
            lambda: self._http.call(
                "GET", f"/api/git/changes/{_path_route(path)}", parse, params={"ref": ref}
            ),
        )

    def git_diff(self, path: str, ref: str | None = None) -> dict[str, Any]:
        """Return `{modified, original}`: the full texts of one file, not a patch."""
        return self._with_legacy_route(
            lambda: self._http.call(
                "GET", "/api/git/diff", shapes.json_object, params={"path": path, "ref": ref}
            ),
            lambda: self._http.call(
                "GET", f"/api/git/diff/{_path_route(path)}", shapes.json_object, params={"ref": ref}
            ),
        )

    def git_commits(self, path: str, limit: int = 50) -> dict[str, Any]:
        """Return `{commits: [{sha, short_sha, subject, author, timestamp}], has_more}`."""
        return self._http.call(
            "GET", "/api/git/commits", shapes.json_object, params={"path": path, "limit": limit}
        )

    # VS Code and conversations ------------------------------------------------------------

    def vscode_url(
        self, *, base_url: str | None = None, workspace_dir: str | None = None
    ) -> str | None:
        """Return the VS Code link (it embeds the session key: never log or store it).

        Return None when VS Code is not running (`{"url": null}`) or is disabled on the server
        (503 "VSCode is disabled"); any other failure raises.
        """
        try:
            answer = self._http.call(
                "GET",
                "/api/vscode/url",
                shapes.json_object,
                params={"base_url": base_url, "workspace_dir": workspace_dir},
                # "Disabled" is the server's configuration, not a passing fault: asking again
                # would only delay the answer by the retry back-off.
                max_retries=0,
            )
        except OpenHandsError as exc:
            if _vscode_disabled(exc):
                logger.info("VS Code is disabled on the agent server at %s", self.base_url)
                return None
            raise
        url = answer.get("url")
        return url if isinstance(url, str) and url else None

    def search_conversation_events(
        self,
        conversation_id: str,
        *,
        kind: str | None = None,
        limit: int = 100,
        page_id: str | None = None,
    ) -> Page[Event]:
        """Return one page of a conversation's events, live from the agent server.

        `kind` is an event kind ("MessageEvent") or an SDK class path; both work on every
        server version.
        """
        return self._http.call(
            "GET",
            f"/api/conversations/{_segment(conversation_id)}/events/search",
            shapes.page(shapes.record(Event)),
            params={
                "kind": qualified_event_kind(kind),
                "limit": check_limit(limit),
                "page_id": page_id,
            },
        )

    def count_conversation_events(self, conversation_id: str, *, kind: str | None = None) -> int:
        """Return how many events (of `kind`, as in search) a conversation has on the server."""
        return self._http.call(
            "GET",
            f"/api/conversations/{_segment(conversation_id)}/events/count",
            shapes.count,
            params={"kind": qualified_event_kind(kind)},
        )

    # Helpers ------------------------------------------------------------------------------

    def _download(
        self, path: str, params: dict[str, Any] | None, target: Path | BinaryIO
    ) -> DownloadResult:
        with self._http.stream("GET", path, params=params, timeout=CallKind.SLOW) as response:
            chunks = self._http.iter_bytes(response)
            if isinstance(target, Path):
                return write_atomically(chunks, target)
            return write_to_stream(chunks, target)

    def _with_legacy_route[T](self, current: Callable[[], T], legacy: Callable[[], T]) -> T:
        """Call the `?path=` route, or the path-style route on servers older than 1.14.

        Those servers have no `?path=` route: they answer 404 "Not Found" (not the handler's
        "File not found"), or redirect to the path-style route with an empty path.
        """
        try:
            return current()
        except OpenHandsError as exc:
            if not _route_missing(exc):
                raise
            logger.info(
                "The agent server at %s lacks %s; trying the older path-style route",
                self.base_url,
                exc.url,
            )
            return legacy()


class _UploadBody:
    """Hand httpx the upload body once per attempt: a fresh file handle, or the rewound stream."""

    def __init__(self, source: str | Path | BinaryIO, stack: ExitStack) -> None:
        self._source = source
        self._stack = stack
        self._sends = 0
        self._known_size = 0
        self._counter: _CountingReader | None = None

    @property
    def size(self) -> int:
        """Return the number of bytes of the body (as counted while sending, for a pipe)."""
        return self._counter.count if self._counter else self._known_size

    def open(self) -> Any:
        """Return a readable object positioned at the start of the body."""
        self._sends += 1
        if isinstance(self._source, str | Path):
            # Closed by the caller's ExitStack once the upload is over.
            handle = self._stack.enter_context(Path(self._source).open("rb"))  # noqa: SIM115
            self._known_size = os.fstat(handle.fileno()).st_size
            return handle
        stream = self._source
        if stream.seekable():
            self._known_size = stream.seek(0, os.SEEK_END)
            stream.seek(0)
            return stream
        if self._sends > 1:
            raise ValueError(
                "The upload had to be sent again but its source stream cannot be rewound; "
                "pass a file path or a seekable stream."
            )
        self._counter = _CountingReader(stream)
        return self._counter


class _CountingReader:
    """Count the bytes httpx reads from a stream that cannot tell its own size."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data


def qualified_event_kind(kind: str | None) -> str | None:
    """Return the SDK class path of an event kind, which every agent server's filter accepts.

    A class path, or a kind this client does not know, is returned as given.
    """
    if kind is None:
        return None
    module = EVENT_CLASS_MODULES.get(kind.strip())
    return f"{module}.{kind.strip()}" if module else kind


def _vscode_disabled(exc: OpenHandsError) -> bool:
    return exc.status_code == 503 and VSCODE_DISABLED_DETAIL in (exc.detail or "").lower()


def _route_missing(exc: OpenHandsError) -> bool:
    if exc.status_code is None:
        return False
    if 300 <= exc.status_code <= 399:
        return True
    return exc.status_code == 404 and exc.detail != FILE_NOT_FOUND_DETAIL


def _command_body(command: str, cwd: str | None, timeout: int | None) -> dict[str, Any]:
    if not isinstance(command, str) or not command.strip():
        raise ValueError("The command must not be empty")
    if timeout is not None and (isinstance(timeout, bool) or timeout <= 0):
        raise ValueError(f"The command timeout must be a positive number of seconds, got {timeout}")
    body: dict[str, Any] = {"command": command}
    if cwd is not None:
        body["cwd"] = cwd
    if timeout is not None:
        body["timeout"] = timeout
    return body


def _absolute(path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"The agent server needs an absolute path, got {path!r}")
    return path


def _path_route(path: str) -> str:
    """Return `path` for the old `/{path:path}` routes, which read the absolute path after the
    route's own slash (hence the double slash for `/workspace/...`)."""
    return quote(path, safe="/")


def _segment(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"The id must be a non-empty string, got {value!r}")
    return quote(value.strip(), safe="")
