"""Measure the sync against the fake App Server's volume scenario and print a table.

    python -m bench.sync [--conversations 10000] [--sandboxes 200] [--changed-percent 1]

Starts the fake on loopback (no rate limit, frozen clock), mirrors it into an SQLite database
in a temporary folder, and measures: the first full sync, a quiet cycle, a cycle after a
share of the conversations changed upstream, and a naive sync that pages through everything
on every cycle. Requests are counted by the budget transport every sync request goes through.
Project modules are imported inside the functions that use them: Django must be configured
(environment, `django.setup()`) before they can be imported. The rate budget is lifted so
that the figures show the sync's own cost; the last column says how long the same requests
take under the default budget (80 per minute, burst 8).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"
BENCH_KEY = "sk-oh-bench-key-0123456789"
DEFAULT_BUDGET_PER_MINUTE = 80.0
DEFAULT_BURST = 8


@dataclass
class Figure:
    """One measured cycle."""

    name: str
    requests: int
    seconds: float
    changed: int


def configure_django(data_dir: Path) -> None:
    """Point Django at a fresh SQLite database in `data_dir` and migrate it."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DEBUG": "1",
            "DASHBOARD_DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{data_dir / 'bench.sqlite3'}",
            "REDIS_URL": "",
            "CELERY_BROKER_URL": f"sqla+sqlite:///{data_dir / 'broker.sqlite3'}",
            "SYNC_RATE_PER_MINUTE": "1000000",
            "SYNC_RATE_BURST": "100000",
            "SYNC_AGENT_PROBE_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def start_fake(conversations: int, sandboxes: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start the fake App Server and return it with its base URL."""
    command = [
        sys.executable, "-m", "apps.fake_app_server", "--host", LOOPBACK, "--port", "0",
        "--scenario", "volume", "--conversations", str(conversations),
        "--sandboxes", str(sandboxes), "--frozen-clock", "--no-rate-limit",
        "--api-key", BENCH_KEY, "--log-level", "WARNING",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        # A fixed argument list (this interpreter and our own module): nothing untrusted.
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log)  # noqa: S603
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.startswith("LISTENING "):
        process.terminate()
        raise SystemExit(f"the fake App Server did not start (see {log_path}): {line!r}")
    return process, line.removeprefix("LISTENING ")


