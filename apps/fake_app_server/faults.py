"""Fault injection: rules that make matching requests fail in a chosen way.

A rule is posted as JSON to ``POST /_fake/faults``::

    {"fault": "status", "path_regex": "/app-conversations/search", "method": "GET",
     "status": 503, "times": 2, "skip": 0, "delay": 0}

Kinds (``fault``):

``status``            answer ``status`` (default 503) with ``body`` (default ``{"detail": ...}``)
                      and ``headers``
``reset``             close the connection without answering (TCP reset)
``slow``              wait ``delay`` seconds, then answer normally
``truncate``          announce the full ``Content-Length``, send only ``fraction`` of the body,
                      close (works for JSON and for the streamed zip)
``malformed_json``    200 with ``Content-Type: application/json`` and a broken body
``html200``           200 with the Cloud web app's HTML page
``malformed_record``  answer normally but damage item ``record_index`` of the list or page
                      (``mutation``: ``drop_id``, ``wrong_types``, ``null``, ``not_object``)

``path_regex`` is searched in the request path (without the query); ``method`` (optional)
must match exactly; the first ``skip`` matching requests pass untouched, then ``times`` requests
(default: every one) get the fault. ``delay`` applies to every kind. Rules never touch
``/_fake/`` routes. The first registered rule that matches wins.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.fake_app_server.protocol import Response, json_bytes, json_response

FAULT_KINDS = (
    "status",
    "reset",
    "slow",
    "truncate",
    "malformed_json",
    "html200",
    "malformed_record",
)
RECORD_MUTATIONS = ("drop_id", "wrong_types", "null", "not_object")
SPA_PAGE = (
    b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>OpenHands</title>'
    b'</head><body><div id="root"></div><script type="module" src="/assets/index.js">'
    b"</script></body></html>"
)
BROKEN_JSON = b'{"items": [{"id": "7d3f", "title": "half a respon'


class FaultSpecError(ValueError):
    """A fault rule is invalid; the message says why."""


@dataclass
class FaultRule:
    """One fault rule and how often it has matched and fired."""

    id: str
    fault: str
    path_regex: str = ".*"
    method: str | None = None
    times: int | None = None
    skip: int = 0
    status: int = 503
    delay: float = 0.0
    fraction: float = 0.5
    record_index: int = 0
    mutation: str = "drop_id"
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    matched: int = 0
    fired: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.fault not in FAULT_KINDS:
            raise FaultSpecError(f"fault must be one of {', '.join(FAULT_KINDS)}")
        if self.mutation not in RECORD_MUTATIONS:
            raise FaultSpecError(f"mutation must be one of {', '.join(RECORD_MUTATIONS)}")
        if not 100 <= self.status <= 599:
            raise FaultSpecError("status must be an HTTP status code (100-599)")
        if self.times is not None and self.times < 1:
            raise FaultSpecError("times must be >= 1 (or null for every request)")
        if self.skip < 0 or self.delay < 0 or self.record_index < 0:
            raise FaultSpecError("skip, delay and record_index must be >= 0")
        if not 0 <= self.fraction < 1:
            raise FaultSpecError("fraction must be in [0, 1)")
        if self.method is not None:
            self.method = self.method.upper()
        try:
            self._pattern = re.compile(self.path_regex)
        except re.error as error:
            raise FaultSpecError(f"path_regex does not compile: {error}") from None

    @property
    def exhausted(self) -> bool:
        """Return whether the rule has fired as many times as it may."""
        return self.times is not None and self.fired >= self.times

    def consume(self, method: str, path: str) -> bool:
        """Count a request against the rule; return whether the fault fires for it."""
        if self.exhausted or (self.method is not None and self.method != method):
            return False
        if self._pattern.search(path) is None:
            return False
        self.matched += 1
        if self.matched <= self.skip:
            return False
        self.fired += 1
        return True

    def to_json(self) -> dict[str, Any]:
        """Return the rule and its counters as JSON."""
        return {
            "id": self.id,
            "fault": self.fault,
            "path_regex": self.path_regex,
            "method": self.method,
            "times": self.times,
            "skip": self.skip,
            "status": self.status,
            "delay": self.delay,
            "fraction": self.fraction,
            "record_index": self.record_index,
            "mutation": self.mutation,
            "body": self.body,
            "headers": self.headers,
            "matched": self.matched,
            "fired": self.fired,
        }


_RULE_FIELDS = {
    "fault": str,
    "path_regex": str,
    "method": str,
    "times": int,
    "skip": int,
    "status": int,
    "delay": (int, float),
    "fraction": (int, float),
    "record_index": int,
    "mutation": str,
    "body": object,
    "headers": dict,
}


def rule_from_json(data: Any, rule_id: str) -> FaultRule:
    """Build a rule from its JSON; raise ``FaultSpecError`` with the reason when invalid."""
    if not isinstance(data, Mapping):
        raise FaultSpecError("a fault rule is a JSON object")
    unknown = sorted(set(data) - set(_RULE_FIELDS))
    if unknown:
        raise FaultSpecError(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_RULE_FIELDS))}"
        )
    if "fault" not in data:
        raise FaultSpecError(f"'fault' is required: one of {', '.join(FAULT_KINDS)}")
    for name, value in data.items():
        nullable = name in ("times", "method", "body")
        if value is None and nullable:
            continue
        expected = _RULE_FIELDS[name]
        if isinstance(value, bool) or not isinstance(value, expected):
            raise FaultSpecError(f"{name} has the wrong type")
    headers = data.get("headers") or {}
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in headers.items()):
        raise FaultSpecError("headers must map strings to strings")
    return FaultRule(id=rule_id, **{**data, "headers": dict(headers)})


class FaultRegistry:
    """The active fault rules, shared by the request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, data: Any) -> FaultRule:
        """Validate and register a rule; return it."""
        with self._lock:
            rule = rule_from_json(data, f"fault-{next(self._ids)}")
            self._rules.append(rule)
            return rule

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; return whether it existed."""
        with self._lock:
            before = len(self._rules)
            self._rules = [rule for rule in self._rules if rule.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        """Return every rule with its counters."""
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def take(self, method: str, path: str) -> FaultRule | None:
        """Return the rule that fires for this request, if any (and count it)."""
        with self._lock:
            for rule in self._rules:
                if rule.consume(method, path):
                    return rule
            return None


def status_response(rule: FaultRule) -> Response:
    """Return the answer of a ``status`` fault."""
    body = rule.body if rule.body is not None else {"detail": f"Injected fault: HTTP {rule.status}"}
    return json_response(body, status=rule.status, headers=rule.headers)


def html_response() -> Response:
    """Return the Cloud web app's HTML page with status 200 (what an unknown path may get)."""
    return Response(status=200, body=SPA_PAGE, content_type="text/html; charset=utf-8")


