"""The transport layer, seen through the clients: headers, base URLs, timeouts, retries,
error mapping and non-JSON answers. HTTP is faked at the httpx seam with respx."""

from __future__ import annotations

import email.utils
import re

import httpx
import pytest
import respx

from apps.openhands import (
    AppServerClient,
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
    UnexpectedResponseError,
)
from apps.openhands.transport import MAX_RETRY_WAIT
from tests.openhands.support import (
    API,
    API_KEY,
    SERVER,
    WALL_START,
    FakeClock,
    app_client,
    conversation_json,
    task_json,
)

USER = {"id": "u1", "email": "a@example.test", "org_id": "o1", "org_name": "Org", "role": "admin"}


# Headers and base URL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth_style", "expected_header", "unexpected_header"),
    [
        (AuthStyle.BEARER, ("authorization", f"Bearer {API_KEY}"), "x-session-api-key"),
        (AuthStyle.SESSION_KEY, ("x-session-api-key", API_KEY), "authorization"),
    ],
)
def test_it_sends_the_key_as_the_auth_style_says(
    router: respx.MockRouter,
    clock: FakeClock,
    auth_style: AuthStyle,
    expected_header: tuple[str, str],
    unexpected_header: str,
) -> None:
    route = router.get("/users/me").respond(json=USER)
    with app_client(router, clock, auth_style=auth_style) as client:
        client.get_user()
    headers = route.calls.last.request.headers
    name, value = expected_header
    assert headers[name] == value
    assert unexpected_header not in headers


