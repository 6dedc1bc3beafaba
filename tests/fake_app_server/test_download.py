"""The trajectory zip: layout, integrity, streaming, size limit, and the volume scenario."""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import zipfile
from pathlib import Path

import httpx

from tests.peers.fake_fixtures import FakeAppServer

EVENT_FILE = re.compile(r"^event_(\d{6})_([0-9a-f-]{36})\.json$")


def download(api: httpx.Client, conversation_id: str) -> httpx.Response:
    response = api.get(f"/app-conversations/{conversation_id}/download")
    assert response.status_code == 200, response.text
    return response


def test_zip_has_meta_json_then_one_file_per_event(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.freeze_clock()
    conversation = api.get("/app-conversations/search", params={"limit": 3}).json()["items"][2]
    response = download(api, conversation["id"])
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["transfer-encoding"] == "chunked"
    dashed = re.escape(str(__import__("uuid").UUID(conversation["id"])))
    assert re.fullmatch(
        rf'attachment; filename="conversation_{dashed}\.zip"',
        response.headers["content-disposition"],
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None  # every CRC checks out
    names = archive.namelist()
    assert names[0] == "meta.json"
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
    meta = json.loads(archive.read("meta.json"))
    assert meta["id"] == conversation["id"]
    assert meta["title"] == conversation["title"]
    assert not {"sandbox_status", "execution_status", "session_api_key"} & set(meta)
    events_path = f"/conversation/{conversation['id']}/events"
    count = api.get(f"{events_path}/count").json()
    assert len(names) - 1 == count
    searched = api.get(f"{events_path}/search").json()["items"]
    for index, (name, event) in enumerate(zip(names[1:], searched, strict=False)):
        match = EVENT_FILE.match(name)
        assert match is not None, name
        assert (int(match.group(1)), match.group(2)) == (index, event["id"])
        assert json.loads(archive.read(name)) == event


def test_the_same_conversation_at_the_same_time_gives_the_same_bytes(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.freeze_clock()
    conversation_id = api.get("/app-conversations/search").json()["items"][-1]["id"]
    first = hashlib.sha256(download(api, conversation_id).content).hexdigest()
    second = hashlib.sha256(download(api, conversation_id).content).hexdigest()
    assert first == second


def test_unknown_conversation_download_is_404(api: httpx.Client) -> None:
    response = api.get(f"/app-conversations/{'0' * 32}/download")
    assert (response.status_code, response.json()) == (404, {"detail": "Conversation not found"})


def large_conversation_id(api: httpx.Client) -> str:
    found = api.get("/app-conversations/search", params={"title__contains": "Load test"}).json()
    [item] = found["items"]
    return item["id"]


def test_more_than_10000_events_cannot_be_downloaded(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    fake_app_server.reset(
        scenario="volume",
        conversations=20,
        sandboxes=3,
        events_per_conversation=5,
        large_conversation_events=10_001,
    )
    conversation_id = large_conversation_id(api)
    assert api.get(f"/conversation/{conversation_id}/events/count").json() == 10_001
    response = api.get(f"/app-conversations/{conversation_id}/download")
    assert response.status_code == 413
    assert "10000" in response.json()["detail"]


def test_a_big_zip_is_streamed_in_many_chunks(
    api: httpx.Client, fake_app_server: FakeAppServer, tmp_path: Path
) -> None:
    fake_app_server.reset(
        scenario="volume",
        conversations=10,
        sandboxes=2,
        events_per_conversation=5,
        large_conversation_events=3_000,
        observation_bytes=6_000,
    )
    conversation_id = large_conversation_id(api)
    target = tmp_path / "big.zip"
    chunks = 0
    with (
        api.stream("GET", f"/app-conversations/{conversation_id}/download") as response,
        target.open("wb") as sink,
    ):
        for chunk in response.iter_raw():
            chunks += 1
            sink.write(chunk)
    size = target.stat().st_size
    assert size > 5_000_000  # base64 output barely compresses
    assert chunks > 50
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        assert len(archive.namelist()) == 3_001


def test_volume_scenario_starts_fast_and_pages(
    api: httpx.Client, fake_app_server: FakeAppServer
) -> None:
    started = time.monotonic()
    state = fake_app_server.reset(
        scenario="volume", conversations=10_000, sandboxes=200, events_per_conversation=20
    )
    assert time.monotonic() - started < 15
    assert [user["conversations"] for user in state["users"]] == [10_000, 10_000]
    assert api.get("/app-conversations/count").json() == 10_000
    first = api.get("/app-conversations/search").json()
    assert (len(first["items"]), first["next_page_id"]) == (100, "100")
    second = api.get("/app-conversations/search", params={"page_id": "100"}).json()
    assert not {item["id"] for item in first["items"]} & {item["id"] for item in second["items"]}
    last = api.get("/app-conversations/search", params={"page_id": "9900"}).json()
    assert last["next_page_id"] is None
    sandboxes = api.get("/sandboxes/search").json()
    assert sandboxes["next_page_id"] == "100"
    statuses = {item["status"] for item in sandboxes["items"]}
    assert {"RUNNING", "PAUSED", "ERROR", "MISSING"} <= statuses
    conversation_id = second["items"][0]["id"]
    assert api.get(f"/conversation/{conversation_id}/events/count").json() == 20
    rss_kib = _resident_kib(fake_app_server.process.pid)
    assert rss_kib < 600 * 1024, f"the fake uses {rss_kib // 1024} MiB for 20,000 conversations"


def _resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")
