"""The agent-server commands end to end in-process, with respx at the httpx seam.

The fake App Server does not emulate agent servers (test_cli.py covers the commands up to the
agent URL against it); here a mocked App Server hands out a RUNNING sandbox whose AGENT_SERVER
URL is mocked too, so the requests each command sends and what it prints can be checked.
"""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
import respx

from apps.openhands.cli import main

APP = "http://app.test"
AGENT = "http://agent.test"
API_KEY = "sk-oh-agent-test-key-0123456789"
SESSION_KEY = "session-key-current-0123456789"
SANDBOX_ID = "sbx1"
CONVERSATION_ID = "bb6a1b39c0d44d4db931e53d59897c77"
ENVIRON = {"OPENHANDS_API_KEY": API_KEY, "OPENHANDS_APP_BASE": APP}


def sandbox_json(session_key: str = SESSION_KEY) -> dict[str, Any]:
    return {
        "id": SANDBOX_ID,
        "status": "RUNNING",
        "session_api_key": session_key,
        "exposed_urls": [
            {"name": "AGENT_SERVER", "url": AGENT, "port": 60000},
            {"name": "VSCODE", "url": f"http://vscode.test/?tkn={session_key}", "port": 60001},
        ],
    }


def event_json(number: int) -> dict[str, Any]:
    return {
        "id": f"event-{number}",
        "kind": "MessageEvent",
        "source": "user",
        "timestamp": f"2026-01-27T10:00:0{number}",
    }


@pytest.fixture
def mock_servers():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.get(f"{APP}/api/v1/sandboxes", params={"id": SANDBOX_ID}).respond(
            json=[sandbox_json()]
        )
        yield router


def run_cli(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), environ=ENVIRON, stdout=stdout, stderr=stderr)
    assert API_KEY not in stdout.getvalue() + stderr.getvalue()
    return code, stdout.getvalue(), stderr.getvalue()


def test_agent_bash_sends_the_command_with_the_sandbox_key(mock_servers):
    execute = mock_servers.post(f"{AGENT}/api/bash/execute_bash_command").respond(
        json={"command_id": "c1", "exit_code": 0, "stdout": "hi there\n", "stderr": None}
    )
    code, out, _ = run_cli(
        "agent_bash", SANDBOX_ID, "--cwd", "/tmp", "--timeout", "5", "--", "echo", "hi", "there"
    )
    assert code == 0
    assert json.loads(out) == {
        "command_id": "c1",
        "exit_code": 0,
        "stdout": "hi there\n",
        "stderr": None,
    }
    request = execute.calls.last.request
    assert json.loads(request.content) == {"command": "echo hi there", "cwd": "/tmp", "timeout": 5}
    assert request.headers["X-Session-API-Key"] == SESSION_KEY
    assert "Authorization" not in request.headers  # the Cloud key never goes to a sandbox


def test_agent_bash_reads_the_rotated_session_key_on_every_run(mock_servers):
    mock_servers.get(f"{APP}/api/v1/sandboxes", params={"id": SANDBOX_ID}).mock(
        side_effect=[
            httpx.Response(200, json=[sandbox_json("session-key-before-pause-0001")]),
            httpx.Response(200, json=[sandbox_json("session-key-after-resume-0002")]),
        ]
    )
    execute = mock_servers.post(f"{AGENT}/api/bash/execute_bash_command").respond(
        json={"exit_code": 0, "stdout": "", "stderr": None}
    )
    assert run_cli("agent_bash", SANDBOX_ID, "--command", "pwd")[0] == 0
    assert run_cli("agent_bash", SANDBOX_ID, "--command", "pwd")[0] == 0
    sent_keys = [call.request.headers["X-Session-API-Key"] for call in execute.calls]
    assert sent_keys == ["session-key-before-pause-0001", "session-key-after-resume-0002"]


def test_agent_bash_table_shows_the_output_lines(mock_servers):
    mock_servers.post(f"{AGENT}/api/bash/execute_bash_command").respond(
        json={"command_id": "c1", "exit_code": 3, "stdout": "one\ntwo\n", "stderr": "bad\n"}
    )
    code, out, _ = run_cli("--format", "table", "agent_bash", SANDBOX_ID, "--", "./script")
    assert code == 0  # the command ran; its own exit code is part of the output
    assert out.splitlines() == [
        "exit_code   3",
        "stdout      one",
        "            two",
        "stderr      bad",
        "command_id  c1",
    ]


