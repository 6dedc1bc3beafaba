"""Count the requests the fake receives (``GET /_fake/stats``).

Requests are counted as they arrive, per route (``"GET /api/v1/app-conversations/search"``, or
``"unmatched"``) and per caller (the user id an API key belongs to, ``"session"``,
``"anonymous"`` or ``"unauthenticated"``), and again by how they were answered (status code,
``"reset"``, ``"truncated"``, ``"abandoned"``). Control routes are not counted.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Request counts for ``/_fake/stats`` (the sync benchmark's request budget)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Zero every count."""
        with self._lock:
            self._total = 0
            self._by_route: Counter[str] = Counter()
            self._by_key: Counter[str] = Counter()
            self._by_status: Counter[str] = Counter()

    def record_request(self, route: str, caller: str) -> None:
        """Count a request as it arrives."""
        with self._lock:
            self._total += 1
            self._by_route[route] += 1
            self._by_key[caller] += 1

    def record_outcome(self, outcome: str) -> None:
        """Count how a request was answered (a status code, ``reset`` or ``truncated``)."""
        with self._lock:
            self._by_status[outcome] += 1

    def snapshot(self) -> dict[str, Any]:
        """Return the counts as JSON."""
        with self._lock:
            return {
                "total": self._total,
                "by_route": dict(self._by_route),
                "by_key": dict(self._by_key),
                "by_status": dict(self._by_status),
            }
