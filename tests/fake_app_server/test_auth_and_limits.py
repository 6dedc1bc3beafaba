"""Authentication modes and per-key rate limits of the fake, with the upstream error shapes."""

from __future__ import annotations

import time

import httpx

from tests.peers.fake_fixtures import FakeAppServer


def get(fake: FakeAppServer, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{fake.api_url}{path}", headers=headers or {}, timeout=10)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_bearer_mode_answers_401_with_an_error_key(fake_app_server: FakeAppServer) -> None:
    missing = get(fake_app_server, "/users/me")
    assert (missing.status_code, missing.json()) == (401, {"error": "NoCredentialsError"})
    wrong = get(fake_app_server, "/users/me", bearer("sk-oh-wrong"))
    assert wrong.status_code == 401
    assert set(wrong.json()) == {"error"}
    assert "sk-oh-wrong" not in wrong.text
    # Health checks and the control API need no key.
    assert httpx.get(f"{fake_app_server.base_url}/alive").json() == {"status": "ok"}
    assert httpx.get(f"{fake_app_server.base_url}/health").json() == "OK"


def test_each_key_belongs_to_its_own_user_and_organization(
    fake_app_server: FakeAppServer,
) -> None:
    first_key, second_key = fake_app_server.api_keys
    first = get(fake_app_server, "/users/me", bearer(first_key)).json()
    second = get(fake_app_server, "/users/me", bearer(second_key)).json()
    assert first["id"] != second["id"]
    assert first["org_id"] != second["org_id"]
    first_ids = {
        item["id"]
        for item in get(fake_app_server, "/app-conversations/search", bearer(first_key)).json()[
            "items"
        ]
    }
    second_ids = {
        item["id"]
        for item in get(fake_app_server, "/app-conversations/search", bearer(second_key)).json()[
            "items"
        ]
    }
    assert first_ids
    assert second_ids
    assert not first_ids & second_ids
    # Another user's conversation is invisible, not forbidden.
    some_id = next(iter(first_ids))
    found = get(fake_app_server, f"/app-conversations?ids={some_id}", bearer(second_key))
    assert found.json() == [None]


def test_the_alternative_headers_and_x_org_id(fake_app_server: FakeAppServer) -> None:
    key = fake_app_server.api_key
    assert get(fake_app_server, "/users/me", {"X-Session-API-Key": key}).status_code == 200
    assert get(fake_app_server, "/users/me", {"X-Access-Token": key}).status_code == 200
    org_id = get(fake_app_server, "/users/me", bearer(key)).json()["org_id"]
    assert get(fake_app_server, "/users/me", {**bearer(key), "X-Org-Id": org_id}).is_success
    other = {**bearer(key), "X-Org-Id": "3f6c2a4e-0000-4000-8000-000000000000"}
    assert get(fake_app_server, "/users/me", other).status_code == 403
    malformed = {**bearer(key), "X-Org-Id": "acme"}
    assert get(fake_app_server, "/users/me", malformed).status_code == 400


def test_a_revoked_key_stops_working(fake_app_server: FakeAppServer) -> None:
    key = fake_app_server.api_key
    assert fake_app_server.mutate("revoke_key", api_key=key) == {"revoked": True}
    assert get(fake_app_server, "/users/me", bearer(key)).status_code == 401
    second = get(fake_app_server, "/users/me", bearer(fake_app_server.api_keys[1]))
    assert second.status_code == 200


def test_session_key_mode_uses_the_oss_header_and_detail_shape(
    fake_app_server: FakeAppServer,
) -> None:
    fake_app_server.reset(auth="session_key", api_keys=["shared-oss-key"])
    denied = get(fake_app_server, "/users/me", bearer("shared-oss-key"))
    assert (denied.status_code, denied.json()) == (401, {"detail": "Unauthorized"})
    allowed = get(fake_app_server, "/users/me", {"X-Session-API-Key": "shared-oss-key"})
    assert allowed.status_code == 200


def test_no_auth_mode_serves_everyone(fake_app_server: FakeAppServer) -> None:
    fake_app_server.reset(auth="none")
    assert get(fake_app_server, "/app-conversations/count").json() == 12


def test_a_minute_window_answers_429_with_the_rate_limit_headers(
    fake_app_server: FakeAppServer,
) -> None:
    fake_app_server.reset(rate_limit_per_second=None, rate_limit_per_minute=3)
    headers = bearer(fake_app_server.api_key)
    statuses = [get(fake_app_server, "/users/me", headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = get(fake_app_server, "/users/me", headers)
    assert limited.status_code == 429
    assert limited.json() == {"error": "Rate limit exceeded: 3 per 1 minute"}
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    reset_at = int(limited.headers["X-RateLimit-Reset"])
    assert time.time() < reset_at <= time.time() + 61
    # Limits are per key.
    other = get(fake_app_server, "/users/me", bearer(fake_app_server.api_keys[1]))
    assert other.status_code == 200


def test_a_second_window_answers_429_with_retry_after_one_second(
    fake_app_server: FakeAppServer,
) -> None:
    fake_app_server.reset(rate_limit_per_second=2, rate_limit_per_minute=None)
    headers = bearer(fake_app_server.api_key)
    # A loaded machine may straddle a window now and then: try a few bursts.
    limited = None
    for _ in range(20):
        responses = [get(fake_app_server, "/users/me", headers) for _ in range(3)]
        limited = next((item for item in responses if item.status_code == 429), None)
        if limited is not None:
            break
    assert limited is not None, "three quick requests never exceeded 2 per second"
    assert limited.json() == {"error": "Rate limit exceeded: 2 per 1 second"}
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["X-RateLimit-Limit"] == "2"
