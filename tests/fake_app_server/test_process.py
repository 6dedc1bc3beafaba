"""The fake as a command: loopback only, LISTENING line, flags, graceful SIGTERM."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from tests.peers.fake_fixtures import REPO_ROOT, FakeAppServer


@pytest.mark.parametrize("host", ["0.0.0.0", "8.8.8.8", "::"])  # noqa: S104 (refused on purpose)
def test_it_refuses_to_listen_beyond_loopback(host: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "apps.fake_app_server", "--host", host, "--port", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr
    assert "LISTENING" not in result.stdout


def test_command_line_flags_configure_the_world_and_sigterm_stops_it(
    fake_app_server_factory: Callable[..., FakeAppServer],
) -> None:
    fake = fake_app_server_factory(
        "--scenario",
        "volume",
        "--conversations",
        "40",
        "--sandboxes",
        "4",
        "--events-per-conversation",
        "7",
        "--auth",
        "session_key",
        "--rate-limit-per-minute",
        "1000",
        api_keys=["oss-shared-key"],
    )
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert not fake.base_url.endswith(":0")
    headers = {"X-Session-API-Key": "oss-shared-key"}
    with httpx.Client(base_url=fake.api_url, headers=headers, timeout=10) as client:
        assert client.get("/app-conversations/count").json() == 40
        conversation_id = client.get("/app-conversations/search").json()["items"][0]["id"]
        assert client.get(f"/conversation/{conversation_id}/events/count").json() == 7
    state = fake.state()
    assert (state["auth"], state["rate_limits"]) == (
        "session_key",
        {"per_second": 10, "per_minute": 1000},
    )
    assert fake.process.stop() == 0


def test_bad_settings_are_refused_with_a_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "apps.fake_app_server", "--port", "0", "--auth", "bearer"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "needs at least one API key" in result.stderr
