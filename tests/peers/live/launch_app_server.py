"""Serve the real OpenHands App Server (openhands-ai 1.11.0) on 127.0.0.1 with process sandboxes.

Run it with the peer venv's interpreter: ``python launch_app_server.py --port PORT``. Every other
setting comes from the environment (RUNTIME=process, OH_SANDBOX_*, OH_WEBHOOKS_0_*, ...; see
tests/peers/live_fixtures.py).

Before the app is imported, three in-process adjustments make process sandboxes usable on a host
without Docker (reference: real-app-server-locally.md, section 2). No installed file is edited.

1. Container detection off: this host carries /.dockerenv, so the server would think it runs in
   Docker and rewrite every ``localhost`` agent URL to ``host.docker.internal``, which does not
   resolve here.
2. Process status fix: the shipped code reports RUNNING only when psutil says the agent process is
   literally "running"; an idle agent server is "sleeping", so sandboxes would stay STARTING.
3. Browser tool dropped: the default agent always gets the browser tool, whose set-up needs a
   Chromium binary, and the agent server refuses the conversation without it.
"""

from __future__ import annotations

import argparse
from typing import Any


def disable_container_detection() -> None:
    """Make the server believe it is not inside a container."""
    from openhands.app_server.utils import environment

    def not_in_container() -> bool:
        return False

    # Must happen before any module does ``from ...environment import is_running_in_docker``.
    environment.is_running_in_docker = not_in_container


def count_live_agent_processes_as_running() -> None:
    """Report every live, not stopped agent process as RUNNING (SIGSTOP-paused ones as PAUSED)."""
    import psutil
    from openhands.app_server.sandbox.process_sandbox_service import (
        ProcessInfo,
        ProcessSandboxService,
    )
    from openhands.app_server.sandbox.sandbox_models import SandboxStatus

    def process_status(self: ProcessSandboxService, process_info: ProcessInfo) -> SandboxStatus:
        try:
            process = psutil.Process(process_info.pid)
            state = process.status() if process.is_running() else psutil.STATUS_DEAD
            if state in (psutil.STATUS_DEAD, psutil.STATUS_ZOMBIE):
                return SandboxStatus.MISSING
            if state == psutil.STATUS_STOPPED:
                return SandboxStatus.PAUSED
            return SandboxStatus.RUNNING
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return SandboxStatus.MISSING

    ProcessSandboxService._get_process_status = process_status


def drop_browser_tool() -> None:
    """Build conversations' default tools without the browser (no Chromium here)."""
    from openhands.app_server.app_conversation import live_status_app_conversation_service

    shipped_get_default_tools = live_status_app_conversation_service.get_default_tools

    def get_default_tools_without_browser(*args: Any, **kwargs: Any) -> Any:
        kwargs["enable_browser"] = False
        return shipped_get_default_tools(*args, **kwargs)

    live_status_app_conversation_service.get_default_tools = get_default_tools_without_browser


def main() -> None:
    """Apply the adjustments, then serve the app on 127.0.0.1:PORT until terminated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port

    disable_container_detection()
    count_live_agent_processes_as_running()
    drop_browser_tool()

    import uvicorn
    from openhands.app_server.app import app

    # At shutdown uvicorn waits for background tasks, such as a deleted conversation's title
    # poll (4 x 3 s); a test peer need not let them finish.
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
