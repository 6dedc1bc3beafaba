"""The sync status page and the "sync now" action: roles, CSRF, audit, and the enqueued run."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import AuditLog
from apps.sync.models import Resource, SyncState
from dashboard.celery import app as celery_app
from tests.personas import PERSONA_API_KEY, assert_no_key_in

pytestmark = [pytest.mark.usefixtures("fast_sync_settings")]


@pytest.fixture
def eager_tasks():
    """Run enqueued tasks in the test process, so the effect of "sync now" can be checked."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def account_on_fake(persona_account, frozen_fake):
    persona_account.base_url = frozen_fake.base_url
    persona_account.set_api_key(frozen_fake.api_key)
    persona_account.save()
    return persona_account


def test_a_viewer_sees_the_status_page_but_cannot_sync(victor_client, persona_account):
    status_url = reverse("sync:status", args=[persona_account.pk])
    page = victor_client.get(status_url)

    assert page.status_code == 200
    assert b"never run" in page.content
    assert b"Sync now" not in page.content
    assert (
        victor_client.post(reverse("sync:sync_now", args=[persona_account.pk])).status_code == 403
    )
    assert not AuditLog.objects.filter(action="sync.now").exists()


def test_an_outsider_gets_404(charlie_client, persona_account):
    assert charlie_client.get(reverse("sync:status", args=[persona_account.pk])).status_code == 404
    url = reverse("sync:sync_now", args=[persona_account.pk])
    assert charlie_client.post(url).status_code == 404


@pytest.mark.usefixtures("eager_tasks")
def test_an_operator_syncs_now_and_the_action_is_audited(oscar_client, account_on_fake):
    response = oscar_client.post(reverse("sync:sync_now", args=[account_on_fake.pk]))

    assert response.status_code == 302
    entry = AuditLog.objects.get(action="sync.now")
    assert entry.username == "oscar"
    assert entry.account == account_on_fake
    state = SyncState.objects.get(account=account_on_fake, resource=Resource.CONVERSATIONS)
    assert state.status == SyncState.Status.OK
    page = oscar_client.get(response.url)
    assert b"badge ok" in page.content
    assert_no_key_in(page.content.decode(), PERSONA_API_KEY, "the sync status page")


@pytest.mark.usefixtures("eager_tasks")
def test_htmx_gets_only_the_refreshed_status_table(oscar_client, account_on_fake):
    response = oscar_client.post(
        reverse("sync:sync_now", args=[account_on_fake.pk]), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert b'id="sync-status"' in response.content
    assert b"<html" not in response.content
    assert b"Sync requested" in response.content


def test_sync_now_needs_the_csrf_token(oscar, persona_account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(oscar)

    response = client.post(reverse("sync:sync_now", args=[persona_account.pk]))

    assert response.status_code == 403
    assert not AuditLog.objects.filter(action="sync.now").exists()


def test_sync_now_refuses_get(oscar_client, persona_account):
    assert oscar_client.get(reverse("sync:sync_now", args=[persona_account.pk])).status_code == 405
