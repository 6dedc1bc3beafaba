"""The Django admin shows accounts, members and the audit log but cannot change them: changes
go through the dashboard's pages, which verify keys and write the audit log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.models import CloudAccount, Membership


@pytest.mark.django_db
def test_superusers_can_view_accounts_in_the_admin(superuser_client, persona_account):
    page = superuser_client.get(
        reverse("admin:accounts_cloudaccount_change", args=[persona_account.pk])
    )
    assert page.status_code == 200
    assert persona_account.name.encode() in page.content
    assert b'name="_save"' not in page.content, "no save button on a view-only page"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name", ["admin:accounts_cloudaccount_add", "admin:accounts_membership_add"]
)
def test_nothing_can_be_added_in_the_admin(superuser_client, url_name):
    assert superuser_client.get(reverse(url_name)).status_code == 403


@pytest.mark.django_db
def test_an_admin_post_changes_nothing(superuser_client, persona_account):
    url = reverse("admin:accounts_cloudaccount_change", args=[persona_account.pk])
    response = superuser_client.post(url, {"name": "renamed", "base_url": "http://evil.test"})
    assert response.status_code == 403
    persona_account.refresh_from_db()
    assert persona_account.name != "renamed"


@pytest.mark.django_db
def test_members_cannot_be_deleted_in_the_admin(superuser_client, persona_account):
    membership = Membership.objects.filter(account=persona_account).first()
    url = reverse("admin:accounts_membership_delete", args=[membership.pk])
    assert superuser_client.post(url, {"post": "yes"}).status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert CloudAccount.objects.filter(pk=persona_account.pk).exists()
