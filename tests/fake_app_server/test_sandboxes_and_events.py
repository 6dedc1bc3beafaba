"""The fake's sandbox, sandbox-spec and event routes keep the App Server's quirks."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import httpx

from tests.peers.fake_fixtures import FakeAppServer

UUID_WITH_DASHES = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def sandboxes(api: httpx.Client) -> list[dict]:
    return api.get("/sandboxes/search").json()["items"]


def sandbox_with(api: httpx.Client, status: str) -> dict:
    return next(item for item in sandboxes(api) if item["status"] == status)


def conversation_titled(api: httpx.Client, title: str) -> dict:
    response = api.get("/app-conversations/search", params={"title__contains": title})
    return response.json()["items"][0]


# -- sandboxes -------------------------------------------------------------------------------


def test_sandbox_search_is_newest_first_with_live_fields_only_when_running(
    api: httpx.Client,
) -> None:
    items = sandboxes(api)
    assert [item["status"] for item in items] == ["RUNNING", "RUNNING", "PAUSED", "MISSING"]
    assert [item["created_at"] for item in items] == sorted(
        (item["created_at"] for item in items), reverse=True
    )
    for item in items:
        running = item["status"] == "RUNNING"
        assert (item["session_api_key"] is not None) is running
        assert (item["exposed_urls"] is not None) is running
    names = {url["name"]: url["port"] for url in items[0]["exposed_urls"]}
    assert names == {"AGENT_SERVER": 60000, "VSCODE": 60001, "WORKER_1": 12000, "WORKER_2": 12001}
    page = api.get("/sandboxes/search", params={"limit": 3}).json()
    assert page["next_page_id"] == "3"
    assert api.get("/sandboxes/search", params={"page_id": "3"}).json()["next_page_id"] is None


def test_sandbox_batch_get_takes_the_singular_id(api: httpx.Client) -> None:
    first, second = sandboxes(api)[:2]
    found = api.get("/sandboxes", params={"id": [second["id"], "nope", first["id"]]}).json()
    assert [item and item["id"] for item in found] == [second["id"], None, first["id"]]
    plural = api.get("/sandboxes", params={"ids": first["id"]})
    assert plural.status_code == 422
    assert plural.json()["detail"][0]["loc"] == ["query", "id"]
    assert api.get("/sandboxes", params={"id": ["x"] * 101}).status_code == 400


def test_sandbox_delete_needs_the_sandbox_id_query_parameter(api: httpx.Client) -> None:
    paused = sandbox_with(api, "PAUSED")
    response = api.delete(f"/sandboxes/{paused['id']}")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "missing",
                "loc": ["query", "sandbox_id"],
                "msg": "Field required",
                "input": None,
            }
        ]
    }
    # The path segment is ignored: only the query parameter counts.
    deleted = api.delete("/sandboxes/anything", params={"sandbox_id": paused["id"]})
    assert deleted.json() == {"success": True}
    assert api.get("/sandboxes", params={"id": paused["id"]}).json() == [None]
    orphan = conversation_titled(api, "Write a README")
    assert orphan["sandbox_status"] == "MISSING"
    assert api.delete("/sandboxes/x", params={"sandbox_id": paused["id"]}).status_code == 404


def test_pause_and_resume_rotate_the_session_key(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.freeze_clock()
    running = sandbox_with(api, "RUNNING")
    assert api.post(f"/sandboxes/{running['id']}/pause").json() == {"success": True}
    [paused] = api.get("/sandboxes", params={"id": running["id"]}).json()
    assert (paused["status"], paused["session_api_key"], paused["exposed_urls"]) == (
        "PAUSED",
        None,
        None,
    )
    assert api.post(f"/sandboxes/{running['id']}/resume").json() == {"success": True}
    [starting] = api.get("/sandboxes", params={"id": running["id"]}).json()
    assert (starting["status"], starting["session_api_key"]) == ("STARTING", None)
    fake_app_server.advance_clock(5)
    [resumed] = api.get("/sandboxes", params={"id": running["id"]}).json()
    assert resumed["status"] == "RUNNING"
    assert resumed["session_api_key"] not in (None, running["session_api_key"])
    assert resumed["session_api_key"] in resumed["exposed_urls"][1]["url"]


def test_pause_and_resume_answer_404_for_unknown_or_missing_sandboxes(api: httpx.Client) -> None:
    missing = sandbox_with(api, "MISSING")
    for action in ("pause", "resume"):
        assert api.post(f"/sandboxes/no-such-sandbox/{action}").status_code == 404
        assert api.post(f"/sandboxes/{missing['id']}/{action}").status_code == 404


def test_start_sandbox_takes_a_spec_id_query_parameter(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    spec_id = api.get("/sandbox-specs/search").json()["items"][1]["id"]
    started = api.post("/sandboxes", params={"sandbox_spec_id": spec_id}).json()
    assert (started["status"], started["sandbox_spec_id"]) == ("STARTING", spec_id)
    assert sandboxes(api)[0]["id"] == started["id"]
    fake_app_server.advance_clock(5)
    [ready] = api.get("/sandboxes", params={"id": started["id"]}).json()
    assert ready["status"] == "RUNNING"
    assert api.post("/sandboxes", params={"sandbox_spec_id": "nope:latest"}).status_code == 500


def test_sandbox_specs_search_and_batch(api: httpx.Client) -> None:
    specs = api.get("/sandbox-specs/search").json()
    assert specs["next_page_id"] is None
    ids = [spec["id"] for spec in specs["items"]]
    assert all("/openhands/agent-server:" in spec_id for spec_id in ids)
    found = api.get("/sandbox-specs", params={"id": [ids[2], "nope"]}).json()
    assert [spec and spec["id"] for spec in found] == [ids[2], None]


# -- events ----------------------------------------------------------------------------------


def test_event_search_pages_by_offset_and_sorts_by_timestamp(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.freeze_clock()
    conversation = conversation_titled(api, "Add pagination")
    path = f"/conversation/{conversation['id']}/events"
    assert api.get(f"{path}/count").json() == 130
    first = api.get(f"{path}/search").json()
    assert (len(first["items"]), first["next_page_id"]) == (100, "100")
    second = api.get(f"{path}/search", params={"page_id": first["next_page_id"]}).json()
    assert (len(second["items"]), second["next_page_id"]) == (30, None)
    events = first["items"] + second["items"]
    timestamps = [event["timestamp"] for event in events]
    assert timestamps == sorted(timestamps)
    newest_first = api.get(f"{path}/search", params={"sort_order": "TIMESTAMP_DESC"}).json()
    assert [event["id"] for event in newest_first["items"]] == [
        event["id"] for event in reversed(events)
    ][:100]
    assert all(UUID_WITH_DASHES.match(event["id"]) for event in events)
    # Naive ISO timestamps: no offset, no Z.
    assert all(datetime.fromisoformat(stamp).tzinfo is None for stamp in timestamps)


def test_event_filters_compare_timestamps_as_strings(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.freeze_clock()
    conversation = conversation_titled(api, "Add pagination")
    path = f"/conversation/{conversation['id']}/events"
    events = api.get(f"{path}/search").json()["items"]
    pivot = events[40]["timestamp"]
    later = api.get(f"{path}/count", params={"timestamp__gte": pivot}).json()
    earlier = api.get(f"{path}/count", params={"timestamp__lt": pivot}).json()
    assert (earlier, later) == (40, 90)
    # "Z" is accepted and dropped; an offset is dropped without converting (upstream's quirk).
    assert api.get(f"{path}/count", params={"timestamp__gte": pivot + "Z"}).json() == 90
    shifted = api.get(f"{path}/count", params={"timestamp__gte": pivot + "+05:00"}).json()
    assert shifted == 90
    actions = api.get(f"{path}/search", params={"kind__eq": "ActionEvent"}).json()["items"]
    assert actions
    assert {event["kind"] for event in actions} == {"ActionEvent"}
    assert api.get(f"{path}/count", params={"kind__eq": "ActionEvent"}).json() == len(actions)


def test_event_parameter_validation(api: httpx.Client) -> None:
    conversation = conversation_titled(api, "Add pagination")
    path = f"/conversation/{conversation['id']}/events"
    assert api.get(f"{path}/search", params={"limit": 101}).status_code == 422
    assert api.get(f"{path}/search", params={"kind__eq": "Bogus"}).status_code == 422
    assert api.get(f"{path}/search", params={"sort_order": "NEWEST"}).status_code == 422
    assert api.get(f"{path}/search", params={"timestamp__gte": "noon"}).status_code == 422
    # The events service int()s the page id without a guard.
    assert api.get(f"{path}/search", params={"page_id": "abc"}).status_code == 500


def test_events_of_unknown_conversations_are_empty_not_404(api: httpx.Client) -> None:
    path = f"/conversation/{uuid.uuid4().hex}/events"
    assert api.get(f"{path}/search").json() == {"items": [], "next_page_id": None}
    assert api.get(f"{path}/count").json() == 0
    assert api.get("/conversation/not-a-uuid/events/search").status_code == 500
    # The plural path does not exist.
    assert api.get(f"/conversations/{uuid.uuid4().hex}/events/search").status_code == 404


def test_event_batch_get_takes_the_singular_id(api: httpx.Client) -> None:
    conversation = conversation_titled(api, "Add pagination")
    path = f"/conversation/{conversation['id']}/events"
    events = api.get(f"{path}/search", params={"limit": 3}).json()["items"]
    wanted = [events[2]["id"], str(uuid.uuid4()), events[0]["id"]]
    found = api.get(path, params={"id": wanted}).json()
    assert found == [events[2], None, events[0]]
    assert api.get(path, params={"id": ["x"] * 101}).status_code == 400


def test_actions_and_observations_are_paired(api: httpx.Client) -> None:
    conversation = conversation_titled(api, "Add pagination")
    events = api.get(f"/conversation/{conversation['id']}/events/search").json()["items"]
    by_id = {event["id"]: event for event in events}
    observations = [event for event in events if event["kind"] == "ObservationEvent"]
    assert observations
    for observation in observations:
        action = by_id[observation["action_id"]]
        assert action["kind"] == "ActionEvent"
        assert action["tool_call_id"] == observation["tool_call_id"]
