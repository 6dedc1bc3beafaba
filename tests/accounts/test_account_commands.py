from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts import crypto
from apps.accounts.management.commands.setup_demo import DEMO_ACCOUNT_NAME
from apps.accounts.models import AuditLog, CloudAccount, Membership, Role
from apps.openhands import AuthStyle


def _setup_demo(*args: str) -> str:
    output = StringIO()
    call_command("setup_demo", *args, stdout=output)
    return output.getvalue()


def test_setup_demo_creates_the_account_and_makes_superusers_admins(superuser, victor):
    output = _setup_demo("--base-url", "http://127.0.0.1:8090/")

    account = CloudAccount.objects.get(name=DEMO_ACCOUNT_NAME)
    assert (account.base_url, account.auth_style, account.has_api_key, account.enabled) == (
        "http://127.0.0.1:8090",
        AuthStyle.NONE,
        False,
        True,
    )
    assert list(account.memberships.values_list("user__username", "role")) == [("root", Role.ADMIN)]
    assert f"Created account {DEMO_ACCOUNT_NAME!r}: http://127.0.0.1:8090" in output
    assert "Made root an admin of it." in output
    assert AuditLog.objects.filter(username="manage.py setup_demo").count() == 2


def test_setup_demo_is_idempotent_and_updates_in_place(superuser):
    _setup_demo("--base-url", "http://127.0.0.1:8090")
    get_user_model().objects.create_user("ops", is_superuser=True)

    output = _setup_demo("--base-url", "http://127.0.0.1:8091", "--api-key", "fake-key-123456")

    account = CloudAccount.objects.get(name=DEMO_ACCOUNT_NAME)
    assert CloudAccount.objects.filter(name=DEMO_ACCOUNT_NAME).count() == 1
    assert account.base_url == "http://127.0.0.1:8091"
    assert account.auth_style == AuthStyle.BEARER
    assert crypto.decrypt(account.encrypted_api_key) == "fake-key-123456"
    assert "Updated account" in output
    assert "Made ops an admin of it." in output
    assert "Made root" not in output
    assert Membership.objects.filter(account=account, role=Role.ADMIN).count() == 2
    assert "fake-key-123456" not in output

    again = _setup_demo("--base-url", "http://127.0.0.1:8091", "--api-key", "fake-key-123456")
    assert "Every superuser was already an admin of it." in again
    assert Membership.objects.filter(account=account).count() == 2


def test_setup_demo_can_use_a_session_key(db):
    _setup_demo("--api-key", "shared-secret-abc", "--auth-style", "session_key")
    account = CloudAccount.objects.get(name=DEMO_ACCOUNT_NAME)
    assert account.auth_style == AuthStyle.SESSION_KEY


def test_setup_demo_rejects_a_bad_address(db):
    with pytest.raises(CommandError, match="starts with https:// or http://"):
        _setup_demo("--base-url", "ftp://127.0.0.1:8090")
    assert not CloudAccount.objects.exists()
