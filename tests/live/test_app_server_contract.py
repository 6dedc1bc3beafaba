"""Contract scenarios for the App Server V1 API, run against the fake and the real server.

Each scenario drives the project's client library (apps.openhands) through one behaviour the
dashboard relies on. The real server is openhands-ai 1.11.0 with process sandboxes and a fake
LLM (tests/peers/live_fixtures.py); the fake must behave the same.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from apps.openhands import AppServerClient, AuthenticationError, NotFoundError
from tests.live.conftest import (
    FIRST_MESSAGE,
    POLL_INTERVAL,
    START_TIMEOUT,
    AppServerPeer,
    FinishedConversation,
    message_text,
    wait_for_sandbox_status,
)

EVENT_FILE_NAME = re.compile(r"^event_(\d{6})_([0-9a-f-]{36})\.json$")


# Conversations ------------------------------------------------------------------------------


def test_start_task_becomes_ready_and_conversation_finishes(
    finished_conversation: FinishedConversation,
) -> None:
    first, ready = finished_conversation.first_task, finished_conversation.ready_task
    conversation = finished_conversation.conversation

    assert first.id == ready.id
    assert first.status == "WORKING"
    assert first.app_conversation_id is None
    assert ready.status == "READY"
    assert ready.detail is None
    assert ready.app_conversation_id == conversation.id
    assert ready.sandbox_id == conversation.sandbox_id
    assert ready.agent_server_url.startswith("http")
    assert re.fullmatch(r"[0-9a-f]{32}", conversation.id)
    assert conversation.execution_status == "finished"
    assert conversation.is_terminal
    assert conversation.sandbox_status == "RUNNING"
    assert conversation.conversation_url == (
        f"{ready.agent_server_url}/api/conversations/{conversation.id}"
    )
    assert conversation.session_api_key
    assert conversation.created_at.tzinfo is not None
    assert conversation.updated_at >= conversation.created_at
    assert conversation.metrics is not None
    assert conversation.metrics.prompt_tokens > 0
    assert conversation.pr_number == []
    assert conversation.sub_conversation_ids == []
    # Cloud's schema says date-time (the fake sends an offset); OSS 1.11 sends naive UTC times.
    # The client reads both as aware UTC.
    assert first.created_at.tzinfo is not None
    assert ready.updated_at.tzinfo is not None
    assert ready.updated_at >= ready.created_at


def test_search_count_and_batch_get_find_the_conversation(
    app: AppServerClient, finished_conversation: FinishedConversation
) -> None:
    conversation = finished_conversation.conversation
    unknown_id = uuid.uuid4().hex

    found = app.search_conversations(limit=100)
    assert conversation.id in [item.id for item in found.items]
    assert app.count_conversations() >= 1
    by_sandbox = app.search_conversations(sandbox_id=conversation.sandbox_id)
    assert [item.id for item in by_sandbox.items] == [conversation.id]
    assert app.count_conversations(sandbox_id=conversation.sandbox_id) == 1
    assert app.search_conversations(title_contains=uuid.uuid4().hex).items == []
    assert app.count_conversations(sandbox_id="no-such-sandbox") == 0

    batch = app.get_conversations([unknown_id, conversation.id])
    assert batch[0] is None
    assert batch[1].id == conversation.id
    assert batch[1].sandbox_id == conversation.sandbox_id
    with pytest.raises(NotFoundError):
        app.get_conversation(unknown_id)


def test_start_tasks_can_be_searched_counted_and_fetched(
    app: AppServerClient, finished_conversation: FinishedConversation
) -> None:
    ready = finished_conversation.ready_task

    by_conversation = app.search_start_tasks(conversation_id=ready.app_conversation_id)
    assert [task.id for task in by_conversation.items] == [ready.id]
    assert app.count_start_tasks(conversation_id=ready.app_conversation_id) == 1
    assert ready.id in [task.id for task in app.search_start_tasks().items]
    assert app.get_start_tasks([ready.id, uuid.uuid4().hex])[1] is None
    assert app.get_start_task(ready.id).status == "READY"


# Events -------------------------------------------------------------------------------------


def test_events_record_the_turn_in_timestamp_order(
    finished_conversation: FinishedConversation,
) -> None:
    events = finished_conversation.events

    assert len({event.id for event in events}) == len(events)
    assert [event.timestamp for event in events] == sorted(event.timestamp for event in events)
    assert all(re.fullmatch(r"[0-9a-f-]{36}", event.id) for event in events)
    # Event timestamps are naive ISO strings, unlike the records' aware datetimes.
    assert all(not event.timestamp.endswith(("Z", "+00:00")) for event in events)
    assert (events[0].kind, events[0].raw["key"]) == ("ConversationStateUpdateEvent", "full_state")
    messages = [event for event in events if event.kind == "MessageEvent"]
    assert (messages[0].source, message_text(messages[0])) == ("user", FIRST_MESSAGE)
    assert messages[-1].source == "agent"
    assert message_text(messages[-1])
    statuses = [
        event.raw["value"]
        for event in events
        if event.kind == "ConversationStateUpdateEvent" and event.raw["key"] == "execution_status"
    ]
    assert statuses[-1] == "finished"


def test_turn_follows_the_agent_server_sequence(
    finished_conversation: FinishedConversation,
) -> None:
    # The agent server (SDK) opens a conversation with its state and system prompt before the
    # user's message, and closes every turn with a fresh full_state snapshot.
    events = finished_conversation.events
    opening = [(event.kind, event.source) for event in events[:3]]

    assert opening == [
        ("ConversationStateUpdateEvent", "environment"),
        ("SystemPromptEvent", "agent"),
        ("MessageEvent", "user"),
    ]
    closing = [(event.kind, event.raw.get("key"), event.raw.get("value")) for event in events[-2:]]
    assert closing[0] == ("ConversationStateUpdateEvent", "execution_status", "finished")
    assert closing[1][:2] == ("ConversationStateUpdateEvent", "full_state")


def test_events_page_by_five_and_count_matches(
    app: AppServerClient, finished_conversation: FinishedConversation
) -> None:
    conversation_id = finished_conversation.conversation.id
    expected_ids = [event.id for event in finished_conversation.events]

    paged_ids: list[str] = []
    page_id = None
    page_sizes = []
    while True:
        page = app.search_events(conversation_id, limit=5, page_id=page_id)
        page_sizes.append(len(page.items))
        paged_ids += [event.id for event in page.items]
        page_id = page.next_page_id
        if page_id is None:
            break

    assert paged_ids == expected_ids
    assert app.count_events(conversation_id) == len(expected_ids)
    assert all(size == 5 for size in page_sizes[:-1])
    assert 1 <= page_sizes[-1] <= 5
    newest_first = app.search_events(conversation_id, sort_order="TIMESTAMP_DESC", limit=100)
    assert [event.id for event in newest_first.items] == expected_ids[::-1]


def test_events_filter_by_kind_and_batch_get(
    app: AppServerClient, finished_conversation: FinishedConversation
) -> None:
    conversation_id = finished_conversation.conversation.id
    events = finished_conversation.events

    messages = app.search_events(conversation_id, kind="MessageEvent").items
    assert [event.id for event in messages] == [
        event.id for event in events if event.kind == "MessageEvent"
    ]
    assert app.count_events(conversation_id, kind="MessageEvent") == len(messages) >= 2
    assert app.count_events(conversation_id, kind="PauseEvent") == 0

    wanted = [events[2].id, str(uuid.uuid4()), events[0].id]
    fetched = app.get_events(conversation_id, wanted)
    assert [event.id if event else None for event in fetched] == [wanted[0], None, wanted[2]]
    assert fetched[0].raw == events[2].raw
    # An unknown conversation has no events; the server answers 0, not 404.
    assert app.count_events(uuid.uuid4().hex) == 0


def test_download_zip_holds_meta_and_every_event(
    app: AppServerClient, finished_conversation: FinishedConversation, tmp_path: Path
) -> None:
    conversation = finished_conversation.conversation
    destination = tmp_path / "trajectory.zip"

    result = app.download_conversation(conversation.id, destination)

    assert result.size == destination.stat().st_size > 0
    assert result.sha256 == hashlib.sha256(destination.read_bytes()).hexdigest()
    assert not destination.with_name("trajectory.zip.part").exists()
    with zipfile.ZipFile(destination) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names[0] == "meta.json"
        meta = json.loads(archive.read("meta.json"))
        event_files = [EVENT_FILE_NAME.fullmatch(name) for name in names[1:]]
        assert all(event_files), names
        zipped_events = [json.loads(archive.read(match.string)) for match in event_files]
    assert meta["id"] == conversation.id
    assert meta["sandbox_id"] == conversation.sandbox_id
    assert "session_api_key" not in meta
    assert [int(match.group(1)) for match in event_files] == list(range(len(event_files)))
    assert [match.group(2) for match in event_files] == [event["id"] for event in zipped_events]
    assert len(zipped_events) == app.count_events(conversation.id)
    assert [event["id"] for event in zipped_events] == [
        event.id for event in finished_conversation.events
    ]


# Sandboxes ----------------------------------------------------------------------------------


def test_sandbox_pause_resume_and_delete(peer: AppServerPeer, app: AppServerClient) -> None:
    started = app.start_sandbox()
    # Cloud (and the fake) answer STARTING at once; OSS answers RUNNING once its process sandbox
    # is up, about 7 s later. Either way the caller waits for RUNNING.
    assert started.status in ("STARTING", "RUNNING")
    sandbox = wait_for_sandbox_status(app, started.id, "RUNNING")
    assert sandbox.id in [item.id for item in app.search_sandboxes().items]
    assert sandbox.sandbox_spec_id
    assert sandbox.session_api_key
    assert sandbox.agent_server_url.startswith("http")

    assert app.pause_sandbox(sandbox.id) is True
    paused = wait_for_sandbox_status(app, sandbox.id, "PAUSED")
    assert paused.exposed_urls == []
    assert paused.agent_server_url is None
    assert paused.session_api_key is None

    assert app.resume_sandbox(sandbox.id) is True
    resumed = wait_for_sandbox_status(app, sandbox.id, "RUNNING")
    assert resumed.agent_server_url.startswith("http")
    # Cloud (and the fake) issue a new session key on resume; OSS keeps the old one. Callers
    # must read the key again after a resume, which is all both promise.
    assert resumed.session_api_key

    # The route reads the id from the query, not from the path: without it, 422.
    without_query = httpx.delete(
        f"{peer.base_url}/api/v1/sandboxes/{sandbox.id}",
        headers={"X-Session-API-Key": peer.api_key},
        timeout=30.0,
    )
    assert without_query.status_code == 422
    assert app.delete_sandbox(sandbox.id) is True
    assert app.get_sandboxes([sandbox.id]) == [None]
    with pytest.raises(NotFoundError):
        app.get_sandbox(sandbox.id)
    with pytest.raises(NotFoundError):
        app.pause_sandbox(sandbox.id)
    with pytest.raises(NotFoundError):
        app.delete_sandbox(sandbox.id)


def test_sandbox_specs_list_the_agent_server_image(app: AppServerClient) -> None:
    specs = app.search_sandbox_specs().items

    assert specs
    assert all("agent-server" in spec.id for spec in specs)
    assert app.get_sandbox_specs([specs[0].id, "no/such:spec"]) == [specs[0], None]


def test_paused_conversation_hides_live_fields_until_resumed(
    app: AppServerClient, finished_conversation: FinishedConversation
) -> None:
    conversation_id = finished_conversation.conversation.id
    sandbox_id = finished_conversation.conversation.sandbox_id

    assert app.pause_sandbox(sandbox_id) is True
    try:
        paused = app.get_conversation(conversation_id)
        assert paused.sandbox_status == "PAUSED"
        assert paused.execution_status is None
        assert paused.conversation_url is None
        assert paused.session_api_key is None
        # Stored events stay readable while the sandbox sleeps.
        assert app.count_events(conversation_id) == len(finished_conversation.events)
    finally:
        assert app.resume_sandbox(sandbox_id) is True
    wait_for_sandbox_status(app, sandbox_id, "RUNNING")
    resumed = app.wait_until_terminal(
        conversation_id, timeout=START_TIMEOUT, poll_interval=POLL_INTERVAL
    )
    assert resumed.execution_status == "finished"


def test_follow_up_message_runs_another_turn(
    peer: AppServerPeer, app: AppServerClient, finished_conversation: FinishedConversation
) -> None:
    conversation_id = finished_conversation.conversation.id
    before = {event.id for event in finished_conversation.events}

    answer = app.send_message(conversation_id, "And again")
    peer.finish_turn(app, conversation_id, "And again")

    new_messages = [
        event
        for event in app.iter_events(conversation_id, kind="MessageEvent")
        if event.id not in before
    ]
    assert answer["success"] is True
    assert (new_messages[0].source, message_text(new_messages[0])) == ("user", "And again")
    assert new_messages[-1].source == "agent"
    assert app.get_conversation(conversation_id).execution_status == "finished"


def test_delete_conversation_removes_it(app: AppServerClient) -> None:
    tasks = list(app.stream_start_conversation(message="Short-lived"))
    assert tasks[-1].is_ready, [task.status for task in tasks]
    conversation_id = tasks[-1].app_conversation_id

    assert app.delete_conversation(conversation_id) is True

    assert app.get_conversations([conversation_id]) == [None]
    with pytest.raises(NotFoundError):
        app.delete_conversation(conversation_id)


# Users and authentication -------------------------------------------------------------------


def test_users_me_answers_for_the_key(app: AppServerClient, peer: AppServerPeer) -> None:
    user = app.get_user()

    # Stored LLM keys come back masked, never in clear.
    assert user.raw["agent_settings"]["llm"]["api_key"] in (None, "**********")
    assert peer.api_key not in json.dumps(user.raw)


@pytest.mark.parametrize("api_key", [None, "wrong-key"], ids=["no key", "wrong key"])
def test_requests_without_the_right_key_are_refused(
    peer: AppServerPeer, api_key: str | None
) -> None:
    with peer.client(api_key=api_key) as client:
        with pytest.raises(AuthenticationError) as refused:
            client.get_user()
        with pytest.raises(AuthenticationError):
            client.search_conversations()

    assert refused.value.status_code == 401
    assert peer.api_key not in str(refused.value)
