"""The README's first command: bin/dashboard starts web, worker and beat on the embedded
default, creates the first administrator, prints the URL, and Ctrl-C stops everything.
With --demo it also starts the fake App Server and registers it as a demo account."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx

from tests.processes import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> set[int]:
    """Every descendant of `pid`, read from /proc (no psutil needed)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_bin_dashboard_runs_everything_and_ctrl_c_stops_it(tmp_path):
    port, fake_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
        and not key.startswith("DASHBOARD_")
    }
    env.update(
        DASHBOARD_DATA_DIR=str(tmp_path / "data"),
        PORT=str(port),
        FAKE_APP_SERVER_PORT=str(fake_port),
        HEARTBEAT_INTERVAL_SECONDS="1",
    )
    log_path = tmp_path / "dashboard.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PROJECT_ROOT / "bin" / "dashboard"), "--demo"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=PROJECT_ROOT,
        )
    started: set[int] = set()
    try:
        output = wait_for(
            lambda: (text := log_path.read_text()) and "OpenHands dashboard: http" in text and text,
            timeout=180,
            what="bin/dashboard to print its URL",
        )
        assert f"http://127.0.0.1:{port}/" in output
        credentials = re.search(r"username: (\S+)\s+password: (\S+)", output)
        assert credentials, output
        secrets_file = tmp_path / "data" / "local.env"
        assert secrets_file.stat().st_mode & 0o077 == 0, "generated secrets must be private"

        base = f"http://127.0.0.1:{port}"
        health = wait_for(
            lambda: _get_json(f"{base}/healthz"), timeout=60, what="the health endpoint"
        )
        assert health["status"] == "ok"
        # The worker and beat are up when a heartbeat has gone through the broker.
        wait_for(
            lambda: (
                (_get_json(f"{base}/healthz") or {}).get("worker_last_seen_seconds_ago") is not None
            ),
            timeout=90,
            what="a heartbeat from beat through the worker",
        )
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            login_page = browser.get("/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
            home = browser.post(
                "/login/",
                data={
                    "username": credentials[1],
                    "password": credentials[2],
                    "csrfmiddlewaretoken": token[1],
                },
            )
            assert home.status_code == 200
            assert "<h1>Overview</h1>" in home.text
            assert "Demo mode" in home.text
            assert "Demo (fake App Server)" in home.text

        started = children_of(process.pid)
        assert len(started) >= 4, "web, worker, beat and the fake App Server"
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        wait_for(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in started),
            timeout=30,
            what="every process bin/dashboard started to exit",
        )
    finally:
        survivors = started | children_of(process.pid)
        if process.poll() is None:
            process.kill()
        for pid in survivors:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


def _get_json(url: str) -> dict | None:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None
