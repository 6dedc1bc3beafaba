"""The account form against the fake App Server on loopback: it saves only what works."""

from __future__ import annotations

import httpx
import pytest
import respx
from django.urls import reverse

from apps.accounts import crypto
from apps.accounts.models import AuditLog, CloudAccount
from apps.openhands import AuthStyle
from tests.accounts.conftest import UPSTREAM_KEY

NEW_NAME = "Team cloud"


def _form(base_url: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": NEW_NAME,
        "base_url": base_url,
        "auth_style": AuthStyle.BEARER.value,
        "api_key": UPSTREAM_KEY,
        "org_id": "",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def _stored(account: CloudAccount) -> dict[str, object]:
    return CloudAccount.objects.filter(pk=account.pk).values().get()


def _create(client, data: dict[str, object]):
    return client.post(reverse("accounts:create"), data)


def test_it_creates_an_account_once_the_server_accepts_the_key(
    superuser_client, upstream, upstream_user
):
    response = _create(superuser_client, _form(upstream.base_url, org_id=upstream_user["org_id"]))

    account = CloudAccount.objects.get(name=NEW_NAME)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:detail", args=[account.pk])
    assert crypto.decrypt(account.encrypted_api_key) == UPSTREAM_KEY
    assert account.key_last4 == UPSTREAM_KEY[-4:]
    assert account.last_check_ok is True
    assert (account.key_owner_email, account.key_owner_user_id, account.key_owner_org_name) == (
        upstream_user["email"],
        upstream_user["id"],
        upstream_user["org_name"],
    )
    entry = AuditLog.objects.get(action="account.create")
    assert (entry.result, entry.account, entry.username) == ("ok", account, "root")


def test_an_organization_the_key_cannot_use_is_refused(superuser_client, upstream):
    # The fake answers 403 when X-Org-Id names an organization the key's owner is not in.
    other_org = upstream.state()["users"][1]["org_id"]
    data = _form(upstream.base_url, org_id=other_org)
    response = _create(superuser_client, data)
    _assert_refused(response, "The server refused this key access (HTTP 403)")


def test_a_self_hosted_key_is_sent_as_x_session_api_key(superuser_client, upstream):
    upstream.reset(auth="session_key", api_keys=[UPSTREAM_KEY])  # one shared key
    # A self-hosted server only reads X-Session-API-Key: the Bearer style is refused...
    _assert_refused(_create(superuser_client, _form(upstream.base_url)), "HTTP 401")
    # ...and the session-key style is accepted.
    data = _form(upstream.base_url, auth_style=AuthStyle.SESSION_KEY.value)
    assert _create(superuser_client, data).status_code == 302


def test_an_unauthenticated_server_needs_no_key(superuser_client, upstream):
    upstream.reset(auth="none")
    data = _form(upstream.base_url, auth_style=AuthStyle.NONE.value, api_key="ignored-key-1234")
    assert _create(superuser_client, data).status_code == 302
    assert not CloudAccount.objects.get(name=NEW_NAME).has_api_key


def test_a_pasted_api_v1_suffix_is_dropped(superuser_client, upstream):
    assert _create(superuser_client, _form(upstream.base_url + "/api/v1/")).status_code == 302
    assert CloudAccount.objects.get(name=NEW_NAME).base_url == upstream.base_url


def _assert_refused(response, message: str) -> None:
    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    assert not CloudAccount.objects.filter(name=NEW_NAME).exists()


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("app.all-hands.dev", "starts with https:// or http://"),
        ("ftp://files.example.test", "starts with https:// or http://"),
        ("https://app example.test", "cannot contain spaces"),
        ("https://", "needs a host name"),
        ("https://user:secret@app.example.test", "Leave credentials out"),
        ("https://app.example.test:99999", "The port number in the address is not valid."),
        ("https://app.example.test/?x=1", "cannot contain ?query or #fragment"),
    ],
)
def test_it_refuses_an_invalid_address(superuser_client, base_url, message):
    _assert_refused(_create(superuser_client, _form(base_url)), message)


def test_it_refuses_an_empty_key_when_the_auth_style_needs_one(superuser_client, upstream):
    response = _create(superuser_client, _form(upstream.base_url, api_key=""))
    _assert_refused(response, "This authentication style needs an API key.")
    assert upstream.stats()["total"] == 0  # refused before anything was sent


def test_it_refuses_a_key_with_spaces(superuser_client, upstream):
    response = _create(superuser_client, _form(upstream.base_url, api_key="sk-oh-two words"))
    _assert_refused(response, "An API key cannot contain spaces, line breaks or accents.")
    assert upstream.stats()["total"] == 0


