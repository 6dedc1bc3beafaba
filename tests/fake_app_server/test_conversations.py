"""The fake's app-conversation and start-task routes keep the App Server's quirks."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from tests.peers.fake_fixtures import FakeAppServer

HEX32 = re.compile(r"^[0-9a-f]{32}$")
DEMO_TOP_LEVEL = 11
DEMO_WITH_SUBS = 12


def search(api: httpx.Client, **params: object) -> dict:
    response = api.get("/app-conversations/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def by_title(api: httpx.Client, title: str) -> dict:
    items = search(api, include_sub_conversations=True)["items"]
    return next(item for item in items if item["title"] == title)


def test_search_is_newest_first_whatever_sort_order_says(api: httpx.Client) -> None:
    default = search(api)["items"]
    created = [item["created_at"] for item in default]
    assert created == sorted(created, reverse=True)
    for sort_order in ("CREATED_AT", "UPDATED_AT", "TITLE"):
        asked = search(api, sort_order=sort_order)["items"]
        assert [item["id"] for item in asked] == [item["id"] for item in default]


def test_pages_are_stringified_offsets_ending_with_null(api: httpx.Client) -> None:
    everything = [item["id"] for item in search(api)["items"]]
    collected, page_id, next_ids = [], None, []
    while True:
        params = {"limit": 5} | ({"page_id": page_id} if page_id else {})
        page = search(api, **params)
        collected += [item["id"] for item in page["items"]]
        next_ids.append(page["next_page_id"])
        page_id = page["next_page_id"]
        if page_id is None:
            break
    assert next_ids == ["5", "10", None]
    assert collected == everything


def test_a_page_id_that_is_not_a_number_restarts_at_the_beginning(api: httpx.Client) -> None:
    assert search(api, page_id="garbage", limit=3) == search(api, limit=3)


@pytest.mark.parametrize(
    ("limit", "error_type"),
    [("0", "greater_than"), ("101", "less_than_equal"), ("ten", "int_parsing")],
)
def test_limit_outside_1_to_100_is_a_fastapi_422(
    api: httpx.Client, limit: str, error_type: str
) -> None:
    response = api.get("/app-conversations/search", params={"limit": limit})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "limit"]
    assert error["type"] == error_type


def test_search_hides_sub_conversations_but_count_includes_them(api: httpx.Client) -> None:
    assert len(search(api)["items"]) == DEMO_TOP_LEVEL
    with_subs = search(api, include_sub_conversations=True)["items"]
    assert len(with_subs) == DEMO_WITH_SUBS
    assert api.get("/app-conversations/count").json() == DEMO_WITH_SUBS
    [sub] = [item for item in with_subs if item["parent_conversation_id"]]
    parent = next(item for item in with_subs if item["id"] == sub["parent_conversation_id"])
    assert parent["sub_conversation_ids"] == [sub["id"]]


def test_title_filter_is_a_case_sensitive_sql_like(api: httpx.Client) -> None:
    def titles(fragment: str, **extra: object) -> list[str]:
        return [item["title"] for item in search(api, title__contains=fragment, **extra)["items"]]

    assert titles("pagination") == ["Add pagination to the /orders endpoint"]
    assert len(titles("pagination", include_sub_conversations=True)) == 2
    assert titles("Pagination") == []
    assert titles("Upgrade_Django") == ["Upgrade Django to 5.2 and fix deprecations"]
    assert titles("<script>") == ["<script>alert(1)</script>"]
    assert api.get("/app-conversations/count", params={"title__contains": "pagination"}).json() == 2


def test_created_and_updated_filters_split_the_list(api: httpx.Client) -> None:
    items = search(api)["items"]
    middle = items[len(items) // 2]["created_at"]
    newer = search(api, created_at__gte=middle)["items"]
    older = search(api, created_at__lt=middle)["items"]
    assert [item["id"] for item in newer + older] == [item["id"] for item in items]
    assert all(item["created_at"] >= middle for item in newer)
    latest_update = max(item["updated_at"] for item in items)
    recent = search(api, updated_at__gte=latest_update)["items"]
    assert [item["updated_at"] for item in recent] == [latest_update]
    assert len(search(api, updated_at__lt=latest_update)["items"]) == len(items) - 1
    response = api.get("/app-conversations/search", params={"created_at__gte": "yesterday"})
    assert response.status_code == 422


def test_sandbox_filter_returns_that_sandbox_s_conversations(api: httpx.Client) -> None:
    items = search(api, include_sub_conversations=True)["items"]
    sandbox_id = items[0]["sandbox_id"]
    expected = [item["id"] for item in items if item["sandbox_id"] == sandbox_id]
    found = search(api, sandbox_id__eq=sandbox_id, include_sub_conversations=True)["items"]
    assert [item["id"] for item in found] == expected
    assert len(expected) > 1


def test_batch_get_is_aligned_with_the_ids_and_has_nulls(api: httpx.Client) -> None:
    first, second = search(api, limit=2)["items"]
    unknown = uuid.uuid4().hex
    dashed = str(uuid.UUID(second["id"]))
    response = api.get("/app-conversations", params={"ids": [first["id"], unknown, dashed]})
    assert response.status_code == 200
    found = response.json()
    assert [item and item["id"] for item in found] == [first["id"], None, second["id"]]


def test_batch_get_refuses_more_than_99_ids(api: httpx.Client) -> None:
    ids = [uuid.uuid4().hex for _ in range(100)]
    response = api.get("/app-conversations", params={"ids": ids})
    assert response.status_code == 400
    assert response.json() == {"detail": "Too many ids requested. Maximum is 99."}
    assert api.get("/app-conversations", params={"ids": ids[:99]}).json() == [None] * 99
    assert api.get("/app-conversations", params={"ids": "not-a-uuid"}).status_code == 400
    assert api.get("/app-conversations").status_code == 422


def test_live_fields_are_null_unless_the_sandbox_runs(api: httpx.Client) -> None:
    items = search(api, include_sub_conversations=True)["items"]
    statuses = {item["sandbox_status"] for item in items}
    assert statuses == {"RUNNING", "PAUSED", "MISSING"}
    for item in items:
        live = (item["execution_status"], item["conversation_url"], item["session_api_key"])
        if item["sandbox_status"] == "RUNNING":
            assert all(value is not None for value in live), item["title"]
            assert item["execution_status"] == item["execution_status"].lower()
        else:
            assert live == (None, None, None), item["title"]


def test_ids_and_times_have_the_upstream_formats(api: httpx.Client) -> None:
    item = search(api, limit=1)["items"][0]
    assert HEX32.match(item["id"])
    assert re.match(r"^[0-9A-Za-z]{22}$", item["sandbox_id"])
    assert item["created_at"].endswith("Z")
    assert item["updated_at"].endswith("Z")


def test_start_task_moves_to_ready_and_creates_the_conversation(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.freeze_clock()
    body = {
        "initial_message": {
            "role": "user",
            "content": [{"type": "text", "text": "Fix the bug\nin the parser"}],
            "run": True,
        },
        "selected_repository": "acme-corp/storefront",
        "secrets": {"TOKEN": "never echoed"},
    }
    task = api.post("/app-conversations", json=body).json()
    assert task["status"] == "WORKING"
    assert HEX32.match(task["id"])
    assert task["request"]["secrets"] is None
    seen = [task["status"]]
    for _ in range(10):
        [task] = api.get("/app-conversations/start-tasks", params={"ids": task["id"]}).json()
        seen.append(task["status"])
        if task["status"] == "READY":
            break
    assert seen == [
        "WORKING",
        "WAITING_FOR_SANDBOX",
        "PREPARING_REPOSITORY",
        "RUNNING_SETUP_SCRIPT",
        "SETTING_UP_GIT_HOOKS",
        "SETTING_UP_SKILLS",
        "STARTING_CONVERSATION",
        "READY",
    ]
    assert task["agent_server_url"].startswith(fake_app_server.base_url)
    [conversation] = api.get(
        "/app-conversations", params={"ids": task["app_conversation_id"]}
    ).json()
    assert conversation["title"] == f"Conversation {conversation['id'][:5]}"
    assert conversation["sandbox_id"] == task["sandbox_id"]
    assert conversation["sandbox_status"] == "RUNNING"
    assert conversation["execution_status"] == "running"
    assert conversation["selected_repository"] == "acme-corp/storefront"
    fake_app_server.advance_clock(5)
    [titled] = api.get("/app-conversations", params={"ids": conversation["id"]}).json()
    assert titled["title"] == "Fix the bug"
    assert titled["updated_at"] > conversation["updated_at"]
    found = api.get(
        "/app-conversations/start-tasks/search", params={"conversation_id__eq": conversation["id"]}
    ).json()
    assert [item["id"] for item in found["items"]] == [task["id"]]
    assert api.get("/app-conversations/start-tasks/count").json() == 1


def test_a_failing_start_ends_in_error_with_a_detail(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.mutate("fail_next_start", detail="No capacity in eu-west")
    task = api.post("/app-conversations", json={}).json()
    for _ in range(3):
        [task] = api.get("/app-conversations/start-tasks", params={"ids": task["id"]}).json()
    assert (task["status"], task["detail"]) == ("ERROR", "No capacity in eu-west")
    assert task["app_conversation_id"] is None


def test_start_request_with_wrong_types_is_a_422(api: httpx.Client) -> None:
    response = api.post("/app-conversations", json={"pr_number": ["12"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "pr_number"]
    assert api.post("/app-conversations", content=b"{not json").status_code == 422


def test_stream_start_writes_a_json_array_incrementally(api: httpx.Client) -> None:
    chunks = []
    body = {"initial_message": {"content": [{"type": "text", "text": "hi"}], "run": True}}
    with api.stream("POST", "/app-conversations/stream-start", json=body) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        chunks = list(response.iter_raw())
    tasks = json.loads(b"".join(chunks))
    assert len(chunks) >= 3
    assert tasks[0]["status"] == "WORKING"
    assert tasks[-1]["status"] == "READY"
    assert len({task["id"] for task in tasks}) == 1


def test_patch_changes_only_the_fields_sent(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.freeze_clock()
    before = by_title(api, "Write a README for the deploy CLI")
    fake_app_server.advance_clock(1)
    response = api.patch(f"/app-conversations/{before['id']}", json={"title": "Deploy CLI docs"})
    assert response.status_code == 200
    after = response.json()
    assert after["title"] == "Deploy CLI docs"
    assert after["selected_repository"] == before["selected_repository"]
    assert after["updated_at"] > before["updated_at"]
    cleared = api.patch(f"/app-conversations/{before['id']}", json={"public": None}).json()
    assert cleared["title"] == "Deploy CLI docs"
    unknown = api.patch(f"/app-conversations/{uuid.uuid4().hex}", json={"title": "x"})
    assert unknown.status_code == 404


def test_delete_removes_the_conversation_and_its_sub_conversations(api: httpx.Client) -> None:
    parent = by_title(api, "Add pagination to the /orders endpoint")
    response = api.delete(f"/app-conversations/{parent['id']}")
    assert response.json() == {"success": True}
    ids = [parent["id"], *parent["sub_conversation_ids"]]
    assert api.get("/app-conversations", params={"ids": ids}).json() == [None, None]
    assert api.get("/app-conversations/count").json() == DEMO_WITH_SUBS - 2
    assert api.delete(f"/app-conversations/{parent['id']}").status_code == 404
    assert api.delete("/app-conversations/not-a-uuid").status_code == 400


def test_send_message_needs_a_running_sandbox(api: httpx.Client) -> None:
    message = {"content": [{"type": "text", "text": "Also update the changelog."}]}
    running = by_title(api, "Add pagination to the /orders endpoint")
    before = api.get(f"/conversation/{running['id']}/events/count").json()
    response = api.post(f"/app-conversations/{running['id']}/send-message", json=message)
    assert response.json() == {"success": True, "sandbox_status": "RUNNING", "message": None}
    assert api.get(f"/conversation/{running['id']}/events/count").json() == before + 1
    paused = by_title(api, "Write a README for the deploy CLI")
    missing = by_title(api, "Translate the onboarding docs to German")
    assert (
        api.post(f"/app-conversations/{paused['id']}/send-message", json=message).status_code == 409
    )
    assert (
        api.post(f"/app-conversations/{missing['id']}/send-message", json=message).status_code
        == 410
    )
    empty = api.post(f"/app-conversations/{running['id']}/send-message", json={"content": []})
    assert empty.status_code == 422


def test_agent_server_proxies_depend_on_the_sandbox(api: httpx.Client) -> None:
    running = by_title(api, "<script>alert(1)</script>")
    paused = by_title(api, "Write a README for the deploy CLI")
    base, paused_base = f"/app-conversations/{running['id']}", f"/app-conversations/{paused['id']}"
    assert api.get(f"{base}/skills").json()["skills"]
    assert api.get(f"{paused_base}/skills").json() == {"skills": []}
    assert api.get(f"{base}/hooks").json()["hooks"][0]["event_type"] == "PostToolUse"
    assert api.get(f"{paused_base}/hooks").json() == {"hooks": []}
    changes = api.get(f"{base}/git/changes", params={"path": "/workspace/project"}).json()
    assert {"status": "ADDED", "path": "../\"quoted\" & 'odd' <name>.md"} in changes
    assert (
        api.get(f"{paused_base}/git/changes", params={"path": "/workspace/project"}).status_code
        == 409
    )
    assert api.get(f"{base}/git/changes").status_code == 422
    diff = api.get(f"{base}/git/diff", params={"path": "/workspace/project/README.md"}).json()
    assert set(diff) == {"modified", "original"}
    assert api.get(f"{base}/file").json().startswith("# Plan")
    assert api.get(f"{paused_base}/file").json() == ""
    assert api.get(f"/app-conversations/{uuid.uuid4().hex}/skills").json() == {
        "error": "Conversation not found"
    }


def test_unknown_paths_and_methods(api: httpx.Client) -> None:
    conversation_id = search(api, limit=1)["items"][0]["id"]
    response = api.get(f"/app-conversations/{conversation_id}")
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})
    assert api.get("/no-such-route").json() == {"detail": "Not Found"}


def test_users_me_describes_the_key_s_user(api: httpx.Client) -> None:
    user = api.get("/users/me").json()
    assert {"id", "email", "org_id", "org_name", "role"} <= set(user)
    assert user["email"] == "ada@acme.example"
