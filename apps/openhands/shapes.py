"""Checks that a decoded JSON body has the shape the API documents, turning it into records.

Each parser raises ValueError naming what was wrong; the transport wraps that in an
UnexpectedResponseError that also names the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apps.openhands.records import Page, Record


def json_object(data: Any) -> dict[str, Any]:
    """Return `data` if it is a JSON object."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {_kind(data)}")
    return data


def json_list(data: Any) -> list[Any]:
    """Return `data` if it is a JSON array."""
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON array, got {_kind(data)}")
    return data


def json_string(data: Any) -> str:
    """Return `data` if it is a JSON string."""
    if not isinstance(data, str):
        raise ValueError(f"expected a JSON string, got {_kind(data)}")
    return data


def count(data: Any) -> int:
    """Return the bare integer a `/count` endpoint answers."""
    if isinstance(data, bool) or not isinstance(data, int):
        raise ValueError(f"expected an integer count, got {_kind(data)}")
    return data


def success(data: Any) -> bool:
    """Return the flag of a `{"success": true}` answer."""
    flag = json_object(data).get("success")
    if not isinstance(flag, bool):
        raise ValueError('expected {"success": true|false}')
    return flag


def record[R: Record](cls: type[R]) -> Callable[[Any], R]:
    """Return a parser for one record of type `cls`."""

    def parse(data: Any) -> R:
        return cls.from_json(json_object(data))

    return parse


def records_or_none[R: Record](cls: type[R]) -> Callable[[Any], list[R | None]]:
    """Return a parser for a batch answer: one record or null per requested id."""

    def parse(data: Any) -> list[R | None]:
        items = json_list(data)
        return [None if item is None else cls.from_json(json_object(item)) for item in items]

    return parse


def records[R: Record](cls: type[R]) -> Callable[[Any], list[R]]:
    """Return a parser for a JSON array of records."""

    def parse(data: Any) -> list[R]:
        return [cls.from_json(json_object(item)) for item in json_list(data)]

    return parse


def page[T](parse_item: Callable[[Any], T]) -> Callable[[Any], Page[T]]:
    """Return a parser for `{"items": [...], "next_page_id": str | null}`."""

    def parse(data: Any) -> Page[T]:
        body = json_object(data)
        items = body.get("items")
        if not isinstance(items, list):
            raise ValueError("the page has no items array")
        next_page_id = body.get("next_page_id")
        if next_page_id is not None and not isinstance(next_page_id, str | int):
            raise ValueError(f"next_page_id should be a string or null, got {_kind(next_page_id)}")
        return Page(
            items=[parse_item(item) for item in items],
            next_page_id=None if next_page_id is None else str(next_page_id),
        )

    return parse


def objects_under(key: str) -> Callable[[Any], list[dict[str, Any]]]:
    """Return a parser for `{key: [object, ...]}`, e.g. the `/skills` and `/hooks` answers."""

    def parse(data: Any) -> list[dict[str, Any]]:
        return [json_object(item) for item in json_list(json_object(data).get(key))]

    return parse


def _kind(data: Any) -> str:
    if data is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "an array", dict: "an object"}
    return names.get(type(data), type(data).__name__)
