"""Start the REAL OpenHands App Server and agent server on 127.0.0.1 as live-tier test peers.

Both servers run from cached Python 3.12 virtual environments that ``bin/peers`` builds outside
the clone. The fixtures never skip: when an environment is missing they fail and name the command
that builds it. Every process they start binds 127.0.0.1, writes its output to a log file under
the session's temporary folder, and is stopped by PID at teardown, together with every process it
started (found through /proc, because psutil lives in the peer venvs and not in ours).

See /work/shared/reference/real-app-server-locally.md for why each setting below is needed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import ManagedProcess, wait_for

__all__ = [
    "RealAgentServer",
    "RealAppServer",
    "peer_log_tails",
    "peer_venvs",
    "real_agent_server",
    "real_app_server",
]

APP_SERVER_VENV = "openhands-ai-1.11.0-py3.12"
AGENT_SERVER_VENV = "openhands-agent-server-1.58.2-py3.12"
VENV_MARKER = ".peers-installed"  # written by bin/peers after a successful install
LIVE_DIR = Path(__file__).resolve().parent / "live"
REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"

SERVER_START_TIMEOUT = 60.0  # both servers need 7-8 s on an idle 2-core machine
PROCESS_STOP_GRACE = 10.0  # the process sandbox itself waits 10 s before SIGKILL
# The App Server allows 10 requests/s per client IP, shared with the agent servers' webhook
# posts, so every helper here polls at about 3 requests/s.
POLL_INTERVAL = 0.35
# Every process started for a session carries this variable (children inherit it), so teardown
# can find agent servers and their tmux servers even after they were re-parented to init.
RUN_TAG_VARIABLE = "OPENHANDS_LIVE_PEER_RUN"
FAKE_LLM_API_KEY = "sk-fake-llm"
FAKE_LLM_MODEL = "openai/fake"
# Only these variables reach the peers: the test run's own (DEBUG=1, DJANGO_SETTINGS_MODULE, ...)
# would change their behaviour.
PASSED_THROUGH_VARIABLES = ("PATH", "LANG", "LC_ALL", "TERM", "TZ", "USER", "LOGNAME")

logger = logging.getLogger(__name__)
_started_processes: list[ManagedProcess] = []


@dataclass(frozen=True)
class RealAppServer:
    """A running OpenHands App Server 1.11.0 (process sandboxes, fake LLM) on loopback."""

    base_url: str
    api_key: str = field(repr=False)
    auth_style: str
    llm_base_url: str
    data_dir: Path
    run_tag: str
    process: ManagedProcess = field(repr=False, compare=False)

    @property
    def headers(self) -> dict[str, str]:
        """Return the header that authenticates against this server."""
        return {"X-Session-API-Key": self.api_key}


@dataclass(frozen=True)
class RealAgentServer:
    """A running standalone agent server 1.58.2 on loopback, protected by a session key."""

    base_url: str
    session_api_key: str = field(repr=False)
    workspace: Path
    run_tag: str
    process: ManagedProcess = field(repr=False, compare=False)

    @property
    def headers(self) -> dict[str, str]:
        """Return the header that authenticates against this server."""
        return {"X-Session-API-Key": self.session_api_key}


def peers_cache() -> Path:
    """Return the folder holding the peer virtual environments built by bin/peers."""
    configured = os.environ.get("OPENHANDS_PEERS_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "openhands-dashboard" / "peers"


def peer_python(venv_name: str) -> Path:
    """Return the interpreter of a built peer venv; fail the test with the fix if it is missing."""
    venv = peers_cache() / venv_name
    python = venv / "bin" / "python"
    if not (venv / VENV_MARKER).is_file() or not python.is_file():
        pytest.fail(
            f"The live-tier peer environment {venv} is missing or incomplete.\n"
            "Build it once (about 5 minutes, 2.2 GB, needs Python 3.12 and PyPI) with:\n"
            "    bin/peers\n"
            "run from the project root (OPENHANDS_PEERS_CACHE moves the cache).",
            pytrace=False,
        )
    return python


def free_loopback_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def peer_log_tails() -> str:
    """Return the log tails of every peer process started in this session (for failure reports)."""
    return "\n\n".join(
        f"----- {process.log_path.name} (pid {process.process.pid}) -----\n{process.log_tail()}"
        for process in _started_processes
    )


def base_environment(home: Path, run_tag: str) -> dict[str, str]:
    """Build a minimal environment for a peer: a private HOME and the session's run tag."""
    environment = {
        name: os.environ[name] for name in PASSED_THROUGH_VARIABLES if name in os.environ
    }
    home.mkdir(parents=True, exist_ok=True)
    environment.update(
        {
            "HOME": str(home),
            RUN_TAG_VARIABLE: run_tag,
            "PYTHONUNBUFFERED": "1",
            # litellm downloads a price list at import unless told to use its bundled copy.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "OPENHANDS_SUPPRESS_BANNER": "1",
        }
    )
    return environment


