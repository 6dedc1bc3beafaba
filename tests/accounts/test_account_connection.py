"""Connection checks: what is sent, and each failure explained in words that say what to do."""

from __future__ import annotations

import httpx
import pytest
import respx
from cryptography.fernet import Fernet

from apps.accounts.connection import check_connection
from apps.accounts.models import CloudAccount
from apps.openhands import AuthStyle
from tests.accounts.conftest import UPSTREAM_KEY

ME = {"id": "u-1", "email": "owner@example.test", "org_id": "org-9", "org_name": "Example Org"}


def _account(base_url: str, api_key: str | None = UPSTREAM_KEY, **fields: str) -> CloudAccount:
    account = CloudAccount(name="Check", base_url=base_url, **fields)
    account.set_api_key(api_key)
    return account


@respx.mock(assert_all_called=True)
def test_it_asks_users_me_under_the_path_prefix_with_the_key_and_org(respx_mock):
    route = respx_mock.get("https://self.example.test/oh/api/v1/users/me").mock(
        return_value=httpx.Response(200, json=ME)
    )
    check = check_connection(_account("https://self.example.test/oh", org_id="org-9"))
    assert check.ok
    assert check.message == "Connected as owner@example.test, organization Example Org."
    sent = route.calls.last.request.headers
    assert (sent["authorization"], sent["x-org-id"]) == (f"Bearer {UPSTREAM_KEY}", "org-9")


@respx.mock(assert_all_called=True)
def test_a_server_without_login_gets_no_credentials(respx_mock):
    route = respx_mock.get("http://127.0.0.1:3000/api/v1/users/me").mock(
        return_value=httpx.Response(200, json={"email": None})
    )
    account = _account("http://127.0.0.1:3000", None, auth_style=AuthStyle.NONE)
    check = check_connection(account)
    assert check.ok
    assert "does not say whom the key belongs to" in check.message
    sent = route.calls.last.request.headers
    assert "authorization" not in sent
    assert "x-session-api-key" not in sent


@pytest.mark.parametrize(
    ("status", "message", "problem"),
    [
        (403, "The server refused this key access (HTTP 403)", "api_key"),
        (404, "The server has no /api/v1/users/me endpoint (HTTP 404)", "base_url"),
        (429, "The server is rate-limiting this key; wait for about 7 seconds", None),
        (503, "The server failed (HTTP 503); try again later.", None),
    ],
)
def test_it_explains_each_failure(upstream, status, message, problem):
    upstream.inject_fault(
        path_regex="/users/me", fault="status", status=status, headers={"Retry-After": "7"}
    )
    check = check_connection(_account(upstream.base_url))
    assert (check.ok, check.problem) == (False, problem)
    assert check.message.startswith(message)
    assert upstream.stats()["total"] == 1  # a person is waiting: no retries


def test_a_key_that_no_configured_encryption_key_opens_is_reported(settings):
    account = _account("https://app.example.test")
    settings.DASHBOARD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    check = check_connection(account)
    assert (check.ok, check.problem) == (False, "api_key")
    assert "rotate_encryption_keys" in check.message


def test_an_address_the_client_refuses_is_reported():
    # Stored before validation existed, or written around it (e.g. through the shell).
    check = check_connection(_account("ftp://files.example.test"))
    assert (check.ok, check.problem) == (False, "base_url")
    assert "must start with http:// or https://" in check.message
