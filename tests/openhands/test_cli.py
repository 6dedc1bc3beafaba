"""The real ``openhands-cloud`` console script, run in a subprocess against the fake App Server.

Every run goes through :func:`run_cli`, which also checks what must hold for any command: no
traceback and never the API key on stdout or stderr. The fake does not emulate agent servers
(their URLs answer 502), so the agent-server commands are covered here up to the sandbox
lookup and the call that reaches the agent URL; their happy paths are in test_cli_agent.py
(respx) and the live tier.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from apps.openhands.cli import COMMANDS
from tests.peers.fake_fixtures import FakeAppServer

CONSOLE_SCRIPT = Path(sys.executable).with_name("openhands-cloud")
RUN_TIMEOUT = 30.0
UNKNOWN_CONVERSATION = "0123456789abcdef0123456789abcdef"
# Titles from the fake's demo scenario (apps/fake_app_server/data.py).
FINISHED_TITLE = "Add pagination to the /orders endpoint"  # sandbox RUNNING, 130 events
RUNNING_TITLE = "Fix flaky checkout test"  # still producing events
PAUSED_TITLE = "Explain the retry logic in payments.py"  # sandbox PAUSED
DEMO_CONVERSATIONS = 12  # one of them is a sub-conversation


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error: ")]


def cli_environment(server: FakeAppServer, **overrides: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "OPENHANDS_APP_BASE": server.base_url,
        "OPENHANDS_API_KEY": server.api_key,
        **overrides,
    }


def check_output_hygiene(server: FakeAppServer, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stderr
    for key in server.api_keys:
        assert key not in stdout
        assert key not in stderr


def run_cli(
    server: FakeAppServer, *argv: str, cwd: Path | None = None, **environment: str
) -> Result:
    """Run the console script to completion and check its output hygiene."""
    completed = subprocess.run(
        [str(CONSOLE_SCRIPT), *argv],
        env=cli_environment(server, **environment),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    check_output_hygiene(server, completed.stdout, completed.stderr)
    return Result(completed.returncode, completed.stdout, completed.stderr)


def ok(server: FakeAppServer, *argv: str, **kwargs: Any) -> Any:
    """Run a command that must succeed and return its JSON document."""
    result = run_cli(server, *argv, **kwargs)
    assert result.code == 0, result.stderr
    return result.json()


def fake_api(server: FakeAppServer, path: str, **params: str) -> Any:
    """Read the fake directly (not through the CLI) to pick the records a test works on."""
    response = httpx.get(f"{server.api_url}{path}", params=params, headers=server.headers)
    response.raise_for_status()
    return response.json()


def conversation_id(server: FakeAppServer, title: str) -> str:
    page = fake_api(server, "/app-conversations/search", title__contains=title)
    (conversation,) = page["items"]
    return conversation["id"]


def sandbox_id(server: FakeAppServer, status: str) -> str:
    page = fake_api(server, "/sandboxes/search")
    return next(sandbox["id"] for sandbox in page["items"] if sandbox["status"] == status)


def assert_valid_trajectory(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert "meta.json" in archive.namelist()


# --- help and usage -------------------------------------------------------------------------


# Every command's help is checked in-process by test_cli_units.py (the console script only
# calls main()); here one command of each kind goes through the installed script.
@pytest.mark.parametrize("name", ["search_conversations", "agent_bash", "export_trajectories"])
def test_the_console_script_answers_help_with_exit_0(fake_app_server, name):
    result = run_cli(fake_app_server, name, "--help")
    assert result.code == 0, result.stderr
    assert f"usage: openhands-cloud {name}" in result.stdout
    assert COMMANDS[name].summary in result.stdout
    assert "examples:" in result.stdout


def test_main_help_documents_exit_codes(fake_app_server):
    result = run_cli(fake_app_server, "--help")
    assert result.code == 0
    assert "exit codes:" in result.stdout
    assert "130  interrupted" in result.stdout


def test_python_dash_m_runs_the_same_client(fake_app_server):
    completed = subprocess.run(
        [sys.executable, "-m", "apps.openhands", "get_user"],
        env=cli_environment(fake_app_server),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["email"] == ok(fake_app_server, "get_user")["email"]


def test_a_usage_error_exits_2_with_one_error_line(fake_app_server):
    result = run_cli(fake_app_server, "search_conversations", "--limit", "many")
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: argument --limit: not a whole number: 'many' "
        "(see 'openhands-cloud search_conversations --help')"
    ]


# --- failures -------------------------------------------------------------------------------


def test_a_wrong_key_exits_3_without_showing_any_key(fake_app_server):
    wrong_key = "sk-oh-this-key-is-wrong-0000"
    result = run_cli(fake_app_server, "get_user", OPENHANDS_API_KEY=wrong_key)
    assert result.code == 3
    assert result.stdout == ""
    (line,) = result.error_lines
    assert "rejected the API key (401)" in line
    assert wrong_key not in result.stderr


def test_an_unreachable_server_exits_5_with_a_message(fake_app_server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    result = run_cli(
        fake_app_server,
        "--quiet",
        "count_conversations",
        "--base-url",
        f"http://127.0.0.1:{free_port}",
    )
    assert result.code == 5
    assert result.stdout == ""
    assert result.stderr.startswith("error: Could not connect")
    assert len(result.stderr.splitlines()) == 1  # --quiet leaves only the error


def test_an_html_page_instead_of_json_exits_5(fake_app_server):
    fake_app_server.inject_fault(fault="html200", path_regex="/users/me")
    result = run_cli(fake_app_server, "get_user")
    assert result.code == 5
    assert "text/html; charset=utf-8, not JSON" in result.error_lines[0]


def test_a_missing_conversation_exits_4(fake_app_server):
    result = run_cli(fake_app_server, "download_trajectory", UNKNOWN_CONVERSATION)
    assert result.code == 4
    assert result.error_lines


# --- conversations --------------------------------------------------------------------------


def test_get_user_shows_whose_key_it_is(fake_app_server):
    first = ok(fake_app_server, "get_user")
    second = ok(fake_app_server, "get_user", OPENHANDS_API_KEY=fake_app_server.api_keys[1])
    assert first["email"] != second["email"]
    assert first["org_id"] != second["org_id"]


def test_search_prints_one_page_and_says_how_to_get_the_next(fake_app_server):
    first = run_cli(fake_app_server, "search_conversations", "--limit", "3")
    assert first.code == 0
    page = first.json()
    assert len(page["items"]) == 3
    assert page["next_page_id"]
    assert f"--page-id {page['next_page_id']}" in first.stderr
    second = ok(
        fake_app_server, "search_conversations", "--limit", "3", "--page-id", page["next_page_id"]
    )
    first_ids = {item["id"] for item in page["items"]}
    assert len(second["items"]) == 3
    assert first_ids.isdisjoint(item["id"] for item in second["items"])


def test_search_all_follows_every_page_and_agrees_with_count(fake_app_server):
    fake_app_server.freeze_clock()  # no conversation may appear between the two calls
    everything = ok(fake_app_server, "search_conversations", "--all", "--include-sub-conversations")
    count = ok(fake_app_server, "count_conversations")
    top_level = ok(fake_app_server, "search_conversations", "--all", "--limit", "5")
    assert len(everything["items"]) == count == DEMO_CONVERSATIONS
    assert everything["next_page_id"] is None
    assert len(top_level["items"]) == 5  # with --all, --limit caps the total


def test_search_filters_reach_the_server(fake_app_server):
    by_title = ok(fake_app_server, "search_conversations", "--title-contains", "pagination")
    assert by_title["items"]
    assert all("pagination" in item["title"] for item in by_title["items"])
    future = ok(fake_app_server, "search_conversations", "--updated-after", "2999-01-01")
    assert future["items"] == []
    running_sandbox = sandbox_id(fake_app_server, "RUNNING")
    in_sandbox = ok(fake_app_server, "search_conversations", "--sandbox-id", running_sandbox)
    assert {item["sandbox_id"] for item in in_sandbox["items"]} == {running_sandbox}


def test_table_format_shows_aligned_columns(fake_app_server):
    result = run_cli(fake_app_server, "search_conversations", "--format", "table")
    assert result.code == 0
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ID", "TITLE", "EXECUTION_STATUS", "SANDBOX_STATUS", "UPDATED_AT"]
    assert len(rows) == DEMO_CONVERSATIONS - 1  # the sub-conversation is left out
    status_column = header.index("SANDBOX_STATUS")
    assert all(row[status_column:].split()[0] in {"RUNNING", "PAUSED", "MISSING"} for row in rows)
    assert any(FINISHED_TITLE in row for row in rows)


def test_get_conversation_keeps_the_order_and_reports_missing_ids(fake_app_server):
    first = conversation_id(fake_app_server, FINISHED_TITLE)
    second = conversation_id(fake_app_server, RUNNING_TITLE)
    both = ok(fake_app_server, "get_conversation", second, first)
    assert [item["id"] for item in both] == [second, first]
    assert both[0]["session_api_key"] == "**********"  # the agent-server key stays hidden

    result = run_cli(fake_app_server, "get_conversation", first, UNKNOWN_CONVERSATION)
    assert result.code == 4
    found, missing = result.json()
    assert found["id"] == first
    assert missing is None
    assert result.error_lines == [f"error: conversation not found: {UNKNOWN_CONVERSATION}"]


def test_start_conversation_waits_for_the_task_and_get_start_task_shows_it(fake_app_server):
    fake_app_server.reset(start_task_step_seconds=0.01)
    task = ok(
        fake_app_server,
        "start_conversation",
        "--message", "Summarise README.md",
        "--repo", "acme-corp/storefront",
        "--branch", "main",
        "--git-provider", "github",
        "--wait", "--interval", "0.2", "--timeout", "20",
    )  # fmt: skip
    assert task["status"] == "READY"
    assert task["request"]["initial_message"]["content"][0]["text"] == "Summarise README.md"
    assert task["request"]["initial_message"]["run"] is True
    assert task["request"]["selected_repository"] == "acme-corp/storefront"
    (again,) = ok(fake_app_server, "get_start_task", task["id"])
    assert again["app_conversation_id"] == task["app_conversation_id"]
    (conversation,) = ok(fake_app_server, "get_conversation", task["app_conversation_id"])
    assert conversation["selected_branch"] == "main"


def test_a_failed_start_exits_5_and_still_prints_the_task(fake_app_server):
    fake_app_server.reset(start_task_step_seconds=0.01)
    fake_app_server.mutate("fail_next_start", detail="no capacity")
    result = run_cli(
        fake_app_server, "start_conversation", "--message", "hi", "--wait", "--interval", "0.2"
    )
    assert result.code == 5
    assert result.json()["status"] == "ERROR"
    assert result.error_lines == [f"error: start task {result.json()['id']} failed: no capacity"]


def test_update_conversation_renames_and_unshares(fake_app_server):
    target = conversation_id(fake_app_server, FINISHED_TITLE)
    updated = ok(fake_app_server, "update_conversation", target, "--title", "Renamed", "--private")
    assert updated["title"] == "Renamed"
    assert updated["public"] is False
    (stored,) = ok(fake_app_server, "get_conversation", target)
    assert stored["title"] == "Renamed"


def test_delete_conversation_then_it_is_not_found(fake_app_server):
    target = conversation_id(fake_app_server, FINISHED_TITLE)
    assert ok(fake_app_server, "delete_conversation", target) == {"id": target, "success": True}
    assert run_cli(fake_app_server, "get_conversation", target).code == 4
    assert run_cli(fake_app_server, "delete_conversation", target).code == 4


def test_send_message_to_a_running_sandbox_and_conflict_when_paused(fake_app_server):
    running = conversation_id(fake_app_server, FINISHED_TITLE)
    answer = ok(fake_app_server, "send_message", running, "--message", "Also update the docs")
    assert answer["success"] is True
    paused = conversation_id(fake_app_server, PAUSED_TITLE)
    result = run_cli(fake_app_server, "send_message", paused, "--message", "hello?")
    assert result.code == 6
    assert "PAUSED" in result.error_lines[0]


def test_wait_conversation_returns_a_finished_one_and_times_out_on_a_running_one(fake_app_server):
    finished = ok(
        fake_app_server, "wait_conversation", conversation_id(fake_app_server, FINISHED_TITLE)
    )
    assert finished["execution_status"] == "finished"
    fake_app_server.freeze_clock()  # the running conversation cannot finish meanwhile
    running = conversation_id(fake_app_server, RUNNING_TITLE)
    result = run_cli(
        fake_app_server, "wait_conversation", running, "--timeout", "0.5", "--interval", "0.2"
    )
    assert result.code == 5
    assert running in result.error_lines[0]


def test_download_trajectory_saves_a_verified_zip(fake_app_server, tmp_path):
    target = conversation_id(fake_app_server, FINISHED_TITLE)
    default = ok(fake_app_server, "download_trajectory", target, cwd=tmp_path)
    saved = tmp_path / f"conversation_{target}.zip"
    assert default["path"] == saved.name
    assert default["size"] == saved.stat().st_size
    assert_valid_trajectory(saved)
    chosen = ok(fake_app_server, "download_trajectory", target, "-o", str(tmp_path / "run.zip"))
    assert chosen["sha256"] == default["sha256"]
    assert not list(tmp_path.glob("*.part"))


# --- sandboxes and specs --------------------------------------------------------------------


def test_sandbox_lifecycle(fake_app_server):
    sandbox = ok(fake_app_server, "start_sandbox")
    created = sandbox["id"]
    assert sandbox["status"] in {"STARTING", "RUNNING"}
    assert ok(fake_app_server, "pause_sandbox", created) == {"id": created, "success": True}
    assert ok(fake_app_server, "resume_sandbox", created)["success"] is True
    assert ok(fake_app_server, "delete_sandbox", created)["success"] is True
    gone = run_cli(fake_app_server, "pause_sandbox", created)
    assert gone.code == 4
    assert "not found" in gone.error_lines[0].lower()


def test_sandbox_keys_and_spec_environments_are_masked_unless_asked(fake_app_server):
    running = sandbox_id(fake_app_server, "RUNNING")
    sandboxes = ok(fake_app_server, "search_sandboxes", "--format", "json")
    listed = next(item for item in sandboxes["items"] if item["id"] == running)
    assert listed["session_api_key"] == "**********"
    revealed = ok(fake_app_server, "--show-secrets", "search_sandboxes")
    key = next(item for item in revealed["items"] if item["id"] == running)["session_api_key"]
    assert key
    assert key != "**********"
    assert key not in json.dumps(sandboxes)  # also not inside URLs that embed it
    specs = ok(fake_app_server, "search_sandbox_specs", "--all")
    assert specs["items"]
    assert all(spec["initial_env"] in ({}, "**********") for spec in specs["items"])


def test_sandbox_table_lists_every_sandbox(fake_app_server):
    result = run_cli(fake_app_server, "--format", "table", "search_sandboxes", "--all")
    assert result.code == 0
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "SANDBOX_SPEC_ID", "CREATED_AT"]
    assert sorted(row.split()[1] for row in rows) == ["MISSING", "PAUSED", "RUNNING", "RUNNING"]


# --- events ---------------------------------------------------------------------------------


def test_search_events_pages_filters_and_agrees_with_count(fake_app_server):
    target = conversation_id(fake_app_server, FINISHED_TITLE)
    every = ok(fake_app_server, "search_events", target, "--all")
    assert len(every["items"]) == ok(fake_app_server, "count_events", target) == 130
    messages = ok(fake_app_server, "search_events", target, "--kind", "MessageEvent", "--all")
    assert messages["items"]
    assert {event["kind"] for event in messages["items"]} == {"MessageEvent"}
    count = ok(fake_app_server, "count_events", target, "--kind", "MessageEvent")
    assert len(messages["items"]) == count
    newest = ok(fake_app_server, "search_events", target, "--limit", "1", "--newest-first")
    assert newest["items"][0]["id"] == every["items"][-1]["id"]


def test_tail_events_prints_each_event_once_as_a_json_line(fake_app_server):
    target = conversation_id(fake_app_server, FINISHED_TITLE)
    result = run_cli(fake_app_server, "tail_events", target)
    assert result.code == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 130
    assert len({event["id"] for event in events}) == 130
    timestamps = [event["timestamp"] for event in events]
    assert timestamps == sorted(timestamps)
    table = run_cli(
        fake_app_server, "--format", "table", "tail_events", target, "--kind", "ActionEvent"
    )
    assert table.code == 0
    assert all(line.split()[1] == "ActionEvent" for line in table.stdout.splitlines())


def test_tail_events_follow_prints_new_events_until_interrupted(fake_app_server):
    fake_app_server.freeze_clock()
    target = conversation_id(fake_app_server, RUNNING_TITLE)
    before = ok(fake_app_server, "count_events", target)
    with tail_process(fake_app_server, target) as lines:
        seen = [lines.next_event() for _ in range(before)]
        fake_app_server.advance_clock(120)  # the running conversation produces new events
        seen.append(lines.next_event())
        seen.append(lines.next_event())
        code, stderr = lines.interrupt()
    assert code == 130
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
    assert len({event["id"] for event in seen}) == len(seen)
    assert seen[-1]["timestamp"] > seen[before - 1]["timestamp"]


class TailLines:
    """Read a running ``tail_events --follow`` process's lines with a deadline."""

    def __init__(self, server: FakeAppServer, popen: subprocess.Popen[str]) -> None:
        self.server = server
        self.popen = popen
        self.lines: queue.Queue[str] = queue.Queue()
        assert popen.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(popen.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)

    def next_event(self, timeout: float = 15.0) -> dict[str, Any]:
        try:
            return json.loads(self.lines.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"no event line within {timeout:.0f} s") from None

    def interrupt(self) -> tuple[int, str]:
        self.popen.send_signal(signal.SIGINT)
        code = self.popen.wait(timeout=RUN_TIMEOUT)
        self.reader.join(timeout=RUN_TIMEOUT)
        assert self.popen.stderr is not None
        stderr = self.popen.stderr.read()
        check_output_hygiene(self.server, "", stderr)
        return code, stderr


