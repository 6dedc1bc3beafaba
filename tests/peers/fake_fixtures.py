"""Run the fake OpenHands App Server (``apps/fake_app_server``) as a real process for tests.

Fixtures:

``fake_app_server_process`` (session)
    One server process for the whole run: ``--scenario demo``, two API keys (two users in two
    organizations), bearer auth, no rate limit. Started with ``--port 0``; the fixture reads the
    ``LISTENING`` line with a deadline and stops the process by PID at the end.
``fake_app_server`` (function)
    Resets that process (new world from the startup settings, no faults, zeroed stats) and
    yields a :class:`FakeAppServer` handle: ``.base_url``, ``.api_url``, ``.api_key``,
    ``.api_keys``, ``.headers``, and ``.inject_fault(**rule)``, ``.clear_faults()``,
    ``.advance_clock(seconds)``, ``.freeze_clock()``, ``.stats()``, ``.clear_stats()``,
    ``.mutate(action, **params)``, ``.reset(scenario=None, **settings)``, ``.state()``.
``fake_app_server_factory`` (function)
    ``start(*cli_args, api_keys=(...))`` starts another process with its own command-line
    settings (e.g. ``"--scenario", "volume"`` or ``"--auth", "session_key"``); every process it
    started is stopped at the end of the test.

Most settings can also be changed per test without a new process:
``fake_app_server.reset(scenario="volume", conversations=10_000, rate_limit_per_second=5,
auth="session_key", frozen_clock=True, ...)``.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = [
    "FakeAppServer",
    "FakeAppServerProcess",
    "fake_app_server",
    "fake_app_server_factory",
    "fake_app_server_process",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
FAKE_API_KEYS = ("sk-oh-fake-key-for-tests-1", "sk-oh-fake-key-for-tests-2")
DEFAULT_SEED = 20260820
START_TIMEOUT = 30.0
STOP_GRACE = 10.0
CONTROL_TIMEOUT = 60.0
LISTENING_PREFIX = "LISTENING "


class FakeControlError(RuntimeError):
    """The fake's control API refused a request (the message has its answer)."""


