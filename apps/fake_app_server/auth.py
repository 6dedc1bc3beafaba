"""Authentication and rate limiting for ``/api/v1``, shaped like the Cloud and the OSS server.

Modes:

``bearer``       Cloud: ``Authorization: Bearer <key>`` (``X-Session-API-Key`` and
                 ``X-Access-Token`` are accepted as fallbacks, as upstream). Each key belongs to
                 its own user and organization. 401 ``{"error": "..."}``; ``X-Org-Id`` naming
                 another organization gives 403, a malformed one 400.
``session_key``  OSS: ``X-Session-API-Key: <shared key>``; 401 ``{"detail": "Unauthorized"}``.
``none``         no credentials.

Rate limits are fixed windows per caller (10/second and 100/minute by default), each window
starting at the caller's first request in it, like the Cloud's Redis limiter. Over the limit:
429 ``{"error": "Rate limit exceeded: 10 per 1 second"}`` with ``Retry-After``,
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch seconds).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

from apps.fake_app_server.config import AccessParams
from apps.fake_app_server.ids import normalize_uuid
from apps.fake_app_server.model import User
from apps.fake_app_server.protocol import ApiError

ANONYMOUS = "anonymous"
UNAUTHENTICATED = "unauthenticated"
SHARED_SESSION = "session"


class Gatekeeper:
    """Decide who a request comes from and whether it may be served now."""

    def __init__(self, access: AccessParams, users: list[User]) -> None:
        self.access = access
        self._users = users
        self._revoked: set[str] = set()
        self._lock = threading.Lock()
        windows = [
            (seconds, limit)
            for seconds, limit in (
                (1, access.rate_limit_per_second),
                (60, access.rate_limit_per_minute),
            )
            if limit
        ]
        self.limiter = RateLimiter(windows)

    def authenticate(self, headers: Mapping[str, str]) -> User:
        """Return the caller's user; raise ``ApiError`` (401/400/403) when not allowed."""
        if self.access.auth == "none":
            return self._users[0]
        if self.access.auth == "session_key":
            key = headers.get("X-Session-API-Key")
            if key is None or not self._is_valid(key):
                raise ApiError(401, {"detail": "Unauthorized"})
            return self._users[0]
        key = _bearer_key(headers)
        if key is None:
            raise ApiError(401, {"error": "NoCredentialsError"})
        if not self._is_valid(key):
            raise ApiError(401, {"error": "Invalid API key"})
        user = self._users[self.access.api_keys.index(key)]
        _check_org(headers.get("X-Org-Id"), user)
        return user

    def identity(self, user: User | None) -> str:
        """Return the label a caller is counted under (rate limits and ``/_fake/stats``)."""
        if user is None:
            return UNAUTHENTICATED
        if self.access.auth == "bearer":
            return user.id
        return SHARED_SESSION if self.access.auth == "session_key" else ANONYMOUS

    def revoke(self, key: str) -> bool:
        """Make a key invalid from now on; return whether it was a known key."""
        with self._lock:
            known = key in self.access.api_keys
            if known:
                self._revoked.add(key)
            return known

    def _is_valid(self, key: str) -> bool:
        with self._lock:
            return key in self.access.api_keys and key not in self._revoked


def _bearer_key(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("Authorization") or ""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("X-Session-API-Key") or headers.get("X-Access-Token")


def _check_org(org_header: str | None, user: User) -> None:
    if org_header is None:
        return
    org_id = normalize_uuid(org_header)
    if org_id is None:
        raise ApiError(400, {"error": "Invalid X-Org-Id header: not a UUID"})
    if org_id != normalize_uuid(user.org_id):
        raise ApiError(403, {"error": "User is not a member of the requested organization"})


class RateLimiter:
    """Fixed-window counters per caller; each window opens at the caller's first request."""

    def __init__(
        self,
        windows: list[tuple[int, int]],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.windows = windows
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        # (caller, window seconds) -> [window start, requests counted in it]
        self._counters: dict[tuple[str, int], list[float]] = {}

    def hit(self, caller: str) -> None:
        """Count one request; raise a 429 ``ApiError`` when a window is full."""
        with self._lock:
            now = self._monotonic()
            counters = []
            for seconds, limit in self.windows:
                counter = self._counters.setdefault((caller, seconds), [now, 0])
                if now - counter[0] >= seconds:
                    counter[0], counter[1] = now, 0
                counters.append((seconds, limit, counter))
            full = [
                (seconds, limit, counter)
                for seconds, limit, counter in counters
                if counter[1] >= limit
            ]
            if full:
                seconds, limit, counter = max(full, key=lambda item: item[2][0] + item[0])
                raise self._exceeded(seconds, limit, counter[0] + seconds - now)
            for _, _, counter in counters:
                counter[1] += 1

    def _exceeded(self, seconds: int, limit: int, wait: float) -> ApiError:
        unit = "1 second" if seconds == 1 else "1 minute"
        return ApiError(
            429,
            {"error": f"Rate limit exceeded: {limit} per {unit}"},
            {
                "Retry-After": str(max(1, math.ceil(wait))),
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(math.ceil(self._wall_clock() + wait)),
            },
        )
