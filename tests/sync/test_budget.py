"""The shared rate budget: bucket arithmetic on both stores, 429 pauses, and Cloud-like limits."""

from __future__ import annotations

import uuid

import httpx
import pytest

from apps.openhands import AppServerClient, RateLimitedError
from apps.openhands.transport import Clock
from apps.sync.budget import (
    BudgetedTransport,
    BudgetPolicy,
    DatabaseTokenBucket,
    RateBudget,
    RateBudgetExceededError,
    RedisTokenBucket,
    take_token,
)
from apps.sync.engine import run_account_sync
from apps.sync.models import Resource, SyncState
from tests.sync.conftest import make_account

REDIS_TEST_URL = "redis://127.0.0.1:6379/13"
POLICY = BudgetPolicy(rate_per_second=2.0, capacity=3.0, max_wait=5.0)
T0 = 1_800_000_000.0


class FakeClock:
    """Wall and monotonic time that move only when `sleep` is called."""

    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> Clock:
        return Clock(sleep=self.sleep, monotonic=lambda: self.now, now=lambda: self.now)


def test_take_token_refills_at_the_rate_up_to_the_capacity():
    assert take_token(0.0, T0, 0.0, T0 + 1.0, POLICY) == (1.0, 0.0)
    assert take_token(3.0, T0, 0.0, T0 + 100.0, POLICY) == (2.0, 0.0)
    assert take_token(0.5, T0, 0.0, T0, POLICY) == (0.5, 0.25)
    assert take_token(3.0, T0, T0 + 7.0, T0, POLICY) == (0.0, 7.0)


@pytest.fixture(params=["database", "redis"])
def bucket(request, db):
    if request.param == "database":
        return DatabaseTokenBucket(POLICY)
    return RedisTokenBucket(POLICY, REDIS_TEST_URL)


def test_a_bucket_gives_its_burst_then_makes_callers_wait(bucket):
    key = f"test:{uuid.uuid4()}"

    waits = [bucket.take(key, T0) for _ in range(4)]

    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.5)
    assert bucket.take(key, T0 + 0.5) == 0.0


def test_a_paused_bucket_gives_nothing_until_the_pause_ends(bucket):
    key = f"test:{uuid.uuid4()}"
    bucket.take(key, T0)

    bucket.pause(key, T0 + 30.0)

    assert bucket.take(key, T0 + 10.0) == pytest.approx(20.0)
    assert bucket.take(key, T0 + 30.0) == pytest.approx(0.5)  # empty, refilling from the end
    assert bucket.take(key, T0 + 30.5) == 0.0


def test_buckets_of_different_accounts_are_independent(bucket):
    first, second = f"test:{uuid.uuid4()}", f"test:{uuid.uuid4()}"
    for _ in range(3):
        bucket.take(first, T0)

    assert bucket.take(first, T0) > 0
    assert bucket.take(second, T0) == 0.0


@pytest.mark.django_db
def test_acquire_sleeps_for_tokens_and_gives_up_past_max_wait():
    fake_time = FakeClock()
    budget = RateBudget(
        DatabaseTokenBucket(POLICY), f"test:{uuid.uuid4()}", clock=fake_time.clock()
    )

    for _ in range(5):
        budget.acquire()

    assert fake_time.slept == [pytest.approx(0.5), pytest.approx(0.5)]
    budget.pause_for(60.0)
    with pytest.raises(RateBudgetExceededError, match="no token for 60 s"):
        budget.acquire()


@pytest.mark.django_db
def test_the_transport_takes_a_token_per_request_and_pauses_on_429():
    fake_time = FakeClock()
    key = f"test:{uuid.uuid4()}"
    budget = RateBudget(DatabaseTokenBucket(POLICY), key, clock=fake_time.clock())
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)])
    transport = BudgetedTransport(budget, httpx.MockTransport(lambda request: next(answers)))

    with httpx.Client(transport=transport) as client:
        assert client.get("http://upstream.test/a").status_code == 429
        assert client.get("http://upstream.test/b").status_code == 200

    assert transport.requests == 2
    assert transport.rate_limited == 1
    # The second request waited out the pause, then for a token refilled after it.
    assert fake_time.slept == [pytest.approx(3.0), pytest.approx(0.5)]


