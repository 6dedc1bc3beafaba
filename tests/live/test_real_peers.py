"""The live tier's own machinery: bin/peers, the venv check, the fake LLM, loopback-only peers."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from apps.openhands import AppServerClient
from tests.live.conftest import wait_for_sandbox_status
from tests.peers.live.fake_llm import FAKE_REPLY
from tests.peers.live_fixtures import (
    AGENT_SERVER_VENV,
    APP_SERVER_VENV,
    LIVE_DIR,
    VENV_MARKER,
    RealAgentServer,
    RealAppServer,
    free_loopback_port,
    peer_python,
    start_process,
    tagged_pids,
    wait_until_serving,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TCP_LISTEN_STATE = "0A"


def listening_addresses(pids: list[int]) -> list[tuple[str, int]]:
    """Return the (host, port) of every TCP socket on which one of ``pids`` listens."""
    inodes = {inode for pid in pids for inode in _socket_inodes(pid)}
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == TCP_LISTEN_STATE and inode in inodes:
                found.append(_decode_address(local))
    return found


def _socket_inodes(pid: int) -> set[str]:
    """Return the inode numbers of the sockets a process holds open."""
    inodes = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process ended meanwhile
        return inodes
    for descriptor in descriptors:
        try:
            target = os.readlink(descriptor)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target.removeprefix("socket:[").removesuffix("]"))
    return inodes


def _decode_address(local: str) -> tuple[str, int]:
    """Decode /proc/net/tcp's ``0100007F:1F90`` (little-endian words) into ("127.0.0.1", 8080)."""
    host_hex, port_hex = local.split(":")
    words = [bytes.fromhex(host_hex[i : i + 8])[::-1] for i in range(0, len(host_hex), 8)]
    host = ipaddress.ip_address(b"".join(words))
    if isinstance(host, ipaddress.IPv6Address) and host.ipv4_mapped:
        host = host.ipv4_mapped
    return str(host), int(port_hex, 16)


@pytest.mark.live
def test_every_peer_process_listens_on_loopback_only(
    real_app_server: RealAppServer, real_agent_server: RealAgentServer
) -> None:
    with AppServerClient(
        real_app_server.base_url, real_app_server.api_key, real_app_server.auth_style
    ) as app:
        sandbox = app.start_sandbox()
        try:
            running = wait_for_sandbox_status(app, sandbox.id, "RUNNING")
            pids = tagged_pids(real_app_server.run_tag) + tagged_pids(real_agent_server.run_tag)
            listening = listening_addresses(pids)
        finally:
            app.delete_sandbox(sandbox.id)

    ports = {port for _, port in listening}
    assert {host for host, _ in listening} == {"127.0.0.1"}, listening
    for url in (real_app_server.base_url, real_agent_server.base_url, running.agent_server_url):
        assert int(url.rsplit(":", 1)[1]) in ports


@pytest.fixture
def fake_llm_url(tmp_path: Path) -> Iterator[str]:
    """Run the fake LLM on a free loopback port; return its OpenAI-style base URL."""
    port = free_loopback_port()
    process = start_process(
        "fake-llm-alone",
        [sys.executable, str(LIVE_DIR / "fake_llm.py"), str(port)],
        environment={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        log_dir=tmp_path,
    )
    try:
        wait_until_serving(process, f"http://127.0.0.1:{port}/v1/models", timeout=30)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.stop()


def test_fake_llm_answers_plain_and_streamed_completions(fake_llm_url: str) -> None:
    request = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}

    plain = httpx.post(f"{fake_llm_url}/chat/completions", json=request, timeout=10).json()
    with httpx.stream(
        "POST", f"{fake_llm_url}/chat/completions", json={**request, "stream": True}, timeout=10
    ) as response:
        content_type = response.headers["content-type"]
        data_lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]

    assert plain["object"] == "chat.completion"
    assert plain["choices"][0]["message"] == {"role": "assistant", "content": FAKE_REPLY}
    assert content_type.startswith("text/event-stream")
    assert data_lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in data_lines[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks) == (
        FAKE_REPLY
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("venv_name", [APP_SERVER_VENV, AGENT_SERVER_VENV])
def test_missing_or_unfinished_peer_venv_fails_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, venv_name: str
) -> None:
    monkeypatch.setenv("OPENHANDS_PEERS_CACHE", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="bin/peers"):
        peer_python(venv_name)

    # An interrupted install leaves the interpreter but no marker: still not usable.
    (tmp_path / venv_name / "bin").mkdir(parents=True)
    (tmp_path / venv_name / "bin" / "python").touch()
    with pytest.raises(pytest.fail.Exception, match="bin/peers"):
        peer_python(venv_name)

    (tmp_path / venv_name / VENV_MARKER).touch()
    assert peer_python(venv_name) == tmp_path / venv_name / "bin" / "python"


def run_bin_peers(cache: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run bin/peers against a scratch cache folder."""
    return subprocess.run(
        [str(PROJECT_ROOT / "bin" / "peers")],
        env={"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], **environment}
        | {"OPENHANDS_PEERS_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def stand_in_python(folder: Path) -> Path:
    """Return a script that passes bin/peers' version probe but cannot build a venv."""
    script = folder / "python3.12"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    return script


def test_bin_peers_reuses_finished_venvs_without_installing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for venv_name, requirement in [
        (APP_SERVER_VENV, "openhands-ai==1.11.0"),
        (AGENT_SERVER_VENV, "openhands-agent-server==1.58.2"),
    ]:
        (cache / venv_name).mkdir(parents=True)
        (cache / venv_name / VENV_MARKER).write_text(f"{requirement}\n")

    finished = run_bin_peers(cache, PEERS_PYTHON=str(stand_in_python(tmp_path)))

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == [str(cache / APP_SERVER_VENV), str(cache / AGENT_SERVER_VENV)]
    assert "building" not in finished.stderr


def test_bin_peers_refuses_an_explicit_interpreter_that_is_not_312(tmp_path: Path) -> None:
    refused = run_bin_peers(tmp_path / "cache", PEERS_PYTHON="/bin/false")

    assert refused.returncode == 1
    assert "PEERS_PYTHON=/bin/false is not a Python 3.12" in refused.stderr
    assert not (tmp_path / "cache").exists()


def test_bin_peers_redoes_an_interrupted_install(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / APP_SERVER_VENV / "lib").mkdir(parents=True)
    (cache / APP_SERVER_VENV / "lib" / "half-installed.py").touch()

    failed = run_bin_peers(cache, PEERS_PYTHON=str(stand_in_python(tmp_path)))

    # The unfinished folder was thrown away and the install tried again (and, here, refused).
    assert failed.returncode == 1
    assert f"building {cache / APP_SERVER_VENV}" in failed.stderr
    assert "pip could not install openhands-ai==1.11.0" in failed.stderr
    assert not (cache / APP_SERVER_VENV / "lib" / "half-installed.py").exists()
    assert not (cache / APP_SERVER_VENV / VENV_MARKER).exists()
