"""The shared rate budget: one token bucket per Cloud account, shared by every worker process.

The Cloud allows 10 requests per second and 100 per minute per key, counted in fixed windows,
and answers 429 with `Retry-After` beyond that. A bucket of `capacity` tokens refilled at `rate`
tokens per second lets through at most `capacity + rate * w` requests in any window of `w`
seconds, so the defaults (8 tokens, 80 per minute) stay below both limits with a margin for
the dashboard's own explicit actions. An account may override the rate and the burst (a
self-hosted App Server has other limits); blank overrides fall back to the settings.

The bucket lives in Redis when `settings.REDIS_URL` is set (one atomic Lua script per token)
and in the database otherwise (a row locked with `select_for_update`; on SQLite the write
transaction itself serialises takers). Every request the sync makes goes through
`BudgetedTransport`, an httpx transport that takes a token first and turns a 429 into a pause
of the whole account's bucket until the moment the server named.
"""

from __future__ import annotations

import email.utils
import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings
from django.db import transaction

from apps.openhands.transport import Clock
from apps.sync.models import RateBucket

if TYPE_CHECKING:
    import redis

    from apps.accounts.models import CloudAccount
    from apps.openhands import AppServerClient

logger = logging.getLogger(__name__)

# Used when a 429 names no wait at all: long enough for a one-second window to pass.
DEFAULT_429_PAUSE = 2.0
# Redis forgets a bucket nobody used for this long (it would be full again by then anyway).
REDIS_BUCKET_TTL = 3600
REDIS_PREFIX = "dashboard:budget:"


class RateBudgetExceededError(Exception):
    """Signal that a token could not be had within the allowed wait (e.g. a long 429 pause)."""


@dataclass(frozen=True)
class BudgetPolicy:
    """How fast one account's bucket refills, how many tokens it holds, how long to wait."""

    rate_per_second: float
    capacity: float
    max_wait: float

    def __post_init__(self) -> None:
        if self.rate_per_second <= 0 or self.capacity < 1 or self.max_wait < 0:
            raise ValueError("a rate budget needs a positive rate, capacity >= 1 and max_wait >= 0")

    @classmethod
    def from_settings(
        cls, *, per_minute: float | None = None, burst: int | None = None
    ) -> BudgetPolicy:
        """Return the SYNC_RATE_* settings' policy, with `per_minute`/`burst` instead if given."""
        if per_minute is None:
            per_minute = settings.SYNC_RATE_PER_MINUTE
        if burst is None:
            burst = settings.SYNC_RATE_BURST
        return cls(
            rate_per_second=per_minute / 60.0,
            capacity=float(burst),
            max_wait=settings.SYNC_RATE_MAX_WAIT_SECONDS,
        )

    @classmethod
    def for_account(cls, account: CloudAccount) -> BudgetPolicy:
        """Return the settings' policy with the account's own rate and burst where it sets them."""
        return cls.from_settings(
            per_minute=account.sync_rate_per_minute, burst=account.sync_rate_burst
        )


def take_token(
    tokens: float, refilled_at: float, paused_until: float, now: float, policy: BudgetPolicy
) -> tuple[float, float]:
    """Refill a bucket up to `now` and take one token; return (tokens left, wait).

    `wait` is 0 when the token was taken, otherwise the seconds after which one will be there.
    (The Redis script below implements the same arithmetic.)
    """
    if paused_until > now:
        return 0.0, paused_until - now
    tokens = min(policy.capacity, tokens + max(0.0, now - refilled_at) * policy.rate_per_second)
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / policy.rate_per_second


class TokenBucket(ABC):
    """A store of named token buckets shared by every process."""

    def __init__(self, policy: BudgetPolicy) -> None:
        self.policy = policy

    @abstractmethod
    def take(self, key: str, now: float) -> float:
        """Take one token from bucket `key`; return 0 if taken, else the seconds to wait."""

    @abstractmethod
    def pause(self, key: str, until: float) -> None:
        """Empty bucket `key` and give no token before `until` (epoch seconds)."""


class DatabaseTokenBucket(TokenBucket):
    """Keep buckets in `RateBucket` rows (the embedded default: SQLite or PostgreSQL)."""

    def take(self, key: str, now: float) -> float:
        self._ensure_row(key, now)
        with transaction.atomic():
            bucket = RateBucket.objects.select_for_update().get(key=key)
            tokens, wait = take_token(
                bucket.tokens, bucket.refilled_at, bucket.paused_until, now, self.policy
            )
            if bucket.paused_until <= now:  # a paused bucket stays empty until the pause ends
                bucket.tokens, bucket.refilled_at = tokens, now
                bucket.save(update_fields=["tokens", "refilled_at"])
        return wait

    def pause(self, key: str, until: float) -> None:
        self._ensure_row(key, until)
        with transaction.atomic():
            bucket = RateBucket.objects.select_for_update().get(key=key)
            bucket.tokens = 0.0
            bucket.refilled_at = max(bucket.refilled_at, until)
            bucket.paused_until = max(bucket.paused_until, until)
            bucket.save(update_fields=["tokens", "refilled_at", "paused_until"])

    def _ensure_row(self, key: str, now: float) -> None:
        RateBucket.objects.get_or_create(
            key=key, defaults={"tokens": self.policy.capacity, "refilled_at": now}
        )