def malformed_json_response() -> Response:
    """Return a 200 JSON response whose body does not parse."""
    return Response(status=200, body=BROKEN_JSON)


def damage_record(response: Response, rule: FaultRule) -> Response:
    """Return ``response`` with one record of its list (or page) damaged."""
    data = response.data
    items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(items, list) or rule.record_index >= len(items):
        return response
    damaged = list(items)
    damaged[rule.record_index] = _mutate(items[rule.record_index], rule.mutation)
    new_data = {**data, "items": damaged} if isinstance(data, dict) else damaged
    return Response(
        status=response.status,
        body=json_bytes(new_data),
        content_type=response.content_type,
        headers=response.headers,
        data=new_data,
    )


def _mutate(record: Any, mutation: str) -> Any:
    if mutation == "null":
        return None
    if mutation == "not_object" or not isinstance(record, dict):
        return "this is not a record"
    if mutation == "drop_id":
        return {key: value for key, value in record.items() if key != "id"}
    # wrong_types: every field that has a value gets a value of another type.
    return {key: _wrong_type(value) for key, value in record.items()}


def _wrong_type(value: Any) -> Any:
    if isinstance(value, str):
        return 12345
    if isinstance(value, bool | int | float):
        return "not-a-number"
    if isinstance(value, list | dict):
        return "not-a-collection"
    return value
