"""Unit tests of the CLI that need no server: argument parsing, settings, output formatting,
secret masking, zip verification and the mapping of errors to exit codes."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from pathlib import Path

import pytest

from apps.openhands import (
    AuthenticationError,
    AuthStyle,
    BadRequestError,
    ConflictError,
    GoneError,
    NotFoundError,
    NotJSONError,
    OpenHandsError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from apps.openhands.cli import (
    BASH_VIEW,
    COMMANDS,
    CONVERSATION_VIEW,
    EVENT_VIEW,
    EXIT_AUTH,
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_UPSTREAM,
    EXIT_USAGE,
    MASK,
    Context,
    Settings,
    build_parser,
    exit_code_for,
    load_settings,
    main,
    render_table,
    to_json,
    trajectory_zip_problem,
)
from apps.openhands.records import Conversation, DownloadResult, Page, Sandbox

API_KEY = "sk-oh-unit-test-key-0123456789"
# Port 9 (discard) on loopback: nothing listens, and no test here should get that far.
ENVIRON = {"OPENHANDS_API_KEY": API_KEY, "OPENHANDS_APP_BASE": "http://127.0.0.1:9"}


def run_cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(
        list(argv), environ=ENVIRON if environ is None else environ, stdout=stdout, stderr=stderr
    )
    return code, stdout.getvalue(), stderr.getvalue()


def parse_exit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run argv through the real parser, which exits; return the code and the output."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv), environ=ENVIRON)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def settings_for(*argv: str, environ: dict[str, str] | None = None) -> Settings:
    args = build_parser().parse_args(list(argv))
    return load_settings(args, ENVIRON if environ is None else environ)


def table_context(*, show_secrets: bool = False) -> Context:
    settings = Settings(
        base_url="http://127.0.0.1:9",
        api_key=API_KEY,
        auth_style=AuthStyle.BEARER,
        org_id=None,
        output_format="table",
        quiet=False,
        verbose=False,
        show_secrets=show_secrets,
    )
    return Context(settings, io.StringIO(), io.StringIO())


# --- help -----------------------------------------------------------------------------------


def test_main_help_lists_every_command_env_and_exit_codes(capsys):
    code, out, _ = parse_exit(capsys, "--help")
    assert code == 0
    for name in COMMANDS:
        assert name in out
    assert "OPENHANDS_API_KEY" in out
    assert "exit codes:" in out
    for exit_line in ("3    authentication failed", "4    not found", "6    conflict", "130"):
        assert exit_line in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_summary_and_examples(capsys, name):
    code, out, _ = parse_exit(capsys, name, "--help")
    assert code == 0
    assert COMMANDS[name].summary in out
    assert f"examples:\n  openhands-cloud {COMMANDS[name].examples[0]}" in out
    assert "--format" in out  # the global options work after the command name too


def test_commands_have_the_names_the_original_script_used():
    expected = {
        "search_conversations", "count_conversations", "get_conversation", "get_user",
        "search_sandboxes", "search_sandbox_specs", "search_events", "count_events",
        "start_conversation", "get_start_task", "update_conversation", "delete_conversation",
        "send_message", "start_sandbox", "pause_sandbox", "resume_sandbox", "delete_sandbox",
        "download_trajectory", "agent_search_events", "agent_count_events", "agent_bash",
        "agent_download", "agent_upload", "agent_git_changes", "agent_git_diff",
        "agent_vscode_url", "wait_conversation", "tail_events", "export_trajectories",
    }  # fmt: skip
    assert set(COMMANDS) == expected


# --- usage errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search_conversations", "--limit", "0"], "argument --limit: must be at least 1"),
        (["search_conversations", "--created-after", "yesterday"], "not an ISO 8601 date"),
        (["search_conversations", "--all", "--page-id", "100"], "not allowed with argument"),
        (["no_such_command"], "invalid choice: 'no_such_command'"),
        ([], "the following arguments are required: COMMAND"),
        (["get_conversation"], "the following arguments are required: CONVERSATION_ID"),
        (["wait_conversation", "abc", "--timeout", "-1"], "must be more than 0 seconds"),
        (["--format", "yaml", "get_user"], "invalid choice: 'yaml'"),
    ],
)
def test_bad_arguments_exit_2_with_one_error_line(capsys, argv, message):
    code, out, err = parse_exit(capsys, *argv)
    assert code == EXIT_USAGE
    assert out == ""
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search_conversations", "--limit", "500"], "--limit must be at most 100 without --all"),
        (["update_conversation", "abc"], "nothing to update"),
        (["agent_bash", "sbx"], "give the command after -- or with --command"),
        (["agent_bash", "sbx", "--command", " "], "give the command after -- or with --command"),
        (["agent_bash", "sbx", "--command", "ls", "--", "pwd"], "not both"),
        (["agent_upload", "sbx", "/no/such/local/file", "/workspace/x"], "is not a readable file"),
        (["agent_download", "sbx", "relative/path.txt"], "the sandbox path must be absolute"),
        (["agent_download", "sbx", "/"], "has no file name; give -o PATH"),
    ],
)
def test_input_checked_before_any_request_exits_2(argv, message):
    code, out, err = run_cli(*argv)
    assert code == EXIT_USAGE
    assert out == ""
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert message in err


def test_export_into_a_file_instead_of_a_folder_exits_2(tmp_path):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    code, _, err = run_cli("export_trajectories", str(not_a_folder))
    assert code == EXIT_USAGE
    assert "is not a folder" in err


# --- settings -------------------------------------------------------------------------------


def test_missing_key_exits_3_and_says_how_to_give_one():
    code, out, err = run_cli("get_user", environ={})
    assert code == EXIT_AUTH
    assert out == ""
    assert "OPENHANDS_API_KEY" in err
    assert "--api-key-file" in err


def test_defaults_to_the_cloud_with_bearer_keys_and_json():
    settings = settings_for("get_user", environ={"OPENHANDS_API_KEY": API_KEY})
    assert settings.base_url == "https://app.all-hands.dev"
    assert settings.auth_style == "bearer"
    assert settings.output_format == "json"
    assert settings.org_id is None
    assert API_KEY not in repr(settings)


def test_reads_base_url_org_and_auth_style_from_the_environment():
    environ = {
        "OPENHANDS_API_KEY": f"  {API_KEY}\n",
        "OPENHANDS_APP_BASE": "http://127.0.0.1:8000/oh/",
        "OPENHANDS_ORG_ID": "org-1",
        "OPENHANDS_AUTH_STYLE": "SESSION_KEY",
    }
    settings = settings_for("get_user", environ=environ)
    assert settings.base_url == "http://127.0.0.1:8000/oh"
    assert settings.org_id == "org-1"
    assert settings.auth_style == "session_key"
    assert settings.api_key == API_KEY


@pytest.mark.parametrize(
    "argv",
    [
        ["--base-url", "http://flag:1", "--org-id", "org-2", "--format", "table", "-q", "get_user"],
        ["get_user", "--base-url", "http://flag:1", "--org-id", "org-2", "--format", "table", "-q"],
    ],
)
def test_global_flags_work_before_or_after_the_command_and_win_over_env(argv):
    settings = settings_for(*argv, environ={**ENVIRON, "OPENHANDS_ORG_ID": "org-env"})
    assert settings.base_url == "http://flag:1"
    assert settings.org_id == "org-2"
    assert settings.output_format == "table"
    assert settings.quiet is True


def test_reads_the_key_from_a_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(f"{API_KEY}\n")
    settings = settings_for("--api-key-file", str(key_file), "get_user", environ={})
    assert settings.api_key == API_KEY


def test_auth_style_none_needs_no_key():
    settings = settings_for("--auth-style", "none", "get_user", environ={})
    assert settings.api_key is None


@pytest.mark.parametrize(
    ("environ", "argv", "message"),
    [
        ({"OPENHANDS_AUTH_STYLE": "basic"}, ["get_user"], "auth style must be one of"),
        ({"OPENHANDS_APP_BASE": "app.all-hands.dev"}, ["get_user"], "must start with http"),
        ({}, ["--api-key-file", "/no/such/key", "get_user"], "cannot read the API key file"),
    ],
)
def test_bad_configuration_exits_2(environ, argv, message):
    code, _, err = run_cli(*argv, environ={**ENVIRON, **environ})
    assert code == EXIT_USAGE
    assert message in err
    assert API_KEY not in err


# --- output ---------------------------------------------------------------------------------


CONVERSATION_JSON = {
    "id": "bb6a1b39c0d44d4db931e53d59897c77",
    "title": "A title long enough to be cut in a table cell because it goes on and on and on",
    "execution_status": None,
    "sandbox_status": "PAUSED",
    "updated_at": "2026-01-27T15:27:41.123456Z",
    "session_api_key": "session-key-abcdef-123456",
    "future_field": {"nested": [1, 2]},
}


def test_json_output_is_the_raw_record_so_nothing_is_lost():
    conversation = Conversation.from_json(CONVERSATION_JSON)
    assert to_json(conversation) == CONVERSATION_JSON
    page = Page(items=[conversation], next_page_id="100")
    assert to_json(page) == {"items": [CONVERSATION_JSON], "next_page_id": "100"}


def test_plain_dataclasses_become_json_objects():
    result = DownloadResult(path=Path("/tmp/x.zip"), size=3, sha256="ab")
    assert to_json(result) == {"path": "/tmp/x.zip", "size": 3, "sha256": "ab"}


def test_table_aligns_columns_cuts_long_cells_and_shows_missing_values():
    second = {**CONVERSATION_JSON, "id": "2", "title": "short", "execution_status": "finished"}
    table = render_table([CONVERSATION_JSON, second, None], CONVERSATION_VIEW)
    header, first_row, second_row, missing_row = table.splitlines()
    assert header.split() == ["ID", "TITLE", "EXECUTION_STATUS", "SANDBOX_STATUS", "UPDATED_AT"]
    assert first_row.index("PAUSED") == second_row.index("PAUSED") == header.index("SANDBOX_STATUS")
    assert "A title long enough to be cut" in first_row
    assert "…" in first_row
    assert CONVERSATION_JSON["title"] not in first_row
    assert "2026-01-27T15:27:41Z" in first_row  # fractions of seconds are noise in a table
    assert " - " in first_row  # execution_status is null while the sandbox is paused
    assert set(missing_row.split()) == {"-"}


def test_table_of_one_record_lists_its_fields_with_multiline_values_indented():
    output = {"exit_code": 0, "stdout": "line 1\nline 2\n", "stderr": None, "command_id": "c1"}
    table = render_table(output, BASH_VIEW)
    assert table.splitlines() == [
        "exit_code   0",
        "stdout      line 1",
        "            line 2",
        "stderr      -",
        "command_id  c1",
    ]


def test_table_of_a_page_shows_its_items_and_of_a_number_the_number():
    page = {"items": [{"timestamp": "t", "kind": "MessageEvent", "source": "user", "id": "e1"}]}
    table = render_table(page, EVENT_VIEW, is_page=True)
    assert table.splitlines()[1].split() == ["t", "MessageEvent", "user", "e1"]
    assert render_table(42, None) == "42"


def test_session_keys_are_masked_wherever_they_appear():
    key = "session-key-abcdef-123456"
    sandbox = {
        "id": "s1",
        "session_api_key": key,
        "exposed_urls": [{"name": "VSCODE", "url": f"https://vscode.example/?tkn={key}&folder=x"}],
    }
    masked = table_context().redact(sandbox)
    assert masked["session_api_key"] == MASK
    assert masked["exposed_urls"][0]["url"] == f"https://vscode.example/?tkn={MASK}&folder=x"
    assert key not in json.dumps(masked)
    assert table_context(show_secrets=True).redact(sandbox) == sandbox


def test_spec_environments_and_an_echoed_api_key_are_masked():
    spec = {"id": "img", "initial_env": {"LLM_API_KEY": "x"}, "note": f"key {API_KEY} echoed"}
    masked = table_context().redact(spec)
    assert masked["initial_env"] == MASK
    assert masked["note"] == f"key {MASK} echoed"


def test_error_messages_lose_the_api_key_and_stay_on_one_line():
    assert table_context().scrub(f"bad key {API_KEY}\nsecond line") == f"bad key {MASK} second line"


def test_the_sandbox_record_hides_its_key_even_from_plain_json():
    sandbox = Sandbox.from_json({"id": "s1", "session_api_key": "session-key-abcdef-123456"})
    stdout = io.StringIO()
    context = table_context()
    context.stdout = stdout
    context.settings = dataclasses.replace(context.settings, output_format="json")
    context.emit(sandbox)
    assert json.loads(stdout.getvalue()) == {"id": "s1", "session_api_key": MASK}


# --- zip verification -----------------------------------------------------------------------


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_complete_trajectory_zip_passes(tmp_path):
    path = write_zip(
        tmp_path / "ok.zip", {"meta.json": b'{"id": "c1"}', "event_000000_e.json": b"{}"}
    )
    assert trajectory_zip_problem(path) is None


def test_a_zip_without_meta_json_fails(tmp_path):
    path = write_zip(tmp_path / "no_meta.zip", {"event_000000_e.json": b"{}"})
    assert trajectory_zip_problem(path) == "meta.json is missing"


def test_a_zip_with_a_damaged_member_fails_its_crc_check(tmp_path):
    payload = b'{"kind": "MessageEvent", "text": "original bytes"}'
    path = write_zip(tmp_path / "crc.zip", {"meta.json": b"{}", "event_000000_e.json": payload})
    data = path.read_bytes()
    path.write_bytes(data.replace(b"original", b"tampered"))
    assert trajectory_zip_problem(path) == "event_000000_e.json fails its CRC check"


def test_a_truncated_or_non_zip_file_fails(tmp_path):
    html = tmp_path / "page.zip"
    html.write_text("<!doctype html><title>OpenHands</title>")
    assert trajectory_zip_problem(html).startswith("not a valid zip")
    good = write_zip(tmp_path / "cut.zip", {"meta.json": b'{"id": "c1"}' * 50})
    good.write_bytes(good.read_bytes()[:60])
    assert trajectory_zip_problem(good).startswith("not a valid zip")


# --- exit codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_class", "exit_code"),
    [
        (AuthenticationError, EXIT_AUTH),
        (NotFoundError, EXIT_NOT_FOUND),
        (GoneError, EXIT_NOT_FOUND),
        (ConflictError, EXIT_CONFLICT),
        (BadRequestError, EXIT_USAGE),
        (ServerError, EXIT_UPSTREAM),
        (TransportError, EXIT_UPSTREAM),
        (RateLimitedError, EXIT_UPSTREAM),
        (NotJSONError, EXIT_UPSTREAM),
        (PayloadTooLargeError, EXIT_UPSTREAM),
        (OpenHandsError, EXIT_UPSTREAM),
    ],
)
def test_client_errors_map_to_documented_exit_codes(error_class, exit_code):
    assert exit_code_for(error_class("failed")) == exit_code