def test_it_refuses_a_wrong_key(superuser_client, upstream):
    response = _create(superuser_client, _form(upstream.base_url, api_key="sk-oh-Wk3Rt9Zp6Qm2"))
    _assert_refused(response, "The server rejected the API key (HTTP 401)")
    entry = AuditLog.objects.get(action="account.create")
    assert (entry.result, entry.target_label) == ("failed", NEW_NAME)


def test_it_refuses_an_unreachable_host(superuser_client, unreachable_base_url):
    response = _create(superuser_client, _form(unreachable_base_url))
    _assert_refused(response, "Could not reach the server.")


def test_it_refuses_a_web_page_instead_of_json(superuser_client, upstream):
    upstream.inject_fault(path_regex="/users/me", fault="html200")
    response = _create(superuser_client, _form(upstream.base_url))
    _assert_refused(response, "answered with a web page instead of JSON")


def test_it_refuses_a_server_error(superuser_client, upstream):
    upstream.inject_fault(path_regex="/users/me", fault="status", status=500)
    response = _create(superuser_client, _form(upstream.base_url))
    _assert_refused(response, "The server failed (HTTP 500)")


def test_it_refuses_a_server_that_times_out(superuser_client):
    # Unit-level: a real server would make the test wait for the client's read timeout.
    with respx.mock(assert_all_called=True) as seam:
        seam.get("https://slow.example.test/api/v1/users/me").mock(
            side_effect=httpx.ReadTimeout("timed out")
        )
        response = _create(superuser_client, _form("https://slow.example.test"))
    _assert_refused(response, "did not answer")


def test_it_refuses_a_duplicate_name(superuser_client, persona_account, upstream):
    response = _create(superuser_client, _form(upstream.base_url, name=persona_account.name))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert list(CloudAccount.objects.all()) == [persona_account]


def test_editing_without_a_key_keeps_the_stored_key(alice_client, persona_account):
    token_before = persona_account.encrypted_api_key
    # The persona account points at a dead address: a rename must not need the server.
    data = _form(persona_account.base_url, name="Renamed", api_key="")
    response = alice_client.post(reverse("accounts:edit", args=[persona_account.pk]), data)
    assert response.status_code == 302
    persona_account.refresh_from_db()
    assert (persona_account.name, persona_account.encrypted_api_key) == ("Renamed", token_before)
    assert AuditLog.objects.get(action="account.update").result == "ok"


def test_changing_the_key_verifies_it_and_keeps_the_old_one_on_failure(
    alice_client, persona_account, upstream, upstream_user
):
    persona_account.base_url = upstream.base_url
    persona_account.save()
    before = _stored(persona_account)
    url = reverse("accounts:edit", args=[persona_account.pk])

    wrong = _form(upstream.base_url, name="Acme Cloud", api_key="sk-oh-Rp4Kx8Zt2Mv6")
    response = alice_client.post(url, wrong)
    assert response.status_code == 200
    assert "The server rejected the API key" in response.content.decode()
    assert _stored(persona_account) == before  # nothing saved half-way
    entry = AuditLog.objects.get(action="account.update")
    assert (entry.result, entry.target_label) == ("failed", "Acme Cloud")

    right = _form(upstream.base_url, name="Acme Cloud")
    assert alice_client.post(url, right).status_code == 302
    persona_account.refresh_from_db()
    assert crypto.decrypt(persona_account.encrypted_api_key) == UPSTREAM_KEY
    assert persona_account.key_owner_email == upstream_user["email"]


def test_changing_the_address_reverifies_it(alice_client, persona_account, upstream):
    upstream.inject_fault(path_regex="/users/me", fault="html200")
    before = _stored(persona_account)
    data = _form(upstream.base_url, name="Acme Cloud", api_key="")
    response = alice_client.post(reverse("accounts:edit", args=[persona_account.pk]), data)
    assert response.status_code == 200
    assert "web page instead of JSON" in response.content.decode()
    assert _stored(persona_account) == before


def test_enabling_an_account_again_reverifies_it(alice_client, persona_account):
    persona_account.enabled = False
    persona_account.save()
    url = reverse("accounts:edit", args=[persona_account.pk])
    # Still disabled: a rename needs no server. Enabled again: the dead address is refused.
    disabled = _form(persona_account.base_url, name="Acme Cloud", api_key="", enabled="")
    assert alice_client.post(url, disabled).status_code == 302
    enabled = _form(persona_account.base_url, name="Acme Cloud", api_key="")
    response = alice_client.post(url, enabled)
    assert "Could not reach the server." in response.content.decode()
    persona_account.refresh_from_db()
    assert persona_account.enabled is False


def test_the_form_never_shows_the_stored_key(alice_client, persona_account):
    response = alice_client.get(reverse("accounts:edit", args=[persona_account.pk]))
    html = response.content.decode()
    assert f"Leave blank to keep the current key (••••{persona_account.key_last4})" in html
    assert persona_account.encrypted_api_key not in html
