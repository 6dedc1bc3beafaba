"""Typed, read-only views of the JSON the OpenHands servers return.

Each record is a frozen dataclass built with `Record.from_json(data)`. It keeps the whole JSON
object in `.raw`, ignores fields it does not know, and stores enum-like values (statuses,
kinds, providers) as plain strings, so a value the server adds tomorrow never breaks parsing.
Fields that carry secrets (session keys, sandbox environment) are left out of `repr()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from apps.openhands.dates import parse_datetime

TERMINAL_EXECUTION_STATUSES = frozenset({"finished", "error", "stuck"})
AGENT_SERVER_URL_NAME = "AGENT_SERVER"
# The VS Code link embeds the sandbox's session key as `tkn=`; never show it in a repr.
_SECRET_QUERY_PARAM = re.compile(r"((?:^|&)(?:tkn|session_api_key)=)[^&]*", re.IGNORECASE)


class Record:
    """Build a record from one JSON object."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Return the record for `data`, or raise ValueError if it is not a JSON object with an id
        where one is required."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        return cls._from_mapping(data)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        raise NotImplementedError


@dataclass(frozen=True)
class Metrics(Record):
    """Cost and token usage of a conversation (the server's `MetricsSnapshot`)."""

    model_name: str | None = None
    accumulated_cost: float | None = None
    max_budget_per_task: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    context_window: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        usage = data.get("accumulated_token_usage")
        usage = usage if isinstance(usage, Mapping) else {}
        return cls(
            model_name=_str(data.get("model_name")),
            accumulated_cost=_float(data.get("accumulated_cost")),
            max_budget_per_task=_float(data.get("max_budget_per_task")),
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")),
            cache_read_tokens=_int(usage.get("cache_read_tokens")),
            cache_write_tokens=_int(usage.get("cache_write_tokens")),
            reasoning_tokens=_int(usage.get("reasoning_tokens")),
            context_window=_int(usage.get("context_window")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Conversation(Record):
    """An app conversation (`AppConversation`); live fields are null unless its sandbox runs."""

    id: str
    title: str | None = None
    sandbox_id: str | None = None
    sandbox_status: str | None = None
    execution_status: str | None = None
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: str | None = None
    trigger: str | None = None
    pr_number: list[int] = field(default_factory=list)
    llm_model: str | None = None
    agent_kind: str | None = None
    metrics: Metrics | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    parent_conversation_id: str | None = None
    sub_conversation_ids: list[str] = field(default_factory=list)
    public: bool | None = None
    created_by_user_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    conversation_url: str | None = None
    session_api_key: str | None = field(default=None, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        """Return True once the agent has stopped for good (finished, error or stuck)."""
        return self.execution_status in TERMINAL_EXECUTION_STATUSES

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        metrics = data.get("metrics")
        tags = data.get("tags")
        public = data.get("public")
        return cls(
            id=_required_id(cls, data),
            title=_str(data.get("title")),
            sandbox_id=_str(data.get("sandbox_id")),
            sandbox_status=_str(data.get("sandbox_status")),
            execution_status=_str(data.get("execution_status")),
            selected_repository=_str(data.get("selected_repository")),
            selected_branch=_str(data.get("selected_branch")),
            git_provider=_str(data.get("git_provider")),
            trigger=_str(data.get("trigger")),
            pr_number=_int_list(data.get("pr_number")),
            llm_model=_str(data.get("llm_model")),
            agent_kind=_str(data.get("agent_kind")),
            metrics=Metrics.from_json(metrics) if isinstance(metrics, Mapping) else None,
            tags=dict(tags) if isinstance(tags, Mapping) else {},
            parent_conversation_id=_str(data.get("parent_conversation_id")),
            sub_conversation_ids=_str_list(data.get("sub_conversation_ids")),
            public=public if isinstance(public, bool) else None,
            created_by_user_id=_str(data.get("created_by_user_id")),
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
            conversation_url=_str(data.get("conversation_url")),
            session_api_key=_str(data.get("session_api_key")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class StartTask(Record):
    """A conversation start task (`AppConversationStartTask`); its id is not a conversation id."""

    id: str
    status: str | None = None
    detail: str | None = None
    app_conversation_id: str | None = None
    sandbox_id: str | None = None
    agent_server_url: str | None = None
    created_by_user_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_ready(self) -> bool:
        """Return True once the conversation exists (`app_conversation_id` is then set)."""
        return self.status == "READY"

    @property
    def is_error(self) -> bool:
        """Return True if the start failed; `detail` says why."""
        return self.status == "ERROR"

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            id=_required_id(cls, data),
            status=_str(data.get("status")),
            detail=_str(data.get("detail")),
            app_conversation_id=_str(data.get("app_conversation_id")),
            sandbox_id=_str(data.get("sandbox_id")),
            agent_server_url=_str(data.get("agent_server_url")),
            created_by_user_id=_str(data.get("created_by_user_id")),
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class ExposedUrl(Record):
    """One URL a running sandbox exposes (agent server, VS Code, worker ports)."""

    name: str
    url: str
    port: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        url = _hide_secret_params(self.url)
        return f"ExposedUrl(name={self.name!r}, url={url!r}, port={self.port!r})"

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            name=_str(data.get("name")) or "",
            url=_str(data.get("url")) or "",
            port=_int(data.get("port")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Sandbox(Record):
    """A sandbox (`SandboxInfo`); `exposed_urls` and the session key are only set while RUNNING."""

    id: str
    status: str | None = None
    sandbox_spec_id: str | None = None
    created_at: datetime | None = None
    created_by_user_id: str | None = None
    exposed_urls: list[ExposedUrl] = field(default_factory=list)
    session_api_key: str | None = field(default=None, repr=False)
    status_detail: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def agent_server_url(self) -> str | None:
        """Return the agent server's base URL, or None when the sandbox exposes none."""
        return self.exposed_url(AGENT_SERVER_URL_NAME)

    def exposed_url(self, name: str) -> str | None:
        """Return the exposed URL called `name` (e.g. "VSCODE"), or None."""
        return next((exposed.url for exposed in self.exposed_urls if exposed.name == name), None)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        exposed = data.get("exposed_urls")
        return cls(
            id=_required_id(cls, data),
            status=_str(data.get("status")),
            sandbox_spec_id=_str(data.get("sandbox_spec_id")),
            created_at=parse_datetime(data.get("created_at")),
            created_by_user_id=_str(data.get("created_by_user_id")),
            exposed_urls=[
                ExposedUrl.from_json(item)
                for item in (exposed if isinstance(exposed, list) else [])
                if isinstance(item, Mapping)
            ],
            session_api_key=_str(data.get("session_api_key")),
            status_detail=_str(data.get("status_detail")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class SandboxSpec(Record):
    """A sandbox spec (`SandboxSpecInfo`): an agent-server image and how it is started."""

    id: str
    command: list[str] | None = None
    created_at: datetime | None = None
    # The environment can carry forwarded LLM settings, keys included.
    initial_env: dict[str, Any] = field(default_factory=dict, repr=False)
    working_dir: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        command = data.get("command")
        env = data.get("initial_env")
        return cls(
            id=_required_id(cls, data),
            command=_str_list(command) if isinstance(command, list) else None,
            created_at=parse_datetime(data.get("created_at")),
            initial_env=dict(env) if isinstance(env, Mapping) else {},
            working_dir=_str(data.get("working_dir")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Event(Record):
    """A conversation event; `kind` is its class name and `raw` holds its kind-specific fields."""

    id: str
    kind: str | None = None
    source: str | None = None
    # Kept as sent: a naive ISO string in the agent server's clock (UTC in sandboxes).
    timestamp: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            id=_required_id(cls, data),
            kind=_str(data.get("kind")),
            source=_str(data.get("source")),
            timestamp=_str(data.get("timestamp")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class User(Record):
    """The caller (`/users/me`); on an open-source server without login every field is null."""

    id: str | None = None
    email: str | None = None
    org_id: str | None = None
    org_name: str | None = None
    role: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            id=_str(data.get("id")),
            email=_str(data.get("email")),
            org_id=_str(data.get("org_id")),
            org_name=_str(data.get("org_name")),
            role=_str(data.get("role")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class BashOutput(Record):
    """The output of a shell command on an agent server; `exit_code` None means still running."""

    exit_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    command_id: str | None = None
    id: str | None = None
    order: int | None = None
    timestamp: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            exit_code=_int(data.get("exit_code")),
            stdout=_str(data.get("stdout")),
            stderr=_str(data.get("stderr")),
            command_id=_str(data.get("command_id")),
            id=_str(data.get("id")),
            order=_int(data.get("order")),
            timestamp=_str(data.get("timestamp")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class BashCommand(Record):
    """A shell command started in the background on an agent server."""

    id: str
    command: str | None = None
    cwd: str | None = None
    timeout: int | None = None
    timestamp: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            id=_required_id(cls, data),
            command=_str(data.get("command")),
            cwd=_str(data.get("cwd")),
            timeout=_int(data.get("timeout")),
            timestamp=_str(data.get("timestamp")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class GitChange(Record):
    """One changed file in a repository: status ADDED, DELETED, UPDATED or MOVED."""

    status: str | None = None
    path: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> Self:
        return cls(status=_str(data.get("status")), path=_str(data.get("path")), raw=dict(data))


@dataclass(frozen=True)
class Page[T]:
    """One page of a search: its items and the id of the next page (None on the last page)."""

    items: list[T]
    next_page_id: str | None = None


@dataclass(frozen=True)
class DownloadResult:
    """A file downloaded in full: where it is (None for a caller's stream), its size and sha256."""

    path: Path | None
    size: int
    sha256: str


def _required_id(cls: type, data: Mapping[str, Any]) -> str:
    value = _str(data.get("id"))
    if not value:
        raise ValueError(f"{cls.__name__}: the JSON object has no id")
    return value


def _str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _int_list(value: object) -> list[int]:
    if not isinstance(value, list):
        return []
    numbers = (_int(item) for item in value)
    return [number for number in numbers if number is not None]


def _str_list(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    texts = (_str(item) for item in value)
    return [text for text in texts if text is not None]


def _hide_secret_params(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=_SECRET_QUERY_PARAM.sub(r"\1[redacted]", parts.query)))