def test_it_sends_no_credentials_with_auth_style_none(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.get("/users/me").respond(json=USER)
    with app_client(router, clock, auth_style="none") as client:
        client.get_user()
    headers = route.calls.last.request.headers
    assert "authorization" not in headers
    assert "x-session-api-key" not in headers


def test_it_sends_the_org_id_only_when_set(router: respx.MockRouter, clock: FakeClock) -> None:
    route = router.get("/users/me").respond(json=USER)
    with app_client(router, clock, org_id="org-42") as client:
        client.get_user()
    assert route.calls.last.request.headers["x-org-id"] == "org-42"
    with app_client(router, clock) as client:
        client.get_user()
    assert "x-org-id" not in route.calls.last.request.headers


def test_it_identifies_itself_with_a_clear_user_agent(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.get("/users/me").respond(json=USER)
    client.get_user()
    user_agent = route.calls.last.request.headers["user-agent"]
    assert re.fullmatch(
        r"openhands-cloud-dashboard/\S+ httpx/" + re.escape(httpx.__version__), user_agent
    )
    with app_client(router, clock, user_agent="my-tool/1.0") as custom:
        custom.get_user()
    assert route.calls.last.request.headers["user-agent"] == "my-tool/1.0"


@pytest.mark.parametrize(
    ("base_url", "expected_url"),
    [
        ("https://host.test", "https://host.test/api/v1/users/me"),
        ("https://host.test/", "https://host.test/api/v1/users/me"),
        ("http://host.test:3000/oh", "http://host.test:3000/oh/api/v1/users/me"),
        ("http://host.test/oh/", "http://host.test/oh/api/v1/users/me"),
        ("https://host.test/api/v1", "https://host.test/api/v1/users/me"),
        ("  https://host.test/oh/api/v1/  ", "https://host.test/oh/api/v1/users/me"),
    ],
)
def test_it_appends_the_api_prefix_to_the_base_url(base_url: str, expected_url: str) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=USER)

    with AppServerClient(base_url, API_KEY, transport=httpx.MockTransport(answer)) as client:
        client.get_user()
    assert seen == [expected_url]


@pytest.mark.parametrize("base_url", ["app.all-hands.dev", "ftp://host.test", "https://", ""])
def test_it_rejects_a_base_url_that_is_not_http(base_url: str) -> None:
    with pytest.raises(ValueError, match=r"http:// or https://|Invalid server URL"):
        AppServerClient(base_url, API_KEY)


# Timeouts ---------------------------------------------------------------------------------


def _read_timeout(route: respx.Route) -> float:
    timeouts = route.calls.last.request.extensions["timeout"]
    assert timeouts["connect"] == 10.0
    return timeouts["read"]


def test_reads_time_out_after_30_seconds(client: AppServerClient, router: respx.MockRouter) -> None:
    route = router.get("/app-conversations/search").respond(
        json={"items": [], "next_page_id": None}
    )
    client.search_conversations()
    assert _read_timeout(route) == 30.0


@pytest.mark.parametrize(
    ("method", "path", "answer", "call"),
    [
        ("POST", "/sandboxes/sb1/pause", {"success": True}, lambda c: c.pause_sandbox("sb1")),
        ("POST", "/sandboxes/sb1/resume", {"success": True}, lambda c: c.resume_sandbox("sb1")),
        ("DELETE", "/sandboxes/sb1", {"success": True}, lambda c: c.delete_sandbox("sb1")),
        (
            "DELETE",
            "/app-conversations/c1",
            {"success": True},
            lambda c: c.delete_conversation("c1"),
        ),
    ],
)
def test_pause_resume_and_delete_time_out_after_60_seconds(
    client: AppServerClient, router: respx.MockRouter, method: str, path: str, answer, call
) -> None:
    route = router.request(method, path).respond(json=answer)
    call(client)
    assert _read_timeout(route) == 60.0


def test_download_times_out_after_60_seconds(
    client: AppServerClient, router: respx.MockRouter, tmp_path
) -> None:
    route = router.get("/app-conversations/c1/download").respond(
        content=b"PK", headers={"content-type": "application/zip"}
    )
    client.download_conversation("c1", tmp_path / "c1.zip")
    assert _read_timeout(route) == 60.0


def test_starts_time_out_after_120_seconds(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    conversation = router.post("/app-conversations").respond(json=task_json())
    sandbox = router.post("/sandboxes").respond(json={"id": "sb1", "status": "STARTING"})
    client.start_conversation(message="hi")
    client.start_sandbox()
    assert _read_timeout(conversation) == 120.0
    assert _read_timeout(sandbox) == 120.0


def test_stream_start_allows_a_silent_sandbox_wait(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    route = router.post("/app-conversations/stream-start").respond(json=[task_json(status="READY")])
    list(client.stream_start_conversation(message="hi"))
    assert _read_timeout(route) == 150.0


# Retries ----------------------------------------------------------------------------------


def test_get_is_retried_on_502_503_504_with_growing_jittered_waits(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.get("/users/me").mock(
        side_effect=[
            httpx.Response(502),
            httpx.Response(503),
            httpx.Response(504),
            httpx.Response(200, json=USER),
        ]
    )
    assert client.get_user().id == "u1"
    assert route.call_count == 4
    assert len(clock.waits) == 3
    for attempt, wait in enumerate(clock.waits):
        ceiling = 0.5 * 2**attempt
        assert ceiling / 2 <= wait <= ceiling


def test_retries_are_bounded_by_max_retries(router: respx.MockRouter, clock: FakeClock) -> None:
    route = router.get("/users/me").respond(503, json={"detail": "lock unavailable"})
    with app_client(router, clock, max_retries=2) as client, pytest.raises(ServerError):
        client.get_user()
    assert route.call_count == 3
    assert len(clock.waits) == 2


def test_max_retries_zero_sends_once(router: respx.MockRouter, clock: FakeClock) -> None:
    route = router.get("/users/me").respond(503)
    with app_client(router, clock, max_retries=0) as client, pytest.raises(ServerError):
        client.get_user()
    assert route.call_count == 1
    assert clock.waits == []


def test_429_waits_the_retry_after_seconds(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get("/users/me").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "Rate limit"}),
            httpx.Response(200, json=USER),
        ]
    )
    client.get_user()
    assert clock.waits == [7.0]


def test_429_understands_a_retry_after_http_date(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    when = email.utils.formatdate(WALL_START + 12, usegmt=True)
    router.get("/users/me").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": when}),
            httpx.Response(200, json=USER),
        ]
    )
    client.get_user()
    assert clock.waits == [pytest.approx(12.0)]


def test_429_without_retry_after_waits_until_the_rate_limit_reset(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get("/users/me").mock(
        side_effect=[
            httpx.Response(429, headers={"X-RateLimit-Reset": str(int(WALL_START + 5))}),
            httpx.Response(200, json=USER),
        ]
    )
    client.get_user()
    assert clock.waits == [pytest.approx(5.0)]


def test_a_long_retry_after_is_capped(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get("/users/me").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3600"}),
            httpx.Response(200, json=USER),
        ]
    )
    client.get_user()
    assert clock.waits == [MAX_RETRY_WAIT]


