"""API keys never reach a page, a log line, the audit trail or an error report."""

from __future__ import annotations

import logging
import sys

import pytest
from django.core.signals import got_request_exception
from django.test import Client
from django.urls import reverse
from django.views.debug import ExceptionReporter

from apps.accounts.models import AuditLog, CloudAccount
from apps.openhands import AppServerClient, AuthStyle
from tests.accounts.conftest import OTHER_UPSTREAM_KEY, UPSTREAM_KEY
from tests.personas import PERSONA_API_KEY, assert_no_key_in

# Keys the server does not know; shaped like real ones and unlike any page text.
WRONG_KEY = "sk-oh-Wk3Rt9Zp6Qm2Xv8Lc5Hy7Nb4Gd1"
REPLACEMENT_KEY = "sk-oh-Rp4Kx8Zt2Mv6Qw9Lb3Hn7Jc5Ys1"
EVERY_KEY = (PERSONA_API_KEY, UPSTREAM_KEY, OTHER_UPSTREAM_KEY, WRONG_KEY, REPLACEMENT_KEY)


def _assert_no_keys(text: str, where: str) -> None:
    for key in EVERY_KEY:
        assert_no_key_in(text, key, where)


def _form(base_url: str, api_key: str, name: str = "Leak check") -> dict[str, str]:
    return {
        "name": name,
        "base_url": base_url,
        "auth_style": AuthStyle.BEARER.value,
        "api_key": api_key,
        "org_id": "",
        "enabled": "on",
    }


def test_a_refused_form_never_echoes_the_key(superuser_client, persona_account, upstream):
    wrong = superuser_client.post(reverse("accounts:create"), _form(upstream.base_url, WRONG_KEY))
    assert "rejected the API key" in wrong.content.decode()
    _assert_no_keys(wrong.content.decode(), "the refused create form")

    # A form error found before any call (duplicate name) must not echo the key either.
    duplicate = superuser_client.post(
        reverse("accounts:create"),
        _form(upstream.base_url, UPSTREAM_KEY, name=persona_account.name),
    )
    assert "already exists" in duplicate.content.decode()
    _assert_no_keys(duplicate.content.decode(), "the duplicate-name form")


def test_logs_and_audit_entries_never_contain_a_key(
    caplog, superuser_client, alice_client, persona_account, upstream
):
    caplog.set_level(logging.DEBUG)
    create = reverse("accounts:create")
    superuser_client.post(create, _form(upstream.base_url, WRONG_KEY))
    superuser_client.post(create, _form(upstream.base_url, UPSTREAM_KEY))
    created = CloudAccount.objects.get(name="Leak check")
    edit = reverse("accounts:edit", args=[created.pk])
    alice_client.post(edit, _form(upstream.base_url, REPLACEMENT_KEY))  # 403: not admin
    superuser_client.post(edit, _form(upstream.base_url, REPLACEMENT_KEY))  # refused
    superuser_client.post(edit, _form(upstream.base_url, OTHER_UPSTREAM_KEY))  # accepted
    # A failing connection test: the persona account points at a closed port.
    superuser_client.post(reverse("accounts:test", args=[persona_account.pk]))
    upstream.inject_fault(path_regex="/users/me", fault="status", status=502)
    superuser_client.post(reverse("accounts:test", args=[created.pk]))

    actions = list(AuditLog.objects.order_by("id").values_list("action", "result"))
    assert actions == [
        ("account.create", "failed"),
        ("account.create", "ok"),
        ("account.update", "failed"),
        ("account.update", "ok"),
        ("account.test", "failed"),
        ("account.test", "failed"),
    ]
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert "Could not reach the server" in logged  # the logs were really captured
    _assert_no_keys(logged, "the log")
    details = " ".join(AuditLog.objects.values_list("detail", flat=True))
    _assert_no_keys(details, "the audit log")


@pytest.fixture
def failing_get_user(monkeypatch):
    """Make every users/me call blow up inside the client, as a bug would."""

    def explode(self: AppServerClient) -> None:
        raise RuntimeError("users/me exploded")

    monkeypatch.setattr(AppServerClient, "get_user", explode)


def test_error_reports_never_contain_the_key(settings, superuser, failing_get_user, caplog):
    settings.DEBUG = False  # what production runs with; reports filter secrets only then
    reports: list[tuple[object, tuple]] = []

    def keep(sender: object, request: object, **kwargs: object) -> None:
        reports.append((request, sys.exc_info()))

    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    got_request_exception.connect(keep)
    try:
        response = client.post(
            reverse("accounts:create"), _form("https://app.example.test", WRONG_KEY)
        )
    finally:
        got_request_exception.disconnect(keep)

    assert response.status_code == 500
    [(request, exc_info)] = reports
    reporter = ExceptionReporter(request, *exc_info)
    text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "users/me exploded" in text  # the report is about the right failure...
    assert "api_key" in text  # ...and shows the POST data, with the key masked
    _assert_no_keys(text, "the plain-text error report")
    _assert_no_keys(html, "the HTML error report")
    _assert_no_keys(caplog.text, "the logged 500")
    assert not CloudAccount.objects.filter(name="Leak check").exists()


def test_reprs_never_contain_the_key(persona_account):
    with persona_account.client() as client:
        _assert_no_keys(f"{persona_account!r} {persona_account} {client!r}", "a repr")
