"""The sync status page and the "sync now" / "reconcile now" actions: roles, CSRF, audit, and
the enqueued run."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import AuditLog
from apps.conversations.models import Conversation
from apps.sync.engine import run_account_sync
from apps.sync.models import Resource, SyncState
from dashboard.celery import app as celery_app
from tests.personas import PERSONA_API_KEY, assert_no_key_in
from tests.sync.conftest import upstream_state

pytestmark = [pytest.mark.usefixtures("fast_sync_settings")]

ACTIONS = ("sync:sync_now", "sync:reconcile_now")


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
    assert b"Reconcile now" not in page.content
    for action in ACTIONS:
        assert victor_client.post(reverse(action, args=[persona_account.pk])).status_code == 403
    assert not AuditLog.objects.filter(action__startswith="sync.").exists()


def test_an_outsider_gets_404(charlie_client, persona_account):
    assert charlie_client.get(reverse("sync:status", args=[persona_account.pk])).status_code == 404
    for action in ACTIONS:
        assert charlie_client.post(reverse(action, args=[persona_account.pk])).status_code == 404
    assert not AuditLog.objects.filter(action__startswith="sync.").exists()


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


@pytest.mark.parametrize("action", ACTIONS)
def test_the_sync_actions_need_the_csrf_token(oscar, persona_account, action):
    client = Client(enforce_csrf_checks=True)
    client.force_login(oscar)

    response = client.post(reverse(action, args=[persona_account.pk]))

    assert response.status_code == 403
    assert not AuditLog.objects.filter(action__startswith="sync.").exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_the_sync_actions_refuse_get(oscar_client, persona_account, action):
    assert oscar_client.get(reverse(action, args=[persona_account.pk])).status_code == 405


@pytest.mark.usefixtures("eager_tasks")
def test_an_operator_reconciles_now_and_a_deletion_upstream_is_marked(
    oscar_client, account_on_fake, frozen_fake
):
    run_account_sync(account_on_fake.pk)  # the first run is full; the next one is not due
    deleted = sorted(upstream_state(frozen_fake)[0])[0]
    frozen_fake.advance_clock(30)
    frozen_fake.mutate("delete_conversation", conversation_id=deleted)
    sync_url = reverse("sync:sync_now", args=[account_on_fake.pk])
    reconcile_url = reverse("sync:reconcile_now", args=[account_on_fake.pk])

    oscar_client.post(sync_url)  # incremental: a deletion does not show in changed-since
    assert Conversation.objects.get(remote_id=deleted).deleted_upstream_at is None

    response = oscar_client.post(reconcile_url)

    assert response.status_code == 302
    assert response.url == reverse("sync:status", args=[account_on_fake.pk])
    assert Conversation.objects.get(remote_id=deleted).deleted_upstream_at is not None
    state = SyncState.objects.get(account=account_on_fake, resource=Resource.CONVERSATIONS)
    assert (state.status, state.last_was_full) == (SyncState.Status.OK, True)
    entry = AuditLog.objects.get(action="sync.reconcile")
    assert (entry.username, entry.account, entry.result) == ("oscar", account_on_fake, "ok")
    assert "Full reconciliation" in entry.detail
    page = oscar_client.get(response.url)
    assert b"Full reconciliation requested" in page.content
    assert b"(full)" in page.content


@pytest.mark.usefixtures("eager_tasks")
def test_htmx_reconcile_gets_only_the_refreshed_status_table(oscar_client, account_on_fake):
    response = oscar_client.post(
        reverse("sync:reconcile_now", args=[account_on_fake.pk]), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert b'id="sync-status"' in response.content
    assert b"<html" not in response.content
    assert b"Full reconciliation requested" in response.content
    assert AuditLog.objects.filter(action="sync.reconcile").count() == 1


def test_the_status_page_shows_the_accounts_rate_budget(victor_client, persona_account, settings):
    settings.SYNC_RATE_PER_MINUTE = 80.0
    settings.SYNC_RATE_BURST = 8
    url = reverse("sync:status", args=[persona_account.pk])

    default = rate_budget_text(victor_client.get(url))
    persona_account.sync_rate_per_minute = 300.0
    persona_account.save()
    overridden = rate_budget_text(victor_client.get(url))

    assert default == (
        "Rate budget: 80 requests per minute (global default), bursts of 8 (global default)."
    )
    assert overridden == (
        "Rate budget: 300 requests per minute (this account's setting), bursts of 8 "
        "(global default)."
    )


def rate_budget_text(response) -> str:
    """Return the words of the status page's rate budget line."""
    paragraph = re.search(r'id="rate-budget">(.*?)</p>', response.content.decode(), re.S)
    assert paragraph is not None, "the status page shows no rate budget"
    return " ".join(paragraph.group(1).split())
