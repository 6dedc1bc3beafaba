"""The fake's settings: which world to generate (scenario) and how callers get in (access).

The command line gives the process defaults; ``POST /_fake/reset`` may override any of them for
the rest of a test, and the next reset without overrides returns to the command-line values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.fake_app_server.timeutil import parse_datetime

SCENARIOS = ("demo", "empty", "volume")
AUTH_MODES = ("bearer", "session_key", "none")

# Time-driven changes per scenario, in fake seconds (0 switches one off).
SCENARIO_PACING = {
    "demo": {"new_conversation_every": 300.0, "delete_conversation_every": 1800.0},
    "empty": {"new_conversation_every": 0.0, "delete_conversation_every": 0.0},
    "volume": {"new_conversation_every": 0.0, "delete_conversation_every": 0.0},
}
VOLUME_DEFAULTS = {"conversations": 1000, "sandboxes": 50, "events_per_conversation": 20}
DEFAULT_IDLE_PAUSE_SECONDS = 600.0


class SettingsError(ValueError):
    """A setting has a bad value; the message says which and why."""


@dataclass(frozen=True, slots=True)
class ScenarioParams:
    """What world to generate and how fast it changes."""

    scenario: str = "demo"
    seed: int = 1
    # None starts the clock at the real current time.
    start_time: datetime | None = None
    conversations: int = VOLUME_DEFAULTS["conversations"]
    sandboxes: int = VOLUME_DEFAULTS["sandboxes"]
    events_per_conversation: int = VOLUME_DEFAULTS["events_per_conversation"]
    # Volume only: give the newest conversation this many events (0: none is special).
    large_conversation_events: int = 0
    # Size of each terminal output in that large conversation (0: ordinary short outputs).
    observation_bytes: int = 0
    # None takes the scenario's pace from SCENARIO_PACING.
    new_conversation_every: float | None = None
    delete_conversation_every: float | None = None
    sandbox_idle_pause_after: float = DEFAULT_IDLE_PAUSE_SECONDS
    start_task_step_seconds: float = 1.5
    frozen_clock: bool = False

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise SettingsError(f"scenario must be one of {', '.join(SCENARIOS)}")
        for name in ("conversations", "sandboxes", "events_per_conversation"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        for name in ("large_conversation_events", "observation_bytes"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be >= 0")
        for name in ("sandbox_idle_pause_after", "start_task_step_seconds"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be > 0")

    def pace(self, name: str) -> float:
        """Return the interval of a time-driven change (0 when it is switched off)."""
        configured = getattr(self, name)
        if configured is not None:
            return max(0.0, configured)
        return SCENARIO_PACING[self.scenario][name]


@dataclass(frozen=True, slots=True)
class AccessParams:
    """How callers authenticate and how much they may ask."""

    auth: str = "none"
    api_keys: tuple[str, ...] = ()
    # None or 0 switches a window off.
    rate_limit_per_second: int | None = 10
    rate_limit_per_minute: int | None = 100

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise SettingsError(f"auth must be one of {', '.join(AUTH_MODES)}")
        if self.auth != "none" and not self.api_keys:
            raise SettingsError(f"auth {self.auth!r} needs at least one API key")
        if any(not key or key != key.strip() for key in self.api_keys):
            raise SettingsError("API keys must be non-empty and have no surrounding spaces")

    def __repr__(self) -> str:
        # Keys are secrets even in a fake: never show them.
        return (
            f"AccessParams(auth={self.auth!r}, api_keys=<{len(self.api_keys)} hidden>, "
            f"rate_limit_per_second={self.rate_limit_per_second}, "
            f"rate_limit_per_minute={self.rate_limit_per_minute})"
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """Both halves together: what ``POST /_fake/reset`` replaces."""

    scenario: ScenarioParams
    access: AccessParams

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """Return these settings with the fields named in ``overrides`` replaced.

        Raise ``SettingsError`` for unknown names or values of the wrong type.
        """
        scenario_fields = {field.name: field for field in dataclasses.fields(ScenarioParams)}
        access_fields = {field.name: field for field in dataclasses.fields(AccessParams)}
        unknown = sorted(set(overrides) - set(scenario_fields) - set(access_fields))
        if unknown:
            allowed = ", ".join(sorted({*scenario_fields, *access_fields}))
            raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; allowed: {allowed}")
        scenario_changes = {
            name: _coerce(name, value)
            for name, value in overrides.items()
            if name in scenario_fields
        }
        access_changes = {
            name: _coerce(name, value) for name, value in overrides.items() if name in access_fields
        }
        return Settings(
            scenario=dataclasses.replace(self.scenario, **scenario_changes),
            access=dataclasses.replace(self.access, **access_changes),
        )


_INTEGER_FIELDS = {
    "seed",
    "conversations",
    "sandboxes",
    "events_per_conversation",
    "large_conversation_events",
    "observation_bytes",
}
_OPTIONAL_INTEGER_FIELDS = {"rate_limit_per_second", "rate_limit_per_minute"}
_NUMBER_FIELDS = {"sandbox_idle_pause_after", "start_task_step_seconds"}
_OPTIONAL_NUMBER_FIELDS = {"new_conversation_every", "delete_conversation_every"}


def _coerce(name: str, value: Any) -> Any:
    """Check one JSON override value and convert it to the field's type."""
    if name in _INTEGER_FIELDS or (name in _OPTIONAL_INTEGER_FIELDS and value is not None):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name} must be an integer")
        return value
    if name in _NUMBER_FIELDS or (name in _OPTIONAL_NUMBER_FIELDS and value is not None):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{name} must be a number")
        return float(value)
    if name == "start_time":
        return _coerce_start_time(value)
    if name == "api_keys":
        if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
            raise SettingsError("api_keys must be a list of strings")
        return tuple(value)
    if name == "frozen_clock":
        if not isinstance(value, bool):
            raise SettingsError("frozen_clock must be true or false")
        return value
    if name in ("scenario", "auth"):
        if not isinstance(value, str):
            raise SettingsError(f"{name} must be a string")
        return value
    return value


def _coerce_start_time(value: Any) -> datetime | None:
    if value is None or value == "now":
        return None
    if not isinstance(value, str):
        raise SettingsError("start_time must be an ISO-8601 date-time string or 'now'")
    try:
        return parse_datetime(value)
    except ValueError as error:
        raise SettingsError(f"start_time is not an ISO-8601 date-time: {error}") from None
