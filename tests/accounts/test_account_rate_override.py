"""The per-account sync rate overrides on the account form: validated, admin-only, optional."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.forms import AccountForm
from apps.accounts.models import AuditLog, CloudAccount
from apps.openhands import AuthStyle


def _edit_data(account: CloudAccount, **rates: str) -> dict[str, str]:
    """Return the edit form of `account` unchanged except for the rate fields."""
    return {
        "name": account.name,
        "base_url": account.base_url,
        "auth_style": AuthStyle.BEARER.value,
        "api_key": "",
        "org_id": account.org_id,
        "enabled": "on",
        "sync_rate_per_minute": "",
        "sync_rate_burst": "",
        **rates,
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sync_rate_per_minute", "0", "greater than 0"),
        ("sync_rate_per_minute", "-5", "greater than 0"),
        ("sync_rate_per_minute", "nan", "Enter a number"),
        ("sync_rate_per_minute", "inf", "Enter a number"),
        ("sync_rate_burst", "0", "at least 1"),
        ("sync_rate_burst", "-2", "at least 1"),
        ("sync_rate_burst", "2.5", "Enter a whole number"),
    ],
)
def test_a_rate_override_must_be_positive(persona_account, field, value, message):
    form = AccountForm(_edit_data(persona_account, **{field: value}), instance=persona_account)

    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert message in form.errors[field][0]


def test_blank_overrides_are_valid_and_stored_as_none(persona_account):
    form = AccountForm(_edit_data(persona_account), instance=persona_account)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["sync_rate_per_minute"] is None
    assert form.cleaned_data["sync_rate_burst"] is None


def test_an_admin_sets_and_clears_the_overrides_without_reverifying(alice_client, persona_account):
    # The persona account points at a dead address: the rate is not a connection setting.
    url = reverse("accounts:edit", args=[persona_account.pk])

    response = alice_client.post(
        url, _edit_data(persona_account, sync_rate_per_minute="600", sync_rate_burst="20")
    )

    assert response.status_code == 302
    persona_account.refresh_from_db()
    assert (persona_account.sync_rate_per_minute, persona_account.sync_rate_burst) == (600.0, 20)
    entry = AuditLog.objects.get(action="account.update")
    assert entry.detail == "changed: sync_rate_per_minute, sync_rate_burst"
    assert persona_account.last_check_at is None  # no connection check was made

    assert alice_client.post(url, _edit_data(persona_account)).status_code == 302
    persona_account.refresh_from_db()
    assert (persona_account.sync_rate_per_minute, persona_account.sync_rate_burst) == (None, None)


def test_an_operator_cannot_change_the_overrides(oscar_client, persona_account):
    url = reverse("accounts:edit", args=[persona_account.pk])

    response = oscar_client.post(url, _edit_data(persona_account, sync_rate_per_minute="6000"))

    assert response.status_code == 403
    persona_account.refresh_from_db()
    assert persona_account.sync_rate_per_minute is None


def test_the_form_names_the_cloud_limits_and_the_global_defaults(
    alice_client, persona_account, settings
):
    settings.SYNC_RATE_PER_MINUTE = 80.0
    settings.SYNC_RATE_BURST = 8

    page = alice_client.get(reverse("accounts:edit", args=[persona_account.pk])).content.decode()

    assert "The Cloud allows 10 requests per second and 100 per minute per API key." in page
    assert "Blank: the global default (80 per minute)." in page
    assert "global default (8)" in page
    assert 'name="sync_rate_per_minute"' in page
    assert 'name="sync_rate_burst"' in page
