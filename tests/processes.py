"""Start and stop real processes in tests: by PID, with deadlines, logs kept for failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, interval=0.2):
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def database_url_for_children() -> str:
    """Return a DATABASE_URL for the database pytest-django created, for child processes."""
    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    user = conf["USER"] or "postgres"
    password = f":{conf['PASSWORD']}" if conf["PASSWORD"] else ""
    return f"postgres://{user}{password}@{conf['HOST']}:{conf['PORT'] or 5432}/{conf['NAME']}"


class ManagedProcess:
    """A child process whose output goes to a log file, stopped by PID."""

    def __init__(self, args: list[str], *, log_path: Path, env: dict[str, str], cwd=None):
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            # The whole session: Celery's prefork children die with their parent.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()


CELERY = [sys.executable, "-m", "celery", "-A", "dashboard"]


def celery_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Return the environment for Celery processes that share this test's database.

    On the embedded default the broker is an SQLite file: each test gets its own.
    """
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_children(),
        "DASHBOARD_DATA_DIR": str(tmp_path),
        **overrides,
    }
    if "sqla+sqlite" in env.get("CELERY_BROKER_URL", "sqla+sqlite"):
        env["CELERY_BROKER_URL"] = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    return env


def start_worker(tmp_path: Path, env: dict[str, str], name: str = "worker") -> ManagedProcess:
    return ManagedProcess(
        [*CELERY, "worker", "--pool=solo", f"--hostname={name}@%h", "--loglevel=INFO"],
        log_path=tmp_path / f"{name}.log",
        env=env,
    )


def start_beat(tmp_path: Path, env: dict[str, str]) -> ManagedProcess:
    return ManagedProcess(
        [*CELERY, "beat", "--loglevel=INFO", "--schedule", str(tmp_path / "beat-schedule")],
        log_path=tmp_path / "beat.log",
        env=env,
    )
