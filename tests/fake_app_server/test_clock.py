"""Time passes in the fake: conversations finish, sandboxes pause, conversations come and go."""

from __future__ import annotations

import httpx
import pytest

from tests.peers.fake_fixtures import FakeAppServer, FakeControlError

MINUTE = 60


def conversation(api: httpx.Client, conversation_id: str) -> dict:
    [item] = api.get("/app-conversations", params={"ids": conversation_id}).json()
    return item


def sandbox(api: httpx.Client, sandbox_id: str) -> dict:
    [item] = api.get("/sandboxes", params={"id": sandbox_id}).json()
    return item


def titled(api: httpx.Client, title: str) -> dict:
    response = api.get("/app-conversations/search", params={"title__contains": title})
    return response.json()["items"][0]


@pytest.fixture
def frozen(fake_app_server: FakeAppServer) -> FakeAppServer:
    """Return the fake with a clock that only moves when told to (no spawns or deletions)."""
    fake_app_server.reset(frozen_clock=True, new_conversation_every=0, delete_conversation_every=0)
    return fake_app_server


def test_a_running_conversation_finishes_as_time_passes(
    api: httpx.Client, frozen: FakeAppServer
) -> None:
    before = titled(api, "Fix flaky checkout test")
    assert before["execution_status"] == "running"
    events_path = f"/conversation/{before['id']}/events"
    count_before = api.get(f"{events_path}/count").json()
    frozen.advance_clock(5 * MINUTE)
    after = conversation(api, before["id"])
    assert after["execution_status"] == "finished"
    assert after["updated_at"] > before["updated_at"]
    assert after["metrics"]["accumulated_cost"] > before["metrics"]["accumulated_cost"]
    assert api.get(f"{events_path}/count").json() == 40 > count_before
    last = api.get(f"{events_path}/search", params={"sort_order": "TIMESTAMP_DESC", "limit": 2})
    snapshot, final_status = last.json()["items"]
    # Like the agent server: the final status, then a full snapshot that agrees with it.
    assert (final_status["key"], final_status["value"]) == ("execution_status", "finished")
    assert (snapshot["key"], snapshot["value"]["execution_status"]) == ("full_state", "finished")


def test_an_idle_running_sandbox_pauses_and_its_conversations_lose_live_fields(
    api: httpx.Client, frozen: FakeAppServer
) -> None:
    work = titled(api, "Fix flaky checkout test")
    sandbox_id = work["sandbox_id"]
    # The conversation ends 4 minutes in; the sandbox pauses after 10 idle minutes.
    frozen.advance_clock(13 * MINUTE)
    assert sandbox(api, sandbox_id)["status"] == "RUNNING"
    frozen.advance_clock(2 * MINUTE)
    paused = sandbox(api, sandbox_id)
    assert (paused["status"], paused["session_api_key"], paused["exposed_urls"]) == (
        "PAUSED",
        None,
        None,
    )
    after = conversation(api, work["id"])
    assert after["sandbox_status"] == "PAUSED"
    assert (after["execution_status"], after["conversation_url"]) == (None, None)
    # Pausing is not conversation activity: updated_at stays where the last event put it.
    frozen.advance_clock(MINUTE)
    assert conversation(api, work["id"])["updated_at"] == after["updated_at"]


def test_pausing_a_working_sandbox_stops_its_conversation(
    api: httpx.Client, frozen: FakeAppServer
) -> None:
    work = titled(api, "Debug CI timeout")
    api.post(f"/sandboxes/{work['sandbox_id']}/pause")
    count = api.get(f"/conversation/{work['id']}/events/count").json()
    frozen.advance_clock(60 * MINUTE)
    assert api.get(f"/conversation/{work['id']}/events/count").json() == count
    api.post(f"/sandboxes/{work['sandbox_id']}/resume")
    frozen.advance_clock(5)
    assert conversation(api, work["id"])["execution_status"] == "paused"


def test_new_conversations_appear_and_old_ones_vanish_upstream(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.reset(
        frozen_clock=True, new_conversation_every=60, delete_conversation_every=100
    )
    before = {
        item["id"]
        for item in api.get(
            "/app-conversations/search", params={"include_sub_conversations": True}
        ).json()["items"]
    }
    fake_app_server.advance_clock(250)
    after = {
        item["id"]
        for item in api.get(
            "/app-conversations/search", params={"include_sub_conversations": True}
        ).json()["items"]
    }
    state = fake_app_server.state()
    deleted = set(state["deleted_conversation_ids"])
    # Two users share the pace: 4 spawns alternate between them, 2 deletions hit either.
    own_new = after - before
    assert len(own_new) == 2
    assert len(deleted) >= 2
    assert before - after <= deleted
    newest = conversation(api, sorted(own_new)[0])
    assert newest["execution_status"] == "running"


def test_touching_a_conversation_moves_updated_at(api: httpx.Client, frozen: FakeAppServer) -> None:
    old = titled(api, "Bump dependencies")
    frozen.advance_clock(30)
    touched = frozen.mutate("touch_conversation", conversation_id=old["id"], title="Bumped")
    assert touched["conversation"]["title"] == "Bumped"
    cursor = touched["conversation"]["updated_at"]
    found = api.get("/app-conversations/search", params={"updated_at__gte": cursor}).json()
    assert [item["id"] for item in found["items"]] == [old["id"]]


def test_a_frozen_clock_stands_still_and_never_goes_back(frozen: FakeAppServer) -> None:
    first = frozen.call("GET", "/clock")
    assert first["frozen"] is True
    assert frozen.call("GET", "/clock")["now"] == first["now"]
    assert frozen.advance_clock(90) > first["now"]
    with pytest.raises(FakeControlError, match="only moves forward"):
        frozen.advance_clock(-1)


def test_mutations_change_the_world_and_report_errors(
    api: httpx.Client, frozen: FakeAppServer
) -> None:
    added = frozen.mutate("add_conversations", count=2)["conversation_ids"]
    assert [item["execution_status"] for item in (conversation(api, i) for i in added)] == [
        "running",
        "running",
    ]
    stopped = frozen.mutate("finish_conversation", conversation_id=added[0], status="error")
    assert stopped["conversation"]["execution_status"] == "error"
    grown = frozen.mutate("append_events", conversation_id=added[0], count=500)
    assert api.get(f"/conversation/{added[0]}/events/count").json() == grown["event_count"]
    missing = frozen.mutate(
        "set_sandbox_status", sandbox_id=conversation(api, added[1])["sandbox_id"], status="MISSING"
    )
    assert missing["sandbox"]["status"] == "MISSING"
    assert frozen.mutate("delete_conversation", conversation_id=added[1])["deleted"] == [added[1]]
    with pytest.raises(FakeControlError, match="action"):
        frozen.mutate("explode")
    with pytest.raises(FakeControlError, match="no such conversation"):
        frozen.mutate("touch_conversation", conversation_id="0" * 32)
