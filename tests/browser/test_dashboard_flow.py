"""The browser tier: a real Chromium against a live Django server, a Celery worker and beat,
and the fake App Server, all on loopback."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.processes import celery_env, start_beat, start_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def workers(tmp_path):
    """Start a real Celery worker and beat against the live server's database."""
    env = celery_env(tmp_path, HEARTBEAT_INTERVAL_SECONDS="1")
    started = [start_worker(tmp_path, env), start_beat(tmp_path, env)]
    yield started
    for process in started:
        process.stop()


def log_in(page, base_url: str) -> None:
    get_user_model().objects.create_superuser("root", "", PASSWORD)
    page.goto(base_url + "/")
    assert "/login/" in page.url
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Overview')")


def test_an_administrator_adds_an_account_tests_it_and_downloads_the_audit_log(
    page, live_server, fake_app_server, workers, screenshot, tmp_path
):
    log_in(page, live_server.url)
    # The navigation badge polls our server; it flips once beat and the worker run a task.
    page.wait_for_selector("#pipeline-status .badge.ok", timeout=60_000)

    page.click("text=Cloud accounts")
    page.click("text=Add account")
    page.fill("#id_name", "Team <b>Cloud</b>")
    page.fill("#id_base_url", fake_app_server.base_url)
    page.select_option("#id_auth_style", "bearer")
    page.fill("#id_api_key", fake_app_server.api_key)
    page.click("main button[type=submit]")
    page.wait_for_selector("h1:has-text('Team <b>Cloud</b>')")  # escaped, shown as text
    assert fake_app_server.api_key not in page.content()
    assert f"••••{fake_app_server.api_key[-4:]}" in page.content()

    # A partial refresh: htmx swaps only #connection; a marker on <body> survives.
    page.evaluate("document.body.dataset.marker = 'same-page'")
    page.click("button:has-text('Test connection')")
    page.wait_for_selector("#connection:has-text('Key belongs to')")
    assert page.evaluate("document.body.dataset.marker") == "same-page"
    screenshot(page, "account-detail")

    # An action that goes through the worker: "Sync now" enqueues a task, the real worker
    # mirrors the fake's demo data, and the polled status table turns ok without a reload.
    page.click("text=Sync status and history")
    page.wait_for_selector("h1:has-text('Sync')")
    page.evaluate("document.body.dataset.marker = 'sync-page'")
    page.click("button:has-text('Sync now')")
    page.wait_for_selector("#sync-status .message:has-text('Sync requested')")
    # Both resources (conversations, sandboxes) show "ok" once the worker has synced them.
    page.locator("#sync-status tbody .badge.ok").nth(1).wait_for(timeout=60_000)
    assert page.evaluate("document.body.dataset.marker") == "sync-page"
    screenshot(page, "sync-status")
    page.click("text=Overview")
    page.wait_for_selector("h1:has-text('Overview')")
    screenshot(page, "overview")

    page.click("text=Audit log >> nth=0")
    page.wait_for_selector("h1:has-text('Audit log')")
    screenshot(page, "audit-log")
    with page.expect_download() as download_info:
        page.click("text=Download CSV")
    saved = tmp_path / "audit.csv"
    download_info.value.save_as(saved)
    text = saved.read_text()
    assert "account.create" in text
    assert "account.test" in text
    assert fake_app_server.api_key not in text
    assert page.console_errors == []
