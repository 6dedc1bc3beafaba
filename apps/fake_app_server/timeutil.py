"""Format and parse the timestamps the App Server uses.

Conversations, sandboxes and start tasks carry timezone-aware UTC times written with a ``Z``;
events carry naive ISO timestamps (agent-server local time, UTC in containers). Everything inside
the fake is an aware UTC ``datetime``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def format_aware(moment: datetime) -> str:
    """Return ``moment`` as UTC ISO-8601 with microseconds and a ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_naive(moment: datetime) -> str:
    """Return ``moment`` as a naive UTC ISO-8601 string with microseconds (event timestamps)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def parse_datetime(text: str) -> datetime:
    """Parse an ISO-8601 date-time the way FastAPI accepts it; naive values are taken as UTC.

    Raise ``ValueError`` when ``text`` is not a date-time.
    """
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def naive_filter_string(text: str) -> str:
    """Return an event timestamp filter as the naive ISO string the real server compares with.

    The App Server drops the offset without converting it, then compares strings: a filter sent
    with ``+02:00`` is therefore two hours off, exactly as upstream.
    """
    return datetime.fromisoformat(text.strip()).replace(tzinfo=None).isoformat()


def utc_now_whole_second() -> datetime:
    """Return the current UTC time rounded down to the second (a tidy clock start)."""
    return datetime.now(UTC).replace(microsecond=0)


def microseconds(delta: timedelta) -> int:
    """Return ``delta`` as a whole number of microseconds."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