def start_process(
    name: str, command: list[str], *, environment: Mapping[str, str], cwd: Path, log_dir: Path
) -> ManagedProcess:
    """Start a peer process in its own session, with stdout and stderr going to a log file."""
    process = ManagedProcess(
        command, log_path=log_dir / f"{name}.log", env=dict(environment), cwd=cwd
    )
    _started_processes.append(process)
    return process


def wait_until_serving(process: ManagedProcess, url: str, *, timeout: float) -> None:
    """Poll ``url`` until it answers 200; fail with the log tail on exit or timeout."""
    started = time.monotonic()

    def serving() -> bool:
        if process.process.poll() is not None:
            pytest.fail(
                f"{process.log_path.stem} exited with code {process.process.returncode} before "
                f"serving {url}.\n{process.log_tail()}",
                pytrace=False,
            )
        try:
            return httpx.get(url, timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(serving, timeout=timeout, what=f"{url} to answer 200", interval=POLL_INTERVAL)
    except AssertionError as error:
        pytest.fail(f"{error}\n{process.log_tail()}", pytrace=False)
    logger.info("%s answered after %.1f s", url, time.monotonic() - started)


# --- orphans, found through /proc ----------------------------------------------------------------


def tagged_pids(run_tag: str) -> list[int]:
    """Return the PIDs of live processes whose environment carries this session's run tag."""
    marker = f"{RUN_TAG_VARIABLE}={run_tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or another user's process
            continue
        if marker in environ.split(b"\0") and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def is_alive(pid: int) -> bool:
    """Tell whether a process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the command name, which is in parentheses and may contain spaces.
    return stat[stat.rindex(")") + 2] != "Z"


def stop_tagged_processes(run_tag: str) -> None:
    """Stop, by PID, the session's processes that outlived their parents.

    The process sandbox starts agent servers, and their terminal tool starts a tmux server that
    detaches itself; none of them is in the process group of the peer that was stopped.
    """
    survivors = tagged_pids(run_tag)
    for pid in survivors:
        _signal(pid, signal.SIGTERM)
        # A paused sandbox's agent server is SIGSTOPped: it acts on SIGTERM only once continued.
        _signal(pid, signal.SIGCONT)
    with contextlib.suppress(AssertionError):
        wait_for(
            lambda: not any(is_alive(pid) for pid in survivors),
            timeout=PROCESS_STOP_GRACE,
            what="orphaned peer processes to exit",
        )
    for pid in survivors:
        if is_alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signal_number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal_number)


# --- the App Server ------------------------------------------------------------------------------


def app_server_environment(
    python: Path, root: Path, *, port: int, api_key: str, run_tag: str
) -> dict[str, str]:
    """Build the App Server's environment: process sandboxes on loopback, webhooks, shared key."""
    base_url = f"http://{LOOPBACK}:{port}"
    return {
        **base_environment(root / "home", run_tag),
        "RUNTIME": "process",
        "OH_PERSISTENCE_DIR": str(root / "persistence"),
        "OH_SANDBOX_KIND": "ProcessSandboxServiceInjector",
        "OH_SANDBOX_BASE_PORT": str(free_loopback_port()),
        "OH_SANDBOX_BASE_WORKING_DIR": str(root / "sandboxes"),
        # The wrapper adds --host 127.0.0.1; the sandbox service would let it bind 0.0.0.0.
        "OH_SANDBOX_PYTHON_EXECUTABLE": str(LIVE_DIR / "agent-python.sh"),
        "AGENT_SERVER_PYTHON": str(python),
        # Without the webhook the agent servers never report events back to the App Server.
        "OH_WEBHOOKS_0_BASE_URL": f"{base_url}/api/v1/webhooks",
        "OH_WEBHOOKS_0_EVENT_BUFFER_SIZE": "1",
        "OH_WEBHOOKS_0_FLUSH_DELAY": "1",
        "SERVE_FRONTEND": "false",
        "SESSION_API_KEY": api_key,
    }


def store_fake_llm_settings(server: RealAppServer) -> None:
    """Point the App Server's default agent at the fake LLM."""
    response = httpx.post(
        f"{server.base_url}/api/v1/settings",
        headers=server.headers,
        json={
            "agent_settings_diff": {
                "llm": {
                    "model": FAKE_LLM_MODEL,
                    "base_url": server.llm_base_url,
                    "api_key": FAKE_LLM_API_KEY,
                }
            }
        },
        timeout=30.0,
    )
    if response.status_code != 200:
        pytest.fail(
            f"Storing the LLM settings failed: HTTP {response.status_code} {response.text[:500]}\n"
            f"{server.process.log_tail()}",
            pytrace=False,
        )


def delete_everything(server: RealAppServer) -> None:
    """Delete every conversation, then every sandbox, that the App Server lists."""
    with httpx.Client(
        base_url=f"{server.base_url}/api/v1", headers=server.headers, timeout=30.0
    ) as client:
        conversation_ids = _list_ids(
            client, "/app-conversations/search", {"include_sub_conversations": "true"}
        )
        for conversation_id in conversation_ids:
            _paced(client.delete, f"/app-conversations/{conversation_id}")
        for sandbox_id in _list_ids(client, "/sandboxes/search", {}):
            # The route reads the id from the query, not from the path.
            _paced(client.delete, f"/sandboxes/{sandbox_id}", params={"sandbox_id": sandbox_id})


def _list_ids(client: httpx.Client, path: str, params: dict[str, str]) -> list[str]:
    ids: list[str] = []
    page_id: str | None = None
    while True:
        page_params = {**params, "limit": "100"} | ({"page_id": page_id} if page_id else {})
        page = _paced(client.get, path, params=page_params).json()
        ids.extend(item["id"] for item in page["items"])
        page_id = page.get("next_page_id")
        if not page_id:
            return ids


def _paced(method: Callable[..., httpx.Response], *args: Any, **kwargs: Any) -> httpx.Response:
    """Call an httpx method and then wait one poll interval, to stay under the rate limit."""
    response = method(*args, **kwargs)
    time.sleep(POLL_INTERVAL)
    return response


@pytest.fixture(scope="session")
def peer_venvs() -> Path:
    """Install the real servers' virtual environments once (cached outside the clone).

    `bin/peers` returns at once when both are built; a cold install takes about 5 minutes.
    """
    try:
        built = subprocess.run(
            [str(REPO_ROOT / "bin" / "peers")], capture_output=True, text=True, timeout=1800
        )
    except subprocess.TimeoutExpired:
        pytest.fail("bin/peers did not finish building the live-tier peers in 30 minutes")
    if built.returncode != 0:
        pytest.fail(
            f"bin/peers could not build the live-tier peers:\n{built.stderr[-4000:]}",
            pytrace=False,
        )
    return peers_cache()


@pytest.fixture(scope="session")
def real_app_server(
    tmp_path_factory: pytest.TempPathFactory, peer_venvs: Path
) -> Iterator[RealAppServer]:
    """Run the real App Server 1.11.0 with process sandboxes, a fake LLM and a shared key."""
    python = peer_python(APP_SERVER_VENV)
    root = tmp_path_factory.mktemp("real-app-server")
    log_dir = root / "logs"
    log_dir.mkdir()
    run_tag = secrets.token_hex(8)
    api_key = secrets.token_urlsafe(24)
    llm_port, app_port = free_loopback_port(), free_loopback_port()
    with ExitStack() as cleanup:
        # Callbacks run last-registered-first; this last resort runs after every other stop.
        cleanup.callback(stop_tagged_processes, run_tag)
        fake_llm = start_process(
            "fake-llm",
            [sys.executable, str(LIVE_DIR / "fake_llm.py"), str(llm_port)],
            environment=base_environment(root / "home", run_tag),
            cwd=root,
            log_dir=log_dir,
        )
        cleanup.callback(fake_llm.stop)
        wait_until_serving(
            fake_llm, f"http://{LOOPBACK}:{llm_port}/v1/models", timeout=SERVER_START_TIMEOUT
        )
        app = start_process(
            "app-server",
            [str(python), str(LIVE_DIR / "launch_app_server.py"), "--port", str(app_port)],
            environment=app_server_environment(
                python, root, port=app_port, api_key=api_key, run_tag=run_tag
            ),
            cwd=root,
            log_dir=log_dir,
        )
        cleanup.callback(app.stop)
        base_url = f"http://{LOOPBACK}:{app_port}"
        wait_until_serving(app, f"{base_url}/alive", timeout=SERVER_START_TIMEOUT)
        server = RealAppServer(
            base_url=base_url,
            api_key=api_key,
            auth_style="session_key",
            llm_base_url=f"http://{LOOPBACK}:{llm_port}/v1",
            data_dir=root / "persistence",
            run_tag=run_tag,
            process=app,
        )
        store_fake_llm_settings(server)
        cleanup.callback(delete_everything, server)
        yield server


# --- the standalone agent server -----------------------------------------------------------------


@pytest.fixture(scope="session")
def real_agent_server(
    tmp_path_factory: pytest.TempPathFactory, peer_venvs: Path
) -> Iterator[RealAgentServer]:
    """Run the real agent server 1.58.2 with a session key, in a temporary working folder."""
    python = peer_python(AGENT_SERVER_VENV)
    root = tmp_path_factory.mktemp("real-agent-server")
    log_dir = root / "logs"
    log_dir.mkdir()
    # The server keeps its state in relative workspace/... folders under its working directory.
    workspace = root / "workspace" / "project"
    workspace.mkdir(parents=True)
    run_tag = secrets.token_hex(8)
    session_api_key = secrets.token_urlsafe(24)
    port = free_loopback_port()
    environment = {
        **base_environment(root / "home", run_tag),
        "OH_SESSION_API_KEYS_0": session_api_key,
        # Tool preloading only logs a long "Chromium is required" traceback here.
        "OH_PRELOAD_TOOLS": "false",
        # VS Code stays enabled, as in a real sandbox: without its binary the server answers
        # {"url": null}, the case the dashboard must handle (disabled, it answers 503 instead).
    }
    with ExitStack() as cleanup:
        cleanup.callback(stop_tagged_processes, run_tag)
        agent = start_process(
            "agent-server",
            [
                str(python),
                "-m",
                "openhands.agent_server",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
            ],
            environment=environment,
            cwd=root,
            log_dir=log_dir,
        )
        cleanup.callback(agent.stop)
        base_url = f"http://{LOOPBACK}:{port}"
        wait_until_serving(agent, f"{base_url}/ready", timeout=SERVER_START_TIMEOUT)
        yield RealAgentServer(
            base_url=base_url,
            session_api_key=session_api_key,
            workspace=workspace,
            run_tag=run_tag,
            process=agent,
        )