@pytest.mark.django_db
def test_no_sync_request_is_rate_limited_under_cloud_like_limits(fake_app_server, settings):
    """The fake enforces the Cloud's 10/s and 100/min; the default budget stays below them."""
    settings.REDIS_URL = None
    settings.SYNC_AGENT_PROBE_SECONDS = 0.0
    fake_app_server.reset(
        scenario="volume",
        conversations=1800,
        sandboxes=30,
        frozen_clock=True,
        rate_limit_per_second=10,
        rate_limit_per_minute=100,
    )
    account = make_account(fake_app_server)

    run_account_sync(account.pk)  # 18 conversation pages + 1 sandbox page: past the burst

    statuses = fake_app_server.stats()["by_status"]
    assert "429" not in statuses, statuses
    assert SyncState.objects.get(account=account, resource=Resource.CONVERSATIONS).status == "ok"
    # The control: the same limits do reject a client that ignores the budget.
    with AppServerClient(
        fake_app_server.base_url, api_key=fake_app_server.api_key, max_retries=0
    ) as client:
        answers = [_rate_limited(client) for _ in range(30)]
    assert any(answers)


def _rate_limited(client: AppServerClient) -> bool:
    try:
        client.search_sandboxes(limit=1)
    except RateLimitedError:
        return True
    return False


# Per-account overrides ----------------------------------------------------------------------


@pytest.fixture
def global_budget(settings):
    """Set distinctive global limits, so that a fallback to them is recognisable."""
    settings.REDIS_URL = None
    settings.SYNC_RATE_PER_MINUTE = 120.0
    settings.SYNC_RATE_BURST = 4
    settings.SYNC_RATE_MAX_WAIT_SECONDS = 5.0
    return settings


@pytest.mark.django_db
@pytest.mark.usefixtures("global_budget")
def test_blank_overrides_fall_back_to_the_settings(fake_account):
    assert fake_account.sync_rate_per_minute is None
    assert fake_account.sync_rate_burst is None

    policy = RateBudget.for_account(fake_account).bucket.policy

    assert policy == BudgetPolicy(rate_per_second=2.0, capacity=4.0, max_wait=5.0)
    fake_account.sync_rate_burst = 9  # one override alone: the rate stays the global one
    assert BudgetPolicy.for_account(fake_account) == BudgetPolicy(2.0, 9.0, 5.0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("redis_url", "store"), [(None, DatabaseTokenBucket), (REDIS_TEST_URL, RedisTokenBucket)]
)
def test_the_accounts_own_rate_and_burst_drive_its_bucket(
    fake_account, global_budget, redis_url, store
):
    global_budget.REDIS_URL = redis_url
    fake_account.sync_rate_per_minute = 30.0  # one token every 2 s
    fake_account.sync_rate_burst = 2
    fake_account.save()

    bucket = RateBudget.for_account(fake_account).bucket
    # A key of its own, so that concurrent runs sharing the Redis database never collide.
    key = f"test:{uuid.uuid4()}"
    waits = [bucket.take(key, T0) for _ in range(3)]

    assert type(bucket) is store
    assert waits == [0.0, 0.0, pytest.approx(2.0)]
    assert bucket.take(key, T0 + 2.0) == 0.0


@pytest.mark.django_db
def test_the_sync_spends_the_accounts_budget_not_the_global_one(
    fake_account, frozen_fake, fast_sync_settings
):
    # The global budget is generous; this account allows one request, then one every 2 minutes.
    fast_sync_settings.SYNC_RATE_MAX_WAIT_SECONDS = 5.0
    fake_account.sync_rate_per_minute = 0.5
    fake_account.sync_rate_burst = 1
    fake_account.save()
    frozen_fake.clear_stats()

    run_account_sync(fake_account.pk)

    upstream_requests = {
        route: count
        for route, count in frozen_fake.stats()["by_route"].items()
        if "/_fake" not in route
    }
    assert upstream_requests == {"GET /api/v1/app-conversations/search": 1}
    sandboxes = SyncState.objects.get(account=fake_account, resource=Resource.SANDBOXES)
    assert sandboxes.status == SyncState.Status.FAILING
    assert "has no token for 120 s" in sandboxes.last_error
