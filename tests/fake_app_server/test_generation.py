"""The seeded data generator: deterministic, lazy, and covering what the dashboard must show."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import httpx

from apps.fake_app_server.config import ScenarioParams
from apps.fake_app_server.data import generate_world, world_seed
from apps.fake_app_server.events import UNKNOWN_FUTURE_KIND, EventTimeline
from apps.fake_app_server.model import Run
from tests.peers.fake_fixtures import FakeAppServer

START = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
LATER = START + timedelta(days=30)


def all_events(world, now: datetime) -> list[dict]:
    events = []
    for conversation in world.conversations:
        timeline = EventTimeline(
            seed=world_seed(world.seed),
            conversation_id=conversation.id,
            llm_model=conversation.llm_model,
            runs=conversation.runs,
            now=now,
        )
        events += [timeline.build(ref) for ref in timeline.refs()]
    return events


def events_by_run(world, conversation, now: datetime) -> list[list[dict]]:
    timeline = EventTimeline(
        seed=world_seed(world.seed),
        conversation_id=conversation.id,
        llm_model=conversation.llm_model,
        runs=conversation.runs,
        now=now,
    )
    runs: list[list[dict]] = [[] for _ in conversation.runs]
    for ref in timeline.refs():
        runs[ref.run_index].append(timeline.build(ref))
    return runs


def fingerprint(world) -> str:
    conversations = [
        (item.id, item.title, item.sandbox_id, item.created_at.isoformat(), item.runs)
        for item in world.conversations
    ]
    sandboxes = [(item.id, item.status, item.created_at.isoformat()) for item in world.sandboxes]
    users = [(user.id, user.org_id) for user in world.users]
    return repr((conversations, sandboxes, users))


def test_the_same_seed_gives_the_same_world_and_events() -> None:
    for scenario in ("demo", "volume"):
        params = ScenarioParams(scenario=scenario, seed=7, conversations=50, sandboxes=5)
        first, second = (generate_world(params, START, user_count=2) for _ in range(2))
        assert fingerprint(first) == fingerprint(second)
        assert all_events(first, LATER) == all_events(second, LATER)
    other = generate_world(ScenarioParams(scenario="demo", seed=8), START, user_count=2)
    same = generate_world(ScenarioParams(scenario="demo", seed=7), START, user_count=2)
    assert {item.id for item in other.conversations}.isdisjoint(
        {item.id for item in same.conversations}
    )


def test_demo_covers_every_event_kind_the_dashboard_renders() -> None:
    world = generate_world(ScenarioParams(scenario="demo"), START, user_count=1)
    events = all_events(world, LATER)
    kinds = {event["kind"] for event in events}
    assert {
        "MessageEvent",
        "ActionEvent",
        "ObservationEvent",
        "AgentErrorEvent",
        "ConversationStateUpdateEvent",
        "SystemPromptEvent",
        "StreamingDeltaEvent",
        UNKNOWN_FUTURE_KIND,
    } <= kinds
    actions = {event["action"]["kind"] for event in events if event["kind"] == "ActionEvent"}
    assert {"TerminalAction", "FileEditorAction", "ThinkAction", "FinishAction"} <= actions
    observations = {
        event["observation"]["kind"] for event in events if event["kind"] == "ObservationEvent"
    }
    assert {"TerminalObservation", "FileEditorObservation"} <= observations
    state_keys = {
        event["key"] for event in events if event["kind"] == "ConversationStateUpdateEvent"
    }
    assert {"full_state", "execution_status", "stats", "last_user_message_id"} <= state_keys
    assert sum(event["kind"] == UNKNOWN_FUTURE_KIND for event in events) == 1
    sources = {event["source"] for event in events}
    assert {"user", "agent", "environment"} <= sources
    edits = [
        event
        for event in events
        if event["kind"] == "ObservationEvent"
        and event["observation"]["kind"] == "FileEditorObservation"
    ]
    assert all(
        edit["observation"]["old_content"] != edit["observation"]["new_content"] for edit in edits
    )


def test_every_run_follows_the_agent_server_sequence() -> None:
    world = generate_world(ScenarioParams(scenario="demo"), START, user_count=1)
    checked_runs = 0
    for conversation in world.conversations:
        for run_index, events in enumerate(events_by_run(world, conversation, LATER)):
            run = conversation.runs[run_index]
            opening = [(event["kind"], event["source"]) for event in events[:3]]
            if run.first:
                assert opening == [
                    ("ConversationStateUpdateEvent", "environment"),
                    ("SystemPromptEvent", "agent"),
                    ("MessageEvent", "user"),
                ]
                assert events[0]["key"] == "full_state"
                assert {"terminal", "file_editor", "finish"} <= {
                    tool["title"] for tool in events[1]["tools"]
                }
            else:
                assert opening[0] == ("MessageEvent", "user")
            if run.cut_at is None and len(events) == run.planned_count:
                final_status, snapshot = events[-2:]
                assert (final_status["key"], final_status["value"]) == (
                    "execution_status",
                    run.final_status,
                )
                assert snapshot["key"] == "full_state"
                assert snapshot["value"]["execution_status"] == run.final_status
                checked_runs += 1
    assert checked_runs >= 10


def test_streamed_chunks_spell_out_each_agent_reply() -> None:
    world = generate_world(ScenarioParams(scenario="demo"), START, user_count=1)
    events = all_events(world, LATER)
    replies = 0
    for position, event in enumerate(events):
        if event["kind"] != "MessageEvent" or event["source"] != "agent":
            continue
        stream_start = position
        while events[stream_start - 1]["kind"] == "StreamingDeltaEvent":
            stream_start -= 1
        chunks = [delta["content"] for delta in events[stream_start:position]]
        assert len(chunks) >= 4
        assert chunks[0] == ""
        assert "".join(chunks) == event["llm_message"]["content"][0]["text"]
        replies += 1
    assert replies >= 10


def test_streamed_chunks_are_searched_counted_and_zipped_alike(
    fake_app_server: FakeAppServer, api: httpx.Client
) -> None:
    fake_app_server.freeze_clock()
    conversation = api.get("/app-conversations/search", params={"limit": 1}).json()["items"][0]
    events_path = f"/conversation/{conversation['id']}/events"
    only_deltas = {"kind__eq": "StreamingDeltaEvent", "limit": 100}

    searched = api.get(f"{events_path}/search", params=only_deltas).json()["items"]
    counted = api.get(f"{events_path}/count", params={"kind__eq": "StreamingDeltaEvent"}).json()
    download = api.get(f"/app-conversations/{conversation['id']}/download")
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    zipped = [json.loads(archive.read(name)) for name in archive.namelist()[1:]]

    assert counted == len(searched) > 0
    assert [event for event in zipped if event["kind"] == "StreamingDeltaEvent"] == searched


def test_demo_contains_hostile_strings_to_escape() -> None:
    world = generate_world(ScenarioParams(scenario="demo"), START, user_count=1)
    titles = {conversation.title for conversation in world.conversations}
    assert "<script>alert(1)</script>" in titles
    dumped = json.dumps(all_events(world, LATER))
    assert "../\\\"quoted\\\" & 'odd' <name>.md" in dumped
    statuses = {sandbox.status for sandbox in world.sandboxes}
    assert {"RUNNING", "PAUSED", "MISSING"} <= statuses
    repositories = {conversation.selected_repository for conversation in world.conversations}
    assert len(repositories - {None}) >= 4


def test_events_are_generated_on_demand_not_stored() -> None:
    run = Run(
        started_at=START,
        planned_end=START + timedelta(days=1),
        planned_count=480_000,
        final_status="finished",
        message="soak",
        first=True,
    )
    timeline = EventTimeline(
        seed="s",
        conversation_id="c" * 32,
        llm_model=None,
        runs=[run],
        now=START + timedelta(hours=1),
    )
    # An hour into a day-long run, about 1/24 of the events exist: nothing was materialised.
    assert len(timeline) == 20_000
    ref = timeline.refs()[12_345]
    assert timeline.build(ref) == timeline.build(ref)


def test_a_reset_with_the_same_seed_and_start_serves_the_same_data(
    fake_app_server: FakeAppServer, api: httpx.Client
) -> None:
    settings = {"seed": 99, "start_time": "2026-08-20T12:00:00Z", "frozen_clock": True}
    payloads = []
    for _ in range(2):
        fake_app_server.reset(**settings)
        conversations = api.get("/app-conversations/search").json()
        sandboxes = api.get("/sandboxes/search").json()
        events = api.get(f"/conversation/{conversations['items'][0]['id']}/events/search").json()
        payloads.append((conversations, sandboxes, events))
    assert payloads[0] == payloads[1]
    assert payloads[0][0]["items"][0]["created_at"].startswith("2026-08-20T")