def test_post_is_not_retried_on_500_or_503(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.post("/app-conversations").mock(
        side_effect=[httpx.Response(500, text="boom"), httpx.Response(503)]
    )
    with pytest.raises(ServerError):
        client.start_conversation(message="hi")
    with pytest.raises(ServerError):
        client.start_conversation(message="hi")
    assert route.call_count == 2
    assert clock.waits == []


def test_delete_and_patch_are_not_retried_on_503(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    delete = router.delete("/app-conversations/c1").respond(503)
    patch = router.patch("/app-conversations/c1").respond(503)
    with pytest.raises(ServerError):
        client.delete_conversation("c1")
    with pytest.raises(ServerError):
        client.update_conversation("c1", title="x")
    assert (delete.call_count, patch.call_count) == (1, 1)
    assert clock.waits == []


def test_post_is_retried_on_429_when_the_server_says_when(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.post("/app-conversations").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(200, json=task_json()),
        ]
    )
    client.start_conversation(message="hi")
    assert route.call_count == 2
    assert clock.waits == [2.0]


def test_post_is_not_retried_on_429_without_retry_after(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.post("/app-conversations").respond(
        429, headers={"X-RateLimit-Reset": str(int(WALL_START + 9))}, json={"error": "Rate limit"}
    )
    with pytest.raises(RateLimitedError) as caught:
        client.start_conversation(message="hi")
    assert route.call_count == 1
    assert clock.waits == []
    assert caught.value.retry_after == pytest.approx(9.0)


def test_connect_errors_are_retried_even_for_post(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.post("/app-conversations").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=task_json())]
    )
    client.start_conversation(message="hi")
    assert route.call_count == 2
    assert len(clock.waits) == 1


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.ReadError("reset by peer"), httpx.RemoteProtocolError("cut")],
)
def test_get_is_retried_after_read_timeouts_and_resets(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock, failure: Exception
) -> None:
    route = router.get("/users/me").mock(side_effect=[failure, httpx.Response(200, json=USER)])
    client.get_user()
    assert route.call_count == 2
    assert len(clock.waits) == 1


def test_post_is_not_retried_after_a_read_timeout(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.post("/app-conversations").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TransportError) as caught:
        client.start_conversation(message="hi")
    assert route.call_count == 1
    assert clock.waits == []
    assert (
        "did not answer POST https://app.example.test/api/v1/app-conversations within 120.0 s"
        in str(caught.value)
    )


