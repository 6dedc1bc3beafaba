"""Typed, read-only views of the JSON the OpenHands servers return.

Each record is a frozen dataclass built with `Record.from_json(data)`. It keeps the whole JSON
object in `.raw`, ignores fields it does not know, and stores enum-like values (statuses,
kinds, providers) as plain strings, so a value the server adds tomorrow never breaks parsing.
Fields that carry secrets (session keys, sandbox environment) are left out of `repr()`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any, Self, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit, urlunsplit

from apps.openhands.dates import parse_datetime

TERMINAL_EXECUTION_STATUSES = frozenset({"finished", "error", "stuck"})
AGENT_SERVER_URL_NAME = "AGENT_SERVER"
# The VS Code link embeds the sandbox's session key as `tkn=`; never show it in a repr.
_SECRET_QUERY_PARAM = re.compile(r"((?:^|&)(?:tkn|session_api_key)=)[^&]*", re.IGNORECASE)
# Field metadata naming the nested JSON object a field is read from (default: the top level).
_WITHIN = "within"
_IN_TOKEN_USAGE = {_WITHIN: "accumulated_token_usage"}


class Record:
    """Build a record from one JSON object.

    Subclasses are frozen dataclasses whose fields are read from the JSON keys of the same names
    and converted according to their annotations (see `_CONVERTERS`), so an odd value becomes
    None or empty instead of an exception. A field `id: str` (not optional) is required; `raw`
    keeps the whole object.
    """

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Return the record for `data`, or raise ValueError if it is not a JSON object with an id
        where one is required."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        values = {json_field.name: json_field.read(data) for json_field in _json_fields(cls)}
        if _requires_id(cls) and not values["id"]:
            raise ValueError(f"{cls.__name__}: the JSON object has no id")
        return cls(**values, raw=dict(data))


@dataclass(frozen=True)
class Metrics(Record):
    """Cost and token usage of a conversation (the server's `MetricsSnapshot`)."""

    model_name: str | None = None
    accumulated_cost: float | None = None
    max_budget_per_task: float | None = None
    prompt_tokens: int | None = field(default=None, metadata=_IN_TOKEN_USAGE)
    completion_tokens: int | None = field(default=None, metadata=_IN_TOKEN_USAGE)
    cache_read_tokens: int | None = field(default=None, metadata=_IN_TOKEN_USAGE)
    cache_write_tokens: int | None = field(default=None, metadata=_IN_TOKEN_USAGE)
    reasoning_tokens: int | None = field(default=None, metadata=_IN_TOKEN_USAGE)
    context_window: int | None = field(default=None, metadata=_IN_TOKEN_USAGE)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


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


@dataclass(frozen=True)
class Event(Record):
    """A conversation event; `kind` is its class name and `raw` holds its kind-specific fields."""

    id: str
    kind: str | None = None
    source: str | None = None
    # Kept as sent: a naive ISO string in the agent server's clock (UTC in sandboxes).
    timestamp: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class User(Record):
    """The caller (`/users/me`); on an open-source server without login every field is null."""

    id: str | None = None
    email: str | None = None
    org_id: str | None = None
    org_name: str | None = None
    role: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


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


@dataclass(frozen=True)
class BashCommand(Record):
    """A shell command started in the background on an agent server."""

    id: str
    command: str | None = None
    cwd: str | None = None
    timeout: int | None = None
    timestamp: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class GitChange(Record):
    """One changed file in a repository: status ADDED, DELETED, UPDATED or MOVED."""

    status: str | None = None
    path: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


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


@dataclass(frozen=True)
class _JSONField:
    """How one record field is read: from which key, in which nested object, converted how."""

    name: str
    within: str | None
    convert: Callable[[object], object]

    def read(self, data: Mapping[str, Any]) -> object:
        """Return this field's value in the JSON object `data`."""
        source = data if self.within is None else data.get(self.within)
        return self.convert(source.get(self.name) if isinstance(source, Mapping) else None)


@cache
def _json_fields(cls: type[Record]) -> tuple[_JSONField, ...]:
    hints = get_type_hints(cls)
    return tuple(
        _JSONField(
            name=record_field.name,
            within=record_field.metadata.get(_WITHIN),
            convert=_converter(hints[record_field.name]),
        )
        for record_field in fields(cls)
        if record_field.name != "raw"
    )


@cache
def _requires_id(cls: type[Record]) -> bool:
    return get_type_hints(cls).get("id") is str


def _converter(hint: object) -> Callable[[object], object]:
    """Return the function that turns a JSON value into a field of type `hint`."""
    if hint in _CONVERTERS:
        return _CONVERTERS[hint]
    args = get_args(hint)
    if get_origin(hint) is list and _is_record_type(args[0]):
        return partial(_record_list, args[0])
    if len(args) == 2 and args[1] is type(None) and _is_record_type(args[0]):
        return partial(_record_or_none, args[0])
    raise TypeError(f"No JSON conversion for a record field of type {hint}")


def _is_record_type(hint: object) -> bool:
    return isinstance(hint, type) and issubclass(hint, Record)


def _record_or_none(cls: type[Record], value: object) -> Record | None:
    return cls.from_json(value) if isinstance(value, Mapping) else None


def _record_list(cls: type[Record], value: object) -> list[Record]:
    items = value if isinstance(value, list) else []
    return [cls.from_json(item) for item in items if isinstance(item, Mapping)]


def _str_or_empty(value: object) -> str:
    return _str(value) or ""


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


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _str_list_or_none(value: object) -> list[str] | None:
    return _str_list(value) if isinstance(value, list) else None


# The conversion for each field annotation: a JSON value of the wrong type gives None or empty.
_CONVERTERS: dict[object, Callable[[object], object]] = {
    str: _str_or_empty,
    str | None: _str,
    int | None: _int,
    float | None: _float,
    bool | None: _bool,
    datetime | None: parse_datetime,
    list[int]: _int_list,
    list[str]: _str_list,
    list[str] | None: _str_list_or_none,
    dict[str, Any]: _dict,
}


def _hide_secret_params(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=_SECRET_QUERY_PARAM.sub(r"\1[redacted]", parts.query)))
