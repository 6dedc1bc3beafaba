"""Records built from API JSON, timestamps, and the incremental JSON array parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from apps.openhands.dates import parse_datetime, to_query_datetime
from apps.openhands.jsonstream import IncompleteJSONArrayError, JSONArrayStream
from apps.openhands.records import (
    BashOutput,
    Conversation,
    Event,
    Metrics,
    Sandbox,
    SandboxSpec,
    StartTask,
    User,
)
from tests.openhands.support import (
    AGENT,
    CONVERSATION_ID,
    SANDBOX_ID,
    conversation_json,
    event_json,
    sandbox_json,
    task_json,
)

# Records ----------------------------------------------------------------------------------


def test_a_conversation_reads_every_documented_field() -> None:
    data = conversation_json(unknown_future_field={"x": 1})
    conversation = Conversation.from_json(data)
    assert conversation.id == CONVERSATION_ID
    assert conversation.sandbox_id == SANDBOX_ID
    assert conversation.pr_number == [12]
    assert conversation.tags == {"repo_name": "owner/repo"}
    assert conversation.created_at == datetime(2026, 1, 27, 15, 25, 0, 123456, tzinfo=UTC)
    assert conversation.updated_at == datetime(2026, 1, 27, 15, 27, 41, tzinfo=UTC)
    assert conversation.metrics == Metrics(
        model_name="default",
        accumulated_cost=0.024,
        prompt_tokens=1200,
        completion_tokens=80,
        cache_read_tokens=5,
        cache_write_tokens=0,
        reasoning_tokens=3,
        context_window=200000,
    )
    assert conversation.is_terminal
    assert conversation.raw == data
    assert conversation.raw["unknown_future_field"] == {"x": 1}


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("finished", True),
        ("error", True),
        ("stuck", True),
        ("running", False),
        ("waiting_for_confirmation", False),
        (None, False),
        ("brand_new_status", False),
    ],
)
def test_is_terminal(status: str | None, terminal: bool) -> None:
    assert (
        Conversation.from_json(conversation_json(execution_status=status)).is_terminal is terminal
    )


def test_odd_values_never_crash_a_record() -> None:
    conversation = Conversation.from_json(
        {
            "id": "c1",
            "pr_number": ["17", "n/a", 3.0],
            "tags": None,
            "metrics": "oops",
            "created_at": "not a date",
            "public": "yes",
            "sandbox_status": "HIBERNATING",
            "sub_conversation_ids": None,
        }
    )
    assert conversation.pr_number == [17, 3]
    assert conversation.tags == {}
    assert conversation.metrics is None
    assert conversation.created_at is None
    assert conversation.public is None
    assert conversation.sandbox_status == "HIBERNATING"
    assert conversation.sub_conversation_ids == []


@pytest.mark.parametrize("data", [{"title": "no id"}, ["a", "list"], None, {"id": ""}])
def test_a_record_needs_an_object_with_an_id(data: object) -> None:
    with pytest.raises(ValueError, match="Conversation"):
        Conversation.from_json(data)  # type: ignore[arg-type]


def test_start_task_states() -> None:
    assert StartTask.from_json(task_json(status="READY")).is_ready
    assert StartTask.from_json(task_json(status="ERROR")).is_error
    working = StartTask.from_json(task_json(status="WORKING"))
    assert not working.is_ready
    assert not working.is_error
    # Start-task timestamps are naive; they are UTC.
    assert working.created_at == datetime(2026, 1, 27, 15, 25, 0, 123456, tzinfo=UTC)


def test_a_sandbox_finds_its_agent_server_url() -> None:
    sandbox = Sandbox.from_json(sandbox_json())
    assert sandbox.agent_server_url == AGENT
    assert sandbox.exposed_urls[0].port == 60000
    assert (
        sandbox.exposed_url(
            "VSCODE",
        )
        is not None
    )
    paused = Sandbox.from_json(sandbox_json(status="PAUSED", exposed_urls=None))
    assert paused.agent_server_url is None
    assert paused.exposed_urls == []


def test_an_event_keeps_its_timestamp_as_sent() -> None:
    event = Event.from_json(event_json())
    assert (event.kind, event.source, event.timestamp) == (
        "MessageEvent",
        "user",
        "2026-01-27T15:25:03.5",
    )
    assert event.raw["llm_message"]["role"] == "user"


def test_an_open_source_user_may_have_no_id() -> None:
    user = User.from_json({"id": None, "email": None, "agent_settings": {}})
    assert user.id is None
    assert user.raw["agent_settings"] == {}


def test_bash_output_of_a_running_command_has_no_exit_code() -> None:
    output = BashOutput.from_json({"command_id": "c", "exit_code": None, "stdout": "tick"})
    assert output.exit_code is None
    assert output.stdout == "tick"


def test_a_sandbox_spec_reads_its_command() -> None:
    spec = SandboxSpec.from_json(
        {"id": "img:1", "command": ["python", "-m", "openhands.agent_server"], "initial_env": {}}
    )
    assert spec.command == ["python", "-m", "openhands.agent_server"]


# Timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-27T15:25:00Z",
        "2026-01-27T15:25:00+00:00",
        "2026-01-27T15:25:00",
        "2026-01-27T16:25:00+01:00",
        "2026-01-27T15:25:00.000000000Z",
    ],
)
def test_timestamps_in_every_server_format_read_as_the_same_utc_moment(text: str) -> None:
    assert parse_datetime(text) == datetime(2026, 1, 27, 15, 25, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "soon", 12, []])
def test_unreadable_timestamps_are_none(value: object) -> None:
    assert parse_datetime(value) is None


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (datetime(2026, 1, 27), "2026-01-27T00:00:00Z"),
        (datetime(2026, 1, 27, 1, 0, tzinfo=timezone(timedelta(hours=1))), "2026-01-27T00:00:00Z"),
        (datetime(2026, 1, 27, 0, 0, 0, 250000, tzinfo=UTC), "2026-01-27T00:00:00.250000Z"),
        ("2026-01-27", "2026-01-27T00:00:00Z"),
        ("2026-01-27T00:00:00+00:00", "2026-01-27T00:00:00Z"),
    ],
)
def test_query_datetimes_are_sent_as_utc_with_z(value: datetime | str, sent: str) -> None:
    assert to_query_datetime(value) == sent


def test_a_bad_query_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="'yesterday' is not an ISO-8601"):
        to_query_datetime("yesterday")


# Incremental JSON arrays ------------------------------------------------------------------

ELEMENTS = [
    {"id": "a", "status": "WORKING", "detail": 'comma, ] bracket and "quote"'},
    {"id": "b", "nested": [1, [2, {"x": "}"}]], "n": 12345},
    {"id": "c", "detail": "naïve ✓ text"},
]
SERVER_TEXT = (
    "[\n" + ",\n".join(json.dumps(element, ensure_ascii=False) for element in ELEMENTS) + "]"
)


def _feed_all(pieces: list[str]) -> list[object]:
    parser = JSONArrayStream()
    found: list[object] = []
    for piece in pieces:
        found.extend(parser.feed(piece))
    parser.close()
    return found


@pytest.mark.parametrize("split_at", range(1, len(SERVER_TEXT)))
def test_the_array_parser_handles_a_split_anywhere(split_at: int) -> None:
    assert _feed_all([SERVER_TEXT[:split_at], SERVER_TEXT[split_at:]]) == ELEMENTS


def test_the_array_parser_handles_one_character_at_a_time() -> None:
    assert _feed_all(list(SERVER_TEXT)) == ELEMENTS


def test_the_array_parser_yields_an_element_as_soon_as_it_is_complete() -> None:
    parser = JSONArrayStream()
    assert parser.feed("[\n" + json.dumps(ELEMENTS[0])) == [ELEMENTS[0]]
    assert parser.feed(",\n") == []


def test_the_array_parser_waits_for_a_number_to_end() -> None:
    parser = JSONArrayStream()
    assert parser.feed("[12") == []
    assert parser.feed("3, 4") == [123]
    assert parser.feed("]") == [4]
    parser.close()


def test_an_empty_array_is_fine() -> None:
    assert _feed_all(["[", " ", "]", "\n"]) == []


@pytest.mark.parametrize("text", ['{"id": 1}', '[{"id": 1} {"id": 2}]', "[1]]", "[1,]"])
def test_malformed_arrays_are_refused(text: str) -> None:
    parser = JSONArrayStream()
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - each names its own problem
        parser.feed(text)
    assert not isinstance(caught.value, IncompleteJSONArrayError)


@pytest.mark.parametrize("text", ["", "[", '[{"id": 1}', '[{"id": 1},', '[{"id": "uncl'])
def test_an_array_that_is_cut_short_is_incomplete(text: str) -> None:
    parser = JSONArrayStream()
    parser.feed(text)
    with pytest.raises(IncompleteJSONArrayError):
        parser.close()