def measure(name: str, run: Callable[[], tuple[int, int]]) -> Figure:
    """Time `run`, which returns (requests, changed)."""
    started = time.perf_counter()
    requests, changed = run()
    return Figure(name, requests, time.perf_counter() - started, changed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--sandboxes", type=int, default=200)
    parser.add_argument("--changed-percent", type=float, default=1.0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-sync-") as folder:
        data_dir = Path(folder)
        configure_django(data_dir)
        fake, base_url = start_fake(args.conversations, args.sandboxes, data_dir / "fake.log")
        try:
            figures, peak = run_benchmark(base_url, args.changed_percent)
        finally:
            fake.terminate()
            fake.wait(timeout=30)
    print_table(figures, peak, args)


def run_benchmark(base_url: str, changed_percent: float) -> tuple[list[Figure], int]:
    """Run every cycle against the fake; return the figures and the first sync's peak memory."""
    from apps.accounts.models import CloudAccount

    account = CloudAccount(name="Bench", base_url=base_url)
    account.set_api_key(BENCH_KEY)
    account.save()
    control = httpx.Client(base_url=f"{base_url}/_fake", timeout=120)

    tracemalloc.start()
    first = measure("first full sync", lambda: synced(account.pk))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    quiet = measure("quiet cycle", lambda: synced(account.pk))
    changed_ids = touch_some(control, account, changed_percent)
    changed = measure(f"{changed_percent:g} % changed ({changed_ids})", lambda: synced(account.pk))
    naive = measure("naive: page through everything", lambda: naive_cycle(account))
    control.close()
    return [first, quiet, changed, naive], peak


def synced(account_id: int) -> tuple[int, int]:
    """Run one sync of the account; return (requests, rows changed)."""
    from apps.sync.engine import run_account_sync

    states = run_account_sync(account_id) or []
    for state in states:
        if state.status != "ok":
            raise SystemExit(f"the {state.resource} sync failed: {state.last_error}")
    return sum(s.last_requests for s in states), sum(s.last_changed for s in states)


def touch_some(control: httpx.Client, account, percent: float) -> int:
    """Mark `percent` of the account's conversations updated upstream; return how many."""
    from apps.conversations.models import Conversation

    ids = list(Conversation.objects.filter(account=account).values_list("remote_id", flat=True))
    chosen = random.Random(7).sample(ids, max(1, round(len(ids) * percent / 100)))
    control.post("/clock", json={"advance_seconds": 60}).raise_for_status()
    for remote_id in chosen:
        control.post(
            "/mutate", json={"action": "touch_conversation", "conversation_id": remote_id}
        ).raise_for_status()
    return len(chosen)


def naive_cycle(account) -> tuple[int, int]:
    """Page through every conversation and sandbox and upsert each page (no cursor)."""
    from django.utils import timezone

    from apps.sync import upstream
    from apps.sync.budget import budgeted_client
    from apps.sync.mirror import CONVERSATIONS, SANDBOXES, parse_item, upsert

    client, transport = budgeted_client(account)
    changed = 0
    with client:
        for kind, path, params in (
            (CONVERSATIONS, upstream.CONVERSATION_SEARCH, {"include_sub_conversations": True}),
            (SANDBOXES, upstream.SANDBOX_SEARCH, {}),
        ):
            for items in upstream.iter_raw_pages(client, path, params):
                parsed = [parse_item(kind, item) for item in items]
                changed += upsert(account, kind, parsed, timezone.now()).changed
    return transport.requests, changed


def budget_seconds(requests: int) -> float:
    """Return the least time `requests` take under the default budget from a full bucket."""
    return max(0.0, requests - DEFAULT_BURST) * 60.0 / DEFAULT_BUDGET_PER_MINUTE


def print_table(figures: list[Figure], peak_bytes: int, args: argparse.Namespace) -> None:
    print(f"Sync benchmark: fake App Server, volume scenario, {args.conversations} conversations, "
          f"{args.sandboxes} sandboxes, SQLite")  # fmt: skip
    print()
    print(f"| {'cycle':<34} | {'requests':>8} | {'seconds':>8} | {'rows changed':>12} |"
          f" {'s at 80/min':>11} |")  # fmt: skip
    print(f"|{'-' * 36}|{'-' * 10}|{'-' * 10}|{'-' * 14}|{'-' * 13}|")
    for figure in figures:
        print(f"| {figure.name:<34} | {figure.requests:>8} | {figure.seconds:>8.2f} |"
              f" {figure.changed:>12} | {budget_seconds(figure.requests):>11.0f} |")  # fmt: skip
    _first, quiet, changed, naive = figures
    print()
    print(f"Peak Python memory during the first sync (tracemalloc): {peak_bytes / 2**20:.1f} MiB")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"Peak resident set size of the process (ru_maxrss): {maxrss / 1024:.1f} MiB")
    print(f"Naive vs incremental, quiet cycle: {naive.requests / max(1, quiet.requests):.0f}x "
          f"the requests, {naive.seconds / max(quiet.seconds, 1e-6):.0f}x the time")  # fmt: skip
    print(f"Naive vs incremental, {args.changed_percent:g} % changed: "
          f"{naive.requests / max(1, changed.requests):.0f}x the requests, "
          f"{naive.seconds / max(changed.seconds, 1e-6):.0f}x the time")  # fmt: skip
    print("'s at 80/min': the least time those requests take under the default rate budget.")


if __name__ == "__main__":
    main()
