"""Timestamps as the OpenHands servers write them, and as their query filters expect them."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_datetime(value: object) -> datetime | None:
    """Return an aware UTC datetime for an ISO-8601 string, or None if it is absent or invalid.

    Conversations and sandboxes carry `...Z` or `+00:00` timestamps, while events and start
    tasks carry naive ones written in UTC, so a naive value is read as UTC. A malformed value
    gives None rather than an exception: one odd field must never make a whole record unusable.
    """
    if isinstance(value, datetime):
        return _as_utc(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return _as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


def to_query_datetime(value: datetime | str) -> str:
    """Format a datetime filter as UTC ISO-8601 with a `Z` suffix, e.g. `2026-01-27T00:00:00Z`.

    Strings are parsed first so that a typo fails here, with its value in the message, instead
    of as an opaque 422 from the server.
    """
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"{value!r} is not an ISO-8601 date or datetime")
        value = parsed
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or an ISO-8601 string, got {type(value).__name__}")
    utc = _as_utc(value)
    timespec = "microseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