@dataclass
class FakeAppServerProcess:
    """A fake App Server process started by these fixtures."""

    base_url: str
    api_keys: tuple[str, ...] = field(repr=False)
    popen: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @classmethod
    def start(
        cls, cli_args: Sequence[str], *, api_keys: Sequence[str], log_dir: Path
    ) -> FakeAppServerProcess:
        """Start the server on a free loopback port and wait for its LISTENING line."""
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"fake-app-server-{time.monotonic_ns()}.log"
        key_args = [argument for key in api_keys for argument in ("--api-key", key)]
        command = [
            sys.executable,
            "-m",
            "apps.fake_app_server",
            "--host",
            LOOPBACK,
            "--port",
            "0",
            "--log-level",
            "INFO",
            *key_args,
            *cli_args,
        ]
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,  # a Ctrl-C aimed at pytest must not hit it mid-test
            )
        try:
            base_url = _read_listening_line(popen, log_path, START_TIMEOUT)
        except BaseException:
            _stop(popen)
            raise
        return cls(base_url=base_url, api_keys=tuple(api_keys), popen=popen, log_path=log_path)

    def stop(self) -> int:
        """Stop the process (SIGTERM, then SIGKILL after a grace); return its exit status."""
        return _stop(self.popen)

    def log_tail(self, max_lines: int = 40) -> str:
        """Return the end of the process's log."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-max_lines:])


def _read_listening_line(popen: subprocess.Popen[bytes], log_path: Path, timeout: float) -> str:
    assert popen.stdout is not None
    deadline = time.monotonic() + timeout
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(popen.stdout, selectors.EVENT_READ)
        while b"\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(
                    f"the fake App Server printed no LISTENING line within {timeout:.0f} s; "
                    f"log: {log_path}"
                )
            if not selector.select(remaining):
                continue
            chunk = os.read(popen.stdout.fileno(), 4096)
            if not chunk:
                log = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(
                    f"the fake App Server exited with {popen.wait()} before listening:\n{log}"
                )
            received += chunk
    line = received.split(b"\n", 1)[0].decode().strip()
    if not line.startswith(LISTENING_PREFIX):
        raise RuntimeError(f"unexpected first line from the fake App Server: {line!r}")
    return line.removeprefix(LISTENING_PREFIX)


def _stop(popen: subprocess.Popen[bytes]) -> int:
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=STOP_GRACE)
    if popen.stdout is not None:
        popen.stdout.close()
    return popen.returncode


class FakeAppServer:
    """A handle on a running fake: its URLs and keys, and its control API."""

    def __init__(self, process: FakeAppServerProcess) -> None:
        self.process = process
        self.base_url = process.base_url
        self.api_keys = process.api_keys
        self._control = httpx.Client(base_url=f"{self.base_url}/_fake", timeout=CONTROL_TIMEOUT)

    def __repr__(self) -> str:
        return f"FakeAppServer(base_url={self.base_url!r}, pid={self.process.pid})"

    @property
    def api_key(self) -> str:
        """Return the first API key (user 0)."""
        return self.api_keys[0]

    @property
    def api_url(self) -> str:
        """Return the ``/api/v1`` base URL."""
        return f"{self.base_url}/api/v1"

    @property
    def headers(self) -> dict[str, str]:
        """Return the Authorization header of user 0."""
        return {"Authorization": f"Bearer {self.api_key}"}

    def close(self) -> None:
        """Close the control connection."""
        self._control.close()

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        """Call the control API; raise :class:`FakeControlError` unless it answers 2xx."""
        response = self._control.request(method, path, json=payload)
        if not response.is_success:
            raise FakeControlError(f"{method} /_fake{path}: {response.status_code} {response.text}")
        return response.json()

    def reset(self, scenario: str | None = None, **settings: Any) -> dict[str, Any]:
        """Regenerate the world; settings not given return to the process's defaults."""
        overrides = dict(settings)
        if scenario is not None:
            overrides["scenario"] = scenario
        return self.call("POST", "/reset", overrides)

    def state(self) -> dict[str, Any]:
        """Return the world's summary (users, counts, clock, deleted ids)."""
        return self.call("GET", "/state")

    def inject_fault(self, **rule: Any) -> dict[str, Any]:
        """Add a fault rule (see ``apps/fake_app_server/faults.py``); return it with its id."""
        return self.call("POST", "/faults", rule)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.call("DELETE", "/faults")

    def advance_clock(self, seconds: float) -> str:
        """Move the fake clock forward; return the new time (ISO)."""
        return self.call("POST", "/clock", {"advance_seconds": seconds})["now"]

    def freeze_clock(self, frozen: bool = True) -> str:
        """Stop (or restart) the fake clock following real time; return the time."""
        return self.call("POST", "/clock", {"frozen": frozen})["now"]

    def stats(self) -> dict[str, Any]:
        """Return request counts: total, by_route, by_key (user id), by_status."""
        return self.call("GET", "/stats")

    def clear_stats(self) -> None:
        """Zero the request counts."""
        self.call("DELETE", "/stats")

    def mutate(self, action: str, **params: Any) -> dict[str, Any]:
        """Change the world (see ``apps/fake_app_server/control.py`` MUTATIONS)."""
        return self.call("POST", "/mutate", {"action": action, **params})


@pytest.fixture(scope="session")
def fake_app_server_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FakeAppServerProcess]:
    """Start one demo fake App Server for the test session; stop it by PID at the end."""
    process = FakeAppServerProcess.start(
        ["--scenario", "demo", "--seed", str(DEFAULT_SEED), "--no-rate-limit"],
        api_keys=FAKE_API_KEYS,
        log_dir=tmp_path_factory.mktemp("fake-app-server"),
    )
    yield process
    process.stop()


@pytest.fixture
def fake_app_server(fake_app_server_process: FakeAppServerProcess) -> Iterator[FakeAppServer]:
    """Yield the session's fake App Server, freshly reset for this test."""
    server = FakeAppServer(fake_app_server_process)
    try:
        server.reset()
        yield server
    finally:
        server.close()


@pytest.fixture
def fake_app_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., FakeAppServer]]:
    """Yield ``start(*cli_args, api_keys=...)`` for extra, separately configured servers."""
    started: list[FakeAppServer] = []
    log_dir = tmp_path_factory.mktemp("fake-app-server-extra")

    def start(*cli_args: str, api_keys: Sequence[str] = FAKE_API_KEYS) -> FakeAppServer:
        process = FakeAppServerProcess.start(cli_args, api_keys=api_keys, log_dir=log_dir)
        server = FakeAppServer(process)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
        server.process.stop()
