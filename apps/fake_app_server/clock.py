"""The fake clock: starts at a chosen time, runs with real time, and jumps forward on request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta


class FakeClock:
    """Tell the fake's current time: ``start`` plus real elapsed time plus manual advances.

    Frozen, it stands still until unfrozen or advanced, which makes tests exact. It never goes
    backwards: the simulation keeps state derived from the past.
    """

    def __init__(
        self,
        start: datetime,
        *,
        frozen: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock start must be timezone-aware")
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._anchor_time = start
        self._anchor_monotonic = monotonic()
        self._frozen = frozen

    @property
    def frozen(self) -> bool:
        """Return whether the clock ignores real time."""
        return self._frozen

    def now(self) -> datetime:
        """Return the current fake time (aware, UTC)."""
        with self._lock:
            return self._now_locked()

    def advance(self, seconds: float) -> datetime:
        """Move the clock ``seconds`` forward and return the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward; advance_seconds must be >= 0")
        with self._lock:
            self._anchor_time += timedelta(seconds=seconds)
            return self._now_locked()

    def set_frozen(self, frozen: bool) -> datetime:
        """Freeze or unfreeze the clock at the current time and return that time."""
        with self._lock:
            self._anchor_time = self._now_locked()
            self._anchor_monotonic = self._monotonic()
            self._frozen = frozen
            return self._anchor_time

    def _now_locked(self) -> datetime:
        if self._frozen:
            return self._anchor_time
        return self._anchor_time + timedelta(seconds=self._monotonic() - self._anchor_monotonic)
