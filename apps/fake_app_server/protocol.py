"""Requests, responses and errors of the fake, with FastAPI's validation behaviour.

Handlers take a :class:`Request` and return a :class:`Response` (or raise :class:`ApiError`).
Query helpers validate parameters like FastAPI does, answering 422 with its error shape::

    {"detail": [{"type": "less_than_equal", "loc": ["query", "limit"],
                 "msg": "Input should be less than or equal to 100", "input": "101",
                 "ctx": {"le": 100}}]}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.fake_app_server.model import User
from apps.fake_app_server.timeutil import parse_datetime

MAX_PAGE_SIZE = 100
TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


class ApiError(Exception):
    """An error answer: status, JSON body and extra headers."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def detail_error(status: int, detail: str) -> ApiError:
    """Return an ``HTTPException``-style error: ``{"detail": "..."}``."""
    return ApiError(status, {"detail": detail})


def validation_error(
    location: Sequence[str | int],
    error_type: str,
    message: str,
    value: Any,
    context: Mapping[str, Any] | None = None,
) -> ApiError:
    """Return a FastAPI request-validation error (422)."""
    item: dict[str, Any] = {
        "type": error_type,
        "loc": list(location),
        "msg": message,
        "input": value,
    }
    if context:
        item["ctx"] = dict(context)
    return ApiError(422, {"detail": [item]})


@dataclass
class Request:
    """One HTTP request as the handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)
    user: User | None = None
    # Tells whether the client has hung up (the socket layer knows; tests may leave it).
    client_gone: Callable[[], bool] = field(default=lambda: False, repr=False)

    def json_body(self) -> Any:
        """Return the parsed JSON body; 422 like FastAPI when it is missing or broken."""
        if not self.body:
            raise validation_error(["body"], "missing", "Field required", None)
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise validation_error(
                ["body", 0], "json_invalid", "JSON decode error", {}, {"error": str(error)}
            ) from None

    def json_object(self) -> dict[str, Any]:
        """Return the JSON body, which must be an object (422 otherwise)."""
        body = self.json_body()
        if not isinstance(body, dict):
            raise validation_error(
                ["body"],
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
                body,
            )
        return body

    def value(self, name: str) -> str | None:
        """Return a scalar query parameter (the last one when repeated), else ``None``."""
        values = self.query.get(name)
        return values[-1] if values else None

    def values(self, name: str) -> list[str]:
        """Return every value of a repeated query parameter."""
        return list(self.query.get(name, []))

    def required_value(self, name: str) -> str:
        """Return a required scalar query parameter; 422 when it is missing."""
        value = self.value(name)
        if value is None:
            raise validation_error(["query", name], "missing", "Field required", None)
        return value

    def required_values(self, name: str) -> list[str]:
        """Return a required list query parameter; 422 when it is missing."""
        values = self.values(name)
        if not values:
            raise validation_error(["query", name], "missing", "Field required", None)
        return values

    def limit(self) -> int:
        """Return ``limit`` (default 100); 422 unless it is an integer in 1..100."""
        raw = self.value("limit")
        if raw is None:
            return MAX_PAGE_SIZE
        number = self._integer("limit", raw)
        if number <= 0:
            raise validation_error(
                ["query", "limit"], "greater_than", "Input should be greater than 0", raw, {"gt": 0}
            )
        if number > MAX_PAGE_SIZE:
            raise validation_error(
                ["query", "limit"],
                "less_than_equal",
                f"Input should be less than or equal to {MAX_PAGE_SIZE}",
                raw,
                {"le": MAX_PAGE_SIZE},
            )
        return number

    def offset(self) -> int:
        """Return the offset in ``page_id``; anything but a number restarts at 0 (SQL lists)."""
        raw = self.value("page_id")
        if raw is None or not raw.strip().isdigit():
            return 0
        return int(raw)

    def boolean(self, name: str, default: bool) -> bool:
        """Return a boolean query parameter, parsed like pydantic; 422 otherwise."""
        raw = self.value(name)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise validation_error(
            ["query", name],
            "bool_parsing",
            "Input should be a valid boolean, unable to interpret input",
            raw,
        )

    def datetime(self, name: str) -> datetime | None:
        """Return a date-time query parameter (naive means UTC); 422 when unparseable."""
        raw = self.value(name)
        if raw is None:
            return None
        try:
            return parse_datetime(raw)
        except ValueError:
            raise validation_error(
                ["query", name],
                "datetime_from_date_parsing",
                "Input should be a valid datetime or date, invalid character in year",
                raw,
                {"error": "invalid character in year"},
            ) from None

    def choice(self, name: str, choices: Sequence[str], default: str | None) -> str | None:
        """Return an enum query parameter; 422 when it is not one of ``choices``."""
        raw = self.value(name)
        if raw is None:
            return default
        if raw not in choices:
            expected = ", ".join(f"'{choice}'" for choice in choices[:-1])
            expected = f"{expected} or '{choices[-1]}'" if expected else f"'{choices[-1]}'"
            raise validation_error(
                ["query", name], "enum", f"Input should be {expected}", raw, {"expected": expected}
            )
        return raw

    def _integer(self, name: str, raw: str) -> int:
        try:
            return int(raw.strip())
        except ValueError:
            raise validation_error(
                ["query", name],
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                raw,
            ) from None


@dataclass
class Response:
    """One HTTP answer: a body in memory, or a stream sent with chunked encoding.

    ``stream`` is a factory so that the server can produce the body twice when a fault needs
    its length before sending part of it.
    """

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Callable[[], Iterator[bytes]] | None = None
    # Whether ``stream()`` may be called twice and gives the same bytes (the zip, not a
    # streamed start, whose generator drives the task).
    replayable: bool = False
    # The JSON value behind ``body``, kept so faults can damage individual records.
    data: Any = None


def json_bytes(data: Any) -> bytes:
    """Serialise ``data`` compactly as UTF-8 JSON."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Return a JSON response."""
    return Response(status=status, body=json_bytes(data), headers=dict(headers or {}), data=data)


def page(items: list[Any], offset: int, limit: int, total: int) -> dict[str, Any]:
    """Return a ``{items, next_page_id}`` page; ``next_page_id`` is the next offset or null."""
    following = offset + limit
    return {"items": items, "next_page_id": str(following) if following < total else None}