@contextlib.contextmanager
def tail_process(server: FakeAppServer, target: str) -> Iterator[TailLines]:
    """Start ``tail_events --follow`` polling fast; stop it by PID if the test fails early."""
    popen = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "tail_events", target, "--follow", "--interval", "0.2"],
        env=cli_environment(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield TailLines(server, popen)
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(timeout=RUN_TIMEOUT)
        for stream in (popen.stdout, popen.stderr):
            if stream is not None:
                stream.close()


# --- export_trajectories --------------------------------------------------------------------


def test_export_downloads_everything_then_skips_verified_and_repairs_damaged(
    fake_app_server, tmp_path
):
    fake_app_server.freeze_clock()
    archive = tmp_path / "archive"
    first = ok(fake_app_server, "export_trajectories", str(archive))
    assert first == {
        "folder": str(archive),
        "downloaded": DEMO_CONVERSATIONS,
        "skipped": 0,
        "failed": 0,
        "failures": [],
    }
    zips = sorted(archive.glob("conversation_*.zip"))
    assert len(zips) == DEMO_CONVERSATIONS
    for path in zips:
        assert_valid_trajectory(path)

    second = ok(fake_app_server, "export_trajectories", str(archive))
    assert (second["downloaded"], second["skipped"]) == (0, DEMO_CONVERSATIONS)

    truncated, removed = zips[0], zips[1]
    truncated.write_bytes(truncated.read_bytes()[:200])
    removed.unlink()
    third = run_cli(fake_app_server, "export_trajectories", str(archive))
    assert third.code == 0
    assert (third.json()["downloaded"], third.json()["skipped"]) == (2, DEMO_CONVERSATIONS - 2)
    assert f"{truncated.name}: not a valid zip" in third.stderr
    assert_valid_trajectory(truncated)
    assert_valid_trajectory(removed)


def test_export_counts_failures_keeps_going_and_exits_5(fake_app_server, tmp_path):
    fake_app_server.freeze_clock()
    broken = conversation_id(fake_app_server, FINISHED_TITLE)
    fake_app_server.inject_fault(fault="status", status=404, path_regex=f"{broken}/download")
    result = run_cli(fake_app_server, "--quiet", "export_trajectories", str(tmp_path))
    assert result.code == 5
    summary = result.json()
    assert (summary["downloaded"], summary["failed"]) == (DEMO_CONVERSATIONS - 1, 1)
    assert summary["failures"][0]["id"] == broken
    assert result.error_lines[0].startswith(f"error: conversation {broken}: ")
    assert (
        result.error_lines[-1]
        == f"error: 1 of {DEMO_CONVERSATIONS} trajectories failed to download"
    )
    assert not (tmp_path / f"conversation_{broken}.zip").exists()


def test_export_only_takes_recently_updated_conversations(fake_app_server, tmp_path):
    summary = ok(
        fake_app_server, "export_trajectories", str(tmp_path), "--updated-after", "2999-01-01"
    )
    assert (summary["downloaded"], summary["skipped"], summary["failed"]) == (0, 0, 0)


# --- agent-server commands (the fake has no agent servers) ----------------------------------


AGENT_COMMANDS = {
    "agent_bash": ["{sandbox}", "--", "ls", "-la"],
    "agent_download": ["{sandbox}", "/workspace/project/README.md"],
    "agent_upload": ["{sandbox}", "{local_file}", "/workspace/project/notes.md"],
    "agent_git_changes": ["{sandbox}", "/workspace/project"],
    "agent_git_diff": ["{sandbox}", "/workspace/project/README.md"],
    "agent_vscode_url": ["{sandbox}"],
}


def agent_argv(name: str, sandbox: str, local_file: Path) -> list[str]:
    return [
        name,
        *(part.format(sandbox=sandbox, local_file=local_file) for part in AGENT_COMMANDS[name]),
    ]


@pytest.mark.parametrize("name", sorted(AGENT_COMMANDS))
def test_agent_commands_refuse_a_paused_sandbox_with_exit_6(fake_app_server, tmp_path, name):
    local_file = tmp_path / "notes.md"
    local_file.write_text("notes")
    paused = sandbox_id(fake_app_server, "PAUSED")
    result = run_cli(fake_app_server, *agent_argv(name, paused, local_file), cwd=tmp_path)
    assert result.code == 6
    assert result.error_lines == [
        f"error: Sandbox {paused} is PAUSED, so its agent server cannot be reached. "
        "Resume it and wait until it is RUNNING."
    ]


def test_agent_commands_report_an_unknown_sandbox_with_exit_4(fake_app_server):
    result = run_cli(fake_app_server, "agent_bash", "noSuchSandbox", "--", "pwd")
    assert result.code == 4
    assert "noSuchSandbox" in result.error_lines[0]


def test_agent_commands_resolve_a_conversation_to_its_sandbox(fake_app_server):
    paused = conversation_id(fake_app_server, PAUSED_TITLE)
    for name in ("agent_search_events", "agent_count_events"):
        result = run_cli(fake_app_server, name, paused)
        assert result.code == 6
        assert "is PAUSED" in result.error_lines[0]
    missing = run_cli(fake_app_server, "agent_count_events", UNKNOWN_CONVERSATION)
    assert missing.code == 4


def test_agent_bash_reaches_the_running_sandboxs_agent_url(fake_app_server):
    # The fake answers every agent-server URL with 502: the command got as far as the agent.
    running = sandbox_id(fake_app_server, "RUNNING")
    result = run_cli(fake_app_server, "agent_bash", running, "--cwd", "/tmp", "--", "echo", "hi")
    assert result.code == 5
    assert f"/_fake/runtime/{running}/api/bash/execute_bash_command (502" in result.error_lines[0]
