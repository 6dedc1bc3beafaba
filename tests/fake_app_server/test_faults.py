"""Every fault kind of the fake, driven through its control API."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.peers.fake_fixtures import FakeAppServer, FakeControlError
from tests.processes import wait_for

SEARCH = "/app-conversations/search"


def test_status_fault_fires_the_requested_number_of_times(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    rule = fake_app_server.inject_fault(
        fault="status",
        path_regex="/app-conversations/search$",
        method="GET",
        status=503,
        times=2,
    )
    statuses = [api.get(SEARCH).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert api.post("/app-conversations", json={}).status_code == 200
    [listed] = fake_app_server.call("GET", "/faults")
    assert (listed["id"], listed["fired"], listed["matched"]) == (rule["id"], 2, 2)


def test_status_fault_can_skip_requests_and_carry_headers(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.inject_fault(
        fault="status",
        path_regex="search",
        status=429,
        skip=1,
        times=1,
        body={"error": "Rate limit exceeded: injected"},
        headers={"Retry-After": "7"},
    )
    assert api.get(SEARCH).status_code == 200
    limited = api.get(SEARCH)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    assert limited.json() == {"error": "Rate limit exceeded: injected"}
    assert api.get(SEARCH).status_code == 200


def test_reset_fault_closes_the_connection_without_an_answer(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.inject_fault(fault="reset", path_regex="search", times=1)
    with pytest.raises(httpx.TransportError):
        api.get(SEARCH)
    assert api.get(SEARCH).status_code == 200


def test_slow_fault_delays_a_normal_answer(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.inject_fault(fault="slow", path_regex="search", delay=0.6, times=1)
    started = time.monotonic()
    response = api.get(SEARCH)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.6
    fake_app_server.inject_fault(fault="slow", path_regex="count", delay=30, times=1)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/app-conversations/count", timeout=0.3)
    # The server notices the client hung up and drops the request instead of sleeping on.
    wait_for(
        lambda: "abandoned" in fake_app_server.stats()["by_status"],
        timeout=5,
        what="the fake to abandon the timed-out request",
    )


def test_truncate_fault_cuts_a_json_body_short(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.inject_fault(fault="truncate", path_regex="search", fraction=0.5, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.get(SEARCH)
    assert api.get(SEARCH).status_code == 200


def test_truncate_fault_cuts_a_streamed_zip_short(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    conversation_id = api.get(SEARCH, params={"limit": 1}).json()["items"][0]["id"]
    fake_app_server.inject_fault(fault="truncate", path_regex="/download$", fraction=0.3)
    received = bytearray()
    announced: list[int] = []

    def read_download() -> None:
        with api.stream("GET", f"/app-conversations/{conversation_id}/download") as response:
            announced.append(int(response.headers["Content-Length"]))
            for chunk in response.iter_raw():
                received.extend(chunk)

    with pytest.raises(httpx.RemoteProtocolError):
        read_download()
    assert 0 < len(received) < announced[0]


def test_malformed_json_and_html_faults_answer_200(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.inject_fault(fault="malformed_json", path_regex="search", times=1)
    broken = api.get(SEARCH)
    assert (broken.status_code, broken.headers["content-type"]) == (200, "application/json")
    with pytest.raises(ValueError, match="Unterminated"):
        broken.json()
    fake_app_server.inject_fault(fault="html200", path_regex="search", times=1)
    page = api.get(SEARCH)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("mutation", "check"),
    [
        ("drop_id", lambda record: isinstance(record, dict) and "id" not in record),
        ("null", lambda record: record is None),
        ("not_object", lambda record: isinstance(record, str)),
        ("wrong_types", lambda record: isinstance(record["created_at"], int)),
    ],
)
def test_malformed_record_fault_damages_one_item_of_a_valid_page(
    api: httpx.Client, fake_app_server: FakeAppServer, mutation: str, check
) -> None:
    fake_app_server.inject_fault(
        fault="malformed_record", path_regex="search", record_index=1, mutation=mutation, times=1
    )
    page = api.get(SEARCH).json()
    assert check(page["items"][1])
    assert "id" in page["items"][0]
    assert "id" in page["items"][2]


def test_malformed_record_fault_applies_to_batch_lists(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    sandbox_id = api.get("/sandboxes/search").json()["items"][0]["id"]
    fake_app_server.inject_fault(fault="malformed_record", path_regex="^/api/v1/sandboxes$")
    [record] = api.get("/sandboxes", params={"id": sandbox_id}).json()
    assert "id" not in record
    assert record["status"] == "RUNNING"


def test_fault_rules_are_validated_listed_and_removed(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    with pytest.raises(FakeControlError, match="fault must be one of"):
        fake_app_server.inject_fault(fault="explode")
    with pytest.raises(FakeControlError, match="path_regex does not compile"):
        fake_app_server.inject_fault(fault="status", path_regex="(")
    with pytest.raises(FakeControlError, match="unknown field"):
        fake_app_server.inject_fault(fault="status", colour="red")
    rule = fake_app_server.inject_fault(fault="status", path_regex="search")
    # Control routes are never faulted.
    assert fake_app_server.state()["scenario"] == "demo"
    assert api.get(SEARCH).status_code == 503
    fake_app_server.call("DELETE", f"/faults/{rule['id']}")
    assert api.get(SEARCH).status_code == 200
    fake_app_server.inject_fault(fault="status", path_regex=".*")
    fake_app_server.clear_faults()
    assert api.get(SEARCH).status_code == 200


def test_stats_count_requests_per_route_key_and_status(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    user_id = api.get("/users/me").json()["id"]
    fake_app_server.clear_stats()
    fake_app_server.inject_fault(fault="status", path_regex="count", times=1)
    api.get(SEARCH)
    api.get(SEARCH)
    api.get("/app-conversations/count")
    httpx.get(f"{fake_app_server.api_url}/users/me")
    stats = fake_app_server.stats()
    assert stats["by_route"]["GET /api/v1/app-conversations/search"] == 2
    assert stats["by_route"]["GET /api/v1/app-conversations/count"] == 1
    assert stats["by_key"] == {user_id: 3, "unauthenticated": 1}
    assert stats["by_status"] == {"200": 2, "503": 1, "401": 1}
    assert stats["total"] == 4
    fake_app_server.clear_stats()
    assert fake_app_server.stats()["total"] == 0