def test_connect_failures_that_persist_become_transport_errors(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get("/users/me").mock(side_effect=httpx.ConnectError("Connection refused"))
    with pytest.raises(TransportError) as caught:
        client.get_user()
    assert len(clock.waits) == 3
    message = str(caught.value)
    assert message.startswith(f"Could not connect to the App Server at {SERVER}")
    assert "Connection refused" in message
    assert caught.value.method == "GET"
    assert caught.value.url == f"{API}/users/me"


def test_a_404_is_not_retried(
    client: AppServerClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.get("/users/me").respond(404, json={"detail": "Not Found"})
    with pytest.raises(NotFoundError):
        client.get_user()
    assert route.call_count == 1
    assert clock.waits == []


# Error mapping ----------------------------------------------------------------------------

VALIDATION = {
    "detail": [
        {
            "type": "less_than_equal",
            "loc": ["query", "limit"],
            "msg": "Input should be less than or equal to 100",
            "input": "101",
        },
        {"type": "missing", "loc": ["query", "sandbox_id"], "msg": "Field required"},
    ]
}


@pytest.mark.parametrize(
    ("status", "answer", "error_class", "expected_text"),
    [
        (
            400,
            {"detail": "Too many ids requested. Maximum is 99."},
            BadRequestError,
            "Maximum is 99",
        ),
        (401, {"error": "NoCredentialsError"}, AuthenticationError, "rejected the API key (401)"),
        (403, {"error": "Unverified e-mail"}, AuthenticationError, "Unverified e-mail"),
        (404, {"detail": "Conversation not found"}, NotFoundError, "Conversation not found"),
        (409, {"detail": "Sandbox is PAUSED."}, ConflictError, "resume it first"),
        (410, {"detail": "Conversation is archived."}, GoneError, "no longer exists"),
        (413, {"detail": "Too many events to export"}, PayloadTooLargeError, "page by page"),
        (
            422,
            VALIDATION,
            BadRequestError,
            "query.limit: Input should be less than or equal to 100; query.sandbox_id: Field "
            "required",
        ),
        (429, {"message": "Too many requests"}, RateLimitedError, "Too many requests"),
        (500, "Internal Server Error", ServerError, "Internal Server Error"),
        (502, {"detail": "Agent server error: 500"}, ServerError, "Agent server error: 500"),
        (503, {"error": "lock service unavailable"}, ServerError, "lock service unavailable"),
    ],
)
def test_each_status_maps_to_its_exception_with_the_server_detail(
    router: respx.MockRouter,
    clock: FakeClock,
    status: int,
    answer: object,
    error_class: type[OpenHandsError],
    expected_text: str,
) -> None:
    response = (
        httpx.Response(status, text=answer)
        if isinstance(answer, str)
        else httpx.Response(status, json=answer)
    )
    router.get("/users/me").mock(return_value=response)
    with app_client(router, clock, max_retries=0) as client, pytest.raises(error_class) as caught:
        client.get_user()
    error = caught.value
    assert type(error) is error_class
    assert error.status_code == status
    assert error.method == "GET"
    assert error.url == f"{API}/users/me"
    assert expected_text in str(error)
    assert f"The App Server at {SERVER}" in str(error)


def test_401_says_what_to_do(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get("/users/me").respond(401, json={"error": "NoCredentialsError"})
    with app_client(router, clock) as client, pytest.raises(AuthenticationError) as caught:
        client.get_user()
    assert str(caught.value) == (
        f"The App Server at {SERVER} rejected the API key (401). Check the key, or whether it "
        "was revoked."
    )


def test_401_without_a_key_says_one_is_needed(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get("/users/me").respond(401, json={"detail": "Unauthorized"})
    with (
        app_client(router, clock, api_key=None) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.get_user()
    assert str(caught.value) == (
        f"The App Server at {SERVER} requires authentication (401), but no API key was given."
    )


def test_403_mentions_the_organization_when_one_is_set(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get("/users/me").respond(
        403, json={"error": "API key is not authorized for this organization"}
    )
    with (
        app_client(router, clock, org_id="org-9") as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.get_user()
    assert "X-Org-Id" in str(caught.value)


def test_429_carries_retry_after(router: respx.MockRouter, clock: FakeClock) -> None:
    router.get("/users/me").respond(429, headers={"Retry-After": "30"}, json={"error": "Rate"})
    with (
        app_client(router, clock, max_retries=0) as client,
        pytest.raises(RateLimitedError) as caught,
    ):
        client.get_user()
    assert caught.value.retry_after == 30.0
    assert "Wait 30 s" in str(caught.value)


def test_a_redirect_is_reported_not_followed(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    route = router.get("/users/me").respond(
        301, headers={"Location": "https://www.example.test/api/v1/users/me"}
    )
    with pytest.raises(OpenHandsError) as caught:
        client.get_user()
    assert route.call_count == 1
    assert caught.value.status_code == 301
    assert "redirected" in str(caught.value)
    assert "https://www.example.test/api/v1/users/me" in str(caught.value)


def test_an_html_error_page_is_summarised(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    router.post("/app-conversations").respond(
        502, html="<!DOCTYPE html><html><body>" + "Bad gateway " * 500 + "</body></html>"
    )
    with pytest.raises(ServerError) as caught:
        client.start_conversation(message="hi")
    assert "HTML page" in str(caught.value)
    assert "<body>" not in str(caught.value)


# Answers that are not JSON ----------------------------------------------------------------


def test_an_html_page_with_status_200_is_not_json(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    router.get("/users/me").respond(
        200, html="<!doctype html><html><head><title>OpenHands</title></head></html>"
    )
    with pytest.raises(NotJSONError) as caught:
        client.get_user()
    message = str(caught.value)
    assert "HTML page" in message
    assert "base URL is probably wrong" in message
    assert caught.value.status_code == 200


def test_malformed_json_is_not_json(client: AppServerClient, router: respx.MockRouter) -> None:
    router.get("/users/me").respond(
        200, content=b'{"id": "u1", "email": ', headers={"content-type": "application/json"}
    )
    with pytest.raises(NotJSONError, match="is not valid JSON"):
        client.get_user()


def test_json_sent_as_plain_text_is_not_trusted(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    router.get("/users/me").respond(200, text='{"id": "u1"}')
    with pytest.raises(NotJSONError, match="text/plain"):
        client.get_user()


def test_json_of_the_wrong_shape_is_reported(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    router.get("/app-conversations/search").respond(json={"conversations": []})
    with pytest.raises(UnexpectedResponseError, match="no items array"):
        client.search_conversations()
    router.get("/app-conversations/count").respond(json="many")
    with pytest.raises(UnexpectedResponseError, match="integer count"):
        client.count_conversations()
    router.get("/app-conversations").respond(json=[{"title": "no id"}])
    with pytest.raises(UnexpectedResponseError, match="has no id"):
        client.get_conversations(["c1"])


def test_vendor_json_content_types_are_accepted(
    client: AppServerClient, router: respx.MockRouter
) -> None:
    router.get("/app-conversations").respond(
        content=b"[" + httpx.Response(200, json=conversation_json()).content + b"]",
        headers={"content-type": "application/problem+json; charset=utf-8"},
    )
    assert client.get_conversations(["c1"])[0] is not None
