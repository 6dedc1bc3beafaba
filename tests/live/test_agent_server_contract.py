"""Contract scenarios for the agent server (openhands-agent-server 1.58.2), through the client.

The server runs on 127.0.0.1 from its own Python 3.12 venv (tests/peers/live_fixtures.py) with a
session key; the scenarios cover what the dashboard's sandbox pages and proxy use.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import time
from pathlib import Path

import pytest

from apps.openhands import AgentServerClient, AuthenticationError, BadRequestError, NotFoundError
from tests.peers.live_fixtures import RealAgentServer
from tests.processes import wait_for

pytestmark = pytest.mark.live

TWENTY_MEGABYTES = 20 * 1024 * 1024


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a local file."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git(repository: Path, *arguments: str) -> None:
    """Run one git command in ``repository`` as a throwaway identity."""
    subprocess.run(
        ["git", "-c", "user.name=Live Test", "-c", "user.email=live@test.invalid", *arguments],
        cwd=repository,
        check=True,
        capture_output=True,
    )


# Server and authentication ------------------------------------------------------------------


def test_server_info_reports_version_and_idle_time(agent: AgentServerClient) -> None:
    info = agent.server_info()

    assert agent.health() is True
    assert info["version"] == "1.58.2"
    assert info["idle_time"] >= 0
    assert info["uptime"] >= info["idle_time"] - 1


@pytest.mark.parametrize("session_api_key", [None, "wrong-key"], ids=["no key", "wrong key"])
def test_requests_without_the_session_key_are_refused(
    real_agent_server: RealAgentServer, session_api_key: str | None
) -> None:
    with AgentServerClient(real_agent_server.base_url, session_api_key) as stranger:
        with pytest.raises(AuthenticationError) as refused:
            stranger.execute_bash("echo should not run")
        # The health and info routes stay public.
        assert stranger.health() is True

    assert refused.value.status_code == 401
    assert real_agent_server.session_api_key not in str(refused.value)


def test_vscode_url_is_none_without_the_vscode_binary(agent: AgentServerClient) -> None:
    # The binary ships only in the sandbox image; a local server answers {"url": null}.
    assert agent.vscode_url() is None


# Bash ---------------------------------------------------------------------------------------


def test_execute_bash_returns_output_and_exit_code(
    agent: AgentServerClient, agent_workspace: Path
) -> None:
    succeeded = agent.execute_bash("echo hi; pwd", cwd=str(agent_workspace))
    failed = agent.execute_bash("echo out; echo err >&2; exit 3")

    assert (succeeded.exit_code, succeeded.stdout) == (0, f"hi\n{agent_workspace}\n")
    assert succeeded.command_id
    assert (failed.exit_code, failed.stdout, failed.stderr) == (3, "out\n", "err\n")


def test_execute_bash_timeout_ends_with_exit_code_minus_one(agent: AgentServerClient) -> None:
    started = time.monotonic()

    timed_out = agent.execute_bash("echo start; sleep 20; echo end", timeout=1)

    assert time.monotonic() - started < 10
    assert timed_out.exit_code == -1
    assert timed_out.stdout == "start\n"


def test_execute_bash_in_a_missing_folder_fails_without_http_error(
    agent: AgentServerClient, agent_workspace: Path
) -> None:
    result = agent.execute_bash("true", cwd=str(agent_workspace / "missing"))

    assert result.exit_code == -1
    assert "No such file or directory" in result.stderr


def test_background_command_can_be_followed_and_stopped(agent: AgentServerClient) -> None:
    quick = agent.start_bash("echo tick 1; echo tick 2")
    slow = agent.start_bash("sleep 60")

    def finished_output(command_id: str) -> dict | None:
        outputs = agent.search_bash_events(command_id=command_id, kind="BashOutput").items
        done = [output for output in outputs if output["exit_code"] is not None]
        return done[0] if done else None

    quick_output = wait_for(
        lambda: finished_output(quick.id), timeout=30, what="the quick command", interval=0.3
    )
    assert (quick_output["exit_code"], quick_output["stdout"]) == (0, "tick 1\ntick 2\n")
    assert agent.stop_bash(slow.id) is True
    slow_output = wait_for(
        lambda: finished_output(slow.id), timeout=30, what="the stopped command", interval=0.3
    )
    assert slow_output["exit_code"] == -15


# Files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "relative_path",
    ["plain.bin", "with spaces/file name.bin", "ünïcødé/データ 文件.bin", "a/b/c/deep.bin"],
)
def test_upload_and_download_keep_every_byte(
    agent: AgentServerClient, agent_workspace: Path, tmp_path: Path, relative_path: str
) -> None:
    content = bytes(range(256)) * 64 + "ü\n\r\0".encode()
    source = tmp_path / "source.bin"
    source.write_bytes(content)
    remote = agent_workspace / relative_path

    stored = agent.upload_file(str(remote), source)
    downloaded = agent.download_file(str(remote), tmp_path / "copy.bin")
    streamed = io.BytesIO()
    agent.download_file(str(remote), streamed)

    assert stored == len(content)
    assert remote.read_bytes() == content
    assert (tmp_path / "copy.bin").read_bytes() == content
    assert streamed.getvalue() == content
    assert downloaded.size == len(content)
    assert downloaded.sha256 == hashlib.sha256(content).hexdigest()


def test_twenty_megabyte_file_round_trips(
    agent: AgentServerClient, agent_workspace: Path, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(TWENTY_MEGABYTES))
    remote = agent_workspace / "big.bin"

    assert agent.upload_file(str(remote), source) == TWENTY_MEGABYTES
    result = agent.download_file(str(remote), tmp_path / "big-copy.bin")

    assert result.size == TWENTY_MEGABYTES
    assert result.sha256 == sha256_of(source) == sha256_of(tmp_path / "big-copy.bin")


def test_download_errors_are_specific(
    agent: AgentServerClient, agent_workspace: Path, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError):
        agent.download_file(str(agent_workspace / "missing.txt"), tmp_path / "missing.txt")
    with pytest.raises(BadRequestError):
        agent.download_file(str(agent_workspace), tmp_path / "folder")
    assert not (tmp_path / "missing.txt").exists()
    assert not (tmp_path / "missing.txt.part").exists()


def test_global_file_routes_are_not_confined_to_the_workspace(
    agent: AgentServerClient, real_agent_server: RealAgentServer, tmp_path: Path
) -> None:
    # WHY this test exists: the dashboard must confine proxied paths itself, because the agent
    # server's global routes follow ".." (and symlinks) anywhere its user can read or write.
    outside = real_agent_server.workspace.parent.parent / "outside-the-workspace.txt"
    outside.write_text("not part of the workspace\n")
    traversal = f"{real_agent_server.workspace}/../../{outside.name}"

    agent.download_file(traversal, tmp_path / "leaked.txt")
    agent.upload_file(f"{real_agent_server.workspace}/../../planted.txt", io.BytesIO(b"x"))

    assert (tmp_path / "leaked.txt").read_text() == "not part of the workspace\n"
    assert (outside.parent / "planted.txt").read_bytes() == b"x"


def test_directories_can_be_created_and_listed(
    agent: AgentServerClient, agent_workspace: Path
) -> None:
    assert agent.create_directory(str(agent_workspace / "made" / "here")) is True
    assert agent.create_directory(str(agent_workspace / "made" / "here")) is True

    listed = agent.search_subdirs(str(agent_workspace / "made")).items

    assert [(item["name"], item["path"]) for item in listed] == [
        ("here", str(agent_workspace / "made" / "here"))
    ]


# Git ----------------------------------------------------------------------------------------


@pytest.fixture
def repository(agent_workspace: Path) -> Path:
    """Return a git repository with one commit, then a modified, a deleted and a new file."""
    repo = agent_workspace / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "modified.txt").write_text("line1\nline2\n")
    (repo / "deleted.txt").write_text("going away\n")
    (repo / "same.txt").write_text("unchanged\n")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "initial")
    (repo / "modified.txt").write_text("line1\nline2 changed\n")
    (repo / "deleted.txt").unlink()
    (repo / "added.txt").write_text("brand new\n")
    return repo


def test_git_changes_list_modified_deleted_and_added_files(
    agent: AgentServerClient, repository: Path
) -> None:
    expected = [("ADDED", "added.txt"), ("DELETED", "deleted.txt"), ("UPDATED", "modified.txt")]
    no_repository = repository.parent / "no-repository"
    no_repository.mkdir()

    against_head = agent.git_changes(str(repository), ref="HEAD")
    # Without a ref the server looks for an upstream branch; with no remote it falls back to HEAD.
    against_default = agent.git_changes(str(repository))
    # A folder above a repository reports the repositories below it, paths prefixed.
    from_parent = agent.git_changes(str(repository.parent))

    assert sorted((change.status, change.path) for change in against_head) == expected
    assert sorted((change.status, change.path) for change in against_default) == expected
    assert sorted((change.status, change.path) for change in from_parent) == [
        (status, f"repo/{path}") for status, path in expected
    ]
    assert agent.git_changes(str(no_repository)) == []


def test_git_diff_returns_both_file_texts(agent: AgentServerClient, repository: Path) -> None:
    modified = agent.git_diff(str(repository / "modified.txt"), ref="HEAD")
    added = agent.git_diff(str(repository / "added.txt"), ref="HEAD")
    deleted = agent.git_diff(str(repository / "deleted.txt"), ref="HEAD")

    assert (modified["original"], modified["modified"]) == ("line1\nline2", "line1\nline2 changed")
    assert (added["original"], added["modified"]) == ("", "brand new")
    assert (deleted["original"], deleted["modified"]) == ("going away", "")


def test_git_commits_list_the_history(agent: AgentServerClient, repository: Path) -> None:
    history = agent.git_commits(str(repository))

    assert [commit["subject"] for commit in history["commits"]] == ["initial"]
    assert history["has_more"] is False