# KEYS[1] bucket; ARGV rate, capacity, now. Returns the wait as a string (Lua numbers returned
# to Redis are truncated to integers).
_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'refilled_at', 'paused_until')
local tokens = tonumber(state[1]) or capacity
local refilled_at = tonumber(state[2]) or now
local paused_until = tonumber(state[3]) or 0
if paused_until > now then
  return tostring(paused_until - now)
end
tokens = math.min(capacity, tokens + math.max(0, now - refilled_at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'refilled_at', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return tostring(wait)
"""

# KEYS[1] bucket; ARGV until. Empties the bucket and extends its pause.
_PAUSE_SCRIPT = """
local until_ = tonumber(ARGV[1])
local paused_until = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
local refilled_at = tonumber(redis.call('HGET', KEYS[1], 'refilled_at')) or 0
redis.call('HSET', KEYS[1], 'tokens', '0', 'paused_until', tostring(math.max(paused_until, until_)),
  'refilled_at', tostring(math.max(refilled_at, until_)))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

_redis_clients: dict[str, redis.Redis] = {}
_redis_clients_lock = threading.Lock()


def _redis_client(url: str) -> redis.Redis:
    """Return one connection pool per Redis URL for the whole process."""
    import redis  # imported here: the embedded default runs without Redis

    with _redis_clients_lock:
        if url not in _redis_clients:
            _redis_clients[url] = redis.Redis.from_url(url)
        return _redis_clients[url]


class RedisTokenBucket(TokenBucket):
    """Keep buckets in Redis hashes, changed only by atomic Lua scripts."""

    def __init__(self, policy: BudgetPolicy, url: str, *, prefix: str = REDIS_PREFIX) -> None:
        super().__init__(policy)
        client = _redis_client(url)
        self._prefix = prefix
        self._take = client.register_script(_TAKE_SCRIPT)
        self._pause = client.register_script(_PAUSE_SCRIPT)

    def take(self, key: str, now: float) -> float:
        args: list[Any] = [self.policy.rate_per_second, self.policy.capacity, now, REDIS_BUCKET_TTL]
        return float(self._take(keys=[self._prefix + key], args=args))

    def pause(self, key: str, until: float) -> None:
        self._pause(keys=[self._prefix + key], args=[until, REDIS_BUCKET_TTL])


def bucket_from_settings(policy: BudgetPolicy | None = None) -> TokenBucket:
    """Return the Redis bucket store when REDIS_URL is set, else the database one."""
    policy = policy or BudgetPolicy.from_settings()
    if settings.REDIS_URL:
        return RedisTokenBucket(policy, settings.REDIS_URL)
    return DatabaseTokenBucket(policy)


class RateBudget:
    """One account's bucket as seen by one caller: wait for tokens, pause after a 429."""

    def __init__(self, bucket: TokenBucket, key: str, *, clock: Clock | None = None) -> None:
        self.bucket = bucket
        self.key = key
        self.clock = clock or Clock()

    @classmethod
    def for_account(cls, account: CloudAccount, *, clock: Clock | None = None) -> RateBudget:
        """Return the budget every worker shares for `account`, at the account's own rate."""
        bucket = bucket_from_settings(BudgetPolicy.for_account(account))
        return cls(bucket, f"account:{account.pk}", clock=clock)

    def acquire(self) -> None:
        """Take one token, waiting as long as needed up to the policy's max_wait."""
        deadline = self.clock.monotonic() + self.bucket.policy.max_wait
        while True:
            wait = self.bucket.take(self.key, self.clock.now())
            if wait == 0.0:
                return
            if self.clock.monotonic() + wait > deadline:
                raise RateBudgetExceededError(
                    f"The rate budget of {self.key} has no token for {wait:.0f} s (more than the "
                    f"{self.bucket.policy.max_wait:.0f} s a sync may wait); the next run resumes."
                )
            self.clock.sleep(wait)

    def pause_for(self, seconds: float) -> None:
        """Give no token to anyone for `seconds` (the server's Retry-After)."""
        logger.warning("Rate budget %s paused for %.1f s after a 429", self.key, seconds)
        self.bucket.pause(self.key, self.clock.now() + seconds)


class BudgetedTransport(httpx.BaseTransport):
    """Take a budget token before every request; pause the budget when the server says 429."""

    def __init__(self, budget: RateBudget, inner: httpx.BaseTransport | None = None) -> None:
        self.budget = budget
        self.inner = inner or httpx.HTTPTransport()
        self.requests = 0
        self.rate_limited = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.budget.acquire()
        self.requests += 1
        response = self.inner.handle_request(request)
        if response.status_code == 429:
            self.rate_limited += 1
            self.budget.pause_for(_retry_after(response.headers, self.budget.clock.now()))
        return response

    def close(self) -> None:
        self.inner.close()


def _retry_after(headers: httpx.Headers, now: float) -> float:
    """Return the seconds a 429 asks to wait (Retry-After as seconds or HTTP date)."""
    value = headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return DEFAULT_429_PAUSE


def budgeted_client(
    account: CloudAccount,
    *,
    budget: RateBudget | None = None,
    inner: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    max_retries: int | None = None,
) -> tuple[AppServerClient, BudgetedTransport]:
    """Return a client for `account` whose every request spends the account's budget."""
    clock = clock or Clock()
    transport = BudgetedTransport(budget or RateBudget.for_account(account, clock=clock), inner)
    options: dict[str, Any] = {"transport": transport, "clock": clock}
    if max_retries is not None:
        options["max_retries"] = max_retries
    return account.client(**options), transport
