"""API keys and session keys never show in exception text, repr() or log lines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from apps.openhands import AgentServerClient, AppServerClient, OpenHandsError
from apps.openhands.records import Conversation, ExposedUrl, Sandbox, SandboxSpec
from tests.openhands.support import (
    API_KEY,
    SESSION_KEY,
    FakeClock,
    agent_client,
    agent_router,
    app_client,
    app_router,
    conversation_json,
    sandbox_json,
)

SECRETS = (API_KEY, SESSION_KEY)


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def _failures(call: Callable[[], Any]) -> OpenHandsError:
    with pytest.raises(OpenHandsError) as caught:
        call()
    return caught.value


def _echoing(status: int) -> Callable[[httpx.Request], httpx.Response]:
    """Answer with an error body that quotes the credentials the request carried."""

    def answer(request: httpx.Request) -> httpx.Response:
        echoed = " ".join(
            request.headers.get(name, "") for name in ("authorization", "x-session-api-key")
        )
        return httpx.Response(status, json={"detail": f"bad credentials: {echoed}"})

    return answer


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_the_app_server_key_stays_out_of_reprs_errors_and_logs(
    logs: pytest.LogCaptureFixture,
) -> None:
    router = app_router()
    router.get("/users/me").mock(side_effect=_echoing(401))
    router.get("/sandboxes/search").mock(side_effect=_echoing(503))
    router.get("/app-conversations/count").mock(
        side_effect=httpx.ConnectError(f"refused while sending {API_KEY}")
    )
    router.get("/app-conversations").respond(json=[conversation_json()])
    router.get("/sandboxes").respond(json=[sandbox_json()])
    with app_client(router, FakeClock()) as client:
        _assert_clean(repr(client) + str(client))
        errors = [
            _failures(client.get_user),
            _failures(client.search_sandboxes),
            _failures(client.count_conversations),
        ]
        conversation = client.get_conversation("c1")
        sandbox = client.get_sandbox("s1")
    assert errors[1].detail is not None
    assert "[redacted]" in errors[1].detail
    for error in errors:
        _assert_clean(str(error) + repr(error) + str(error.detail) + str(error.url))
    _assert_clean(repr(conversation) + str(conversation))
    _assert_clean(repr(sandbox) + str(sandbox))
    assert "retrying" in logs.text
    _assert_clean(logs.text)


@pytest.mark.parametrize("auth_style", ["bearer", "session_key"])
def test_every_auth_style_keeps_the_key_out_of_logs(
    logs: pytest.LogCaptureFixture, auth_style: str
) -> None:
    router = app_router()
    router.get("/users/me").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json={"id": "u"})]
    )
    with app_client(router, FakeClock(), auth_style=auth_style) as client:
        client.get_user()
    assert logs.records
    _assert_clean(logs.text)


def test_the_session_key_stays_out_of_agent_errors_and_logs(
    logs: pytest.LogCaptureFixture, tmp_path
) -> None:
    router = agent_router()
    router.get("/server_info").mock(side_effect=_echoing(401))
    router.get("/api/file/download").mock(side_effect=_echoing(404))
    router.get(url__startswith="https://runtime.example.test/api/file/download/").mock(
        side_effect=_echoing(500)
    )
    with agent_client(router, FakeClock()) as agent:
        _assert_clean(repr(agent) + str(agent))
        errors = [
            _failures(agent.server_info),
            _failures(lambda: agent.download_file("/workspace/a.txt", tmp_path / "a.txt")),
        ]
    assert "Session keys change when a sandbox is paused" in str(errors[0])
    for error in errors:
        _assert_clean(str(error) + repr(error) + str(error.detail))
    _assert_clean(logs.text)


def test_records_hide_session_keys_in_repr() -> None:
    conversation = Conversation.from_json(conversation_json())
    sandbox = Sandbox.from_json(sandbox_json())
    vscode = ExposedUrl.from_json(
        {"name": "VSCODE", "url": f"https://v.test/?tkn={SESSION_KEY}&folder=%2Fw"}
    )
    spec = SandboxSpec.from_json({"id": "img", "initial_env": {"LLM_API_KEY": SESSION_KEY}})
    for record in (conversation, sandbox, vscode, spec):
        _assert_clean(repr(record))
        _assert_clean(str(record))
    assert "https://v.test/?tkn=[redacted]&folder=%2Fw" in repr(vscode)
    # The value itself is still there for the code that needs it.
    assert conversation.session_api_key == SESSION_KEY
    assert sandbox.session_api_key == SESSION_KEY


def test_a_password_in_the_base_url_is_never_shown(logs: pytest.LogCaptureFixture) -> None:
    password = "pw-TESTSECRET-77"
    router = respx.MockRouter(assert_all_called=False)
    router.get(url__regex=r".*/users/me$").respond(500, text=f"oops {password}")
    with AppServerClient(
        f"https://admin:{password}@app.example.test",
        API_KEY,
        transport=httpx.MockTransport(router.handler),
        max_retries=0,
    ) as client:
        error = _failures(client.get_user)
        shown = repr(client) + str(error) + repr(error) + str(error.url) + str(error.detail)
    assert password not in shown
    assert password not in logs.text
    assert "https://app.example.test" in str(error)


def test_an_agent_client_for_a_sandbox_keeps_the_key_private() -> None:
    agent = AgentServerClient.for_sandbox(Sandbox.from_json(sandbox_json()))
    try:
        _assert_clean(repr(agent) + str(agent) + str(vars(agent)))
    finally:
        agent.close()