def test_agent_download_saves_the_file_under_its_own_name(mock_servers, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mock_servers.get(
        f"{AGENT}/api/file/download", params={"path": "/workspace/project/README.md"}
    ).respond(content=b"# Project\n")
    code, out, err = run_cli("agent_download", SANDBOX_ID, "/workspace/project/README.md")
    assert code == 0
    assert (tmp_path / "README.md").read_bytes() == b"# Project\n"
    result = json.loads(out)
    assert (result["path"], result["size"]) == ("README.md", 10)
    assert err == "saved README.md (10 bytes)\n"


def test_agent_upload_sends_the_file(mock_servers, tmp_path):
    local_file = tmp_path / "notes.md"
    local_file.write_bytes(b"some notes")
    upload = mock_servers.post(
        f"{AGENT}/api/file/upload", params={"path": "/workspace/project/notes.md"}
    ).respond(json={"success": True, "file_size": 10})
    code, out, _ = run_cli(
        "agent_upload", SANDBOX_ID, str(local_file), "/workspace/project/notes.md"
    )
    assert code == 0
    assert json.loads(out) == {"remote_path": "/workspace/project/notes.md", "size": 10}
    assert b"some notes" in upload.calls.last.request.content


def test_agent_git_changes_as_a_table(mock_servers):
    mock_servers.get(f"{AGENT}/api/git/changes", params={"path": "/workspace/project"}).respond(
        json=[{"status": "UPDATED", "path": "a.txt"}, {"status": "ADDED", "path": "docs/b.md"}]
    )
    code, out, _ = run_cli(
        "--format", "table", "agent_git_changes", SANDBOX_ID, "/workspace/project"
    )
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [
        ["STATUS", "PATH"],
        ["UPDATED", "a.txt"],
        ["ADDED", "docs/b.md"],
    ]


def test_agent_git_diff_prints_both_texts(mock_servers):
    mock_servers.get(
        f"{AGENT}/api/git/diff", params={"path": "/workspace/project/a.txt", "ref": "HEAD"}
    ).respond(json={"modified": "line 2 changed", "original": "line 2"})
    code, out, _ = run_cli(
        "agent_git_diff", SANDBOX_ID, "/workspace/project/a.txt", "--ref", "HEAD"
    )
    assert code == 0
    assert json.loads(out) == {"modified": "line 2 changed", "original": "line 2"}


def test_agent_vscode_url_prints_the_usable_url(mock_servers):
    url = f"http://vscode.test/?tkn={SESSION_KEY}&folder=/workspace/project"
    mock_servers.get(f"{AGENT}/api/vscode/url").respond(json={"url": url})
    code, out, _ = run_cli("agent_vscode_url", SANDBOX_ID)
    assert code == 0
    assert json.loads(out) == {"url": url}


def test_agent_vscode_url_exits_4_when_vs_code_is_not_running(mock_servers):
    mock_servers.get(f"{AGENT}/api/vscode/url").respond(json={"url": None})
    code, out, err = run_cli("agent_vscode_url", SANDBOX_ID)
    assert code == 4
    assert out == ""
    assert err == f"error: VS Code is not running in sandbox {SANDBOX_ID}\n"


def test_agent_events_of_a_conversation_come_from_its_sandbox(mock_servers):
    mock_servers.get(f"{APP}/api/v1/app-conversations", params={"ids": CONVERSATION_ID}).respond(
        json=[{"id": CONVERSATION_ID, "sandbox_id": SANDBOX_ID, "sandbox_status": "RUNNING"}]
    )
    events_url = f"{AGENT}/api/conversations/{CONVERSATION_ID}/events"
    search = mock_servers.get(f"{events_url}/search").mock(
        side_effect=[
            httpx.Response(
                200, json={"items": [event_json(1), event_json(2)], "next_page_id": "2"}
            ),
            httpx.Response(200, json={"items": [event_json(3)], "next_page_id": None}),
        ]
    )
    # Short kind names go out qualified: agent servers of 1.34 accept only the class path.
    qualified = "openhands.sdk.event.llm_convertible.message.MessageEvent"
    mock_servers.get(f"{events_url}/count", params={"kind": qualified}).respond(json=3)

    code, out, _ = run_cli("agent_search_events", CONVERSATION_ID, "--all")
    assert code == 0
    assert [event["id"] for event in json.loads(out)["items"]] == ["event-1", "event-2", "event-3"]
    assert search.calls[1].request.url.params["page_id"] == "2"
    code, out, _ = run_cli("agent_count_events", CONVERSATION_ID, "--kind", "MessageEvent")
    assert (code, json.loads(out)) == (0, 3)
