"""Account pages: what each role sees and can do, and the audit entry every action leaves."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.accounts.models import AuditLog, CloudAccount, Membership, Role
from tests.accounts.conftest import UPSTREAM_KEY


def _html(response) -> str:
    return response.content.decode()


# --- list and detail ---------------------------------------------------------------------------


def test_the_list_shows_my_accounts_with_my_role(victor_client, persona_account):
    html = _html(victor_client.get(reverse("accounts:list")))
    assert persona_account.name in html
    assert "Viewer" in html
    assert "Add account" not in html


def test_an_outsider_sees_an_empty_list(charlie_client, persona_account):
    html = _html(charlie_client.get(reverse("accounts:list")))
    assert persona_account.name not in html
    assert "not a member of any Cloud account" in html


def test_superusers_see_every_account_and_may_add_one(superuser_client, persona_account):
    html = _html(superuser_client.get(reverse("accounts:list")))
    assert persona_account.name in html
    assert "(superuser)" in html
    assert reverse("accounts:create") in html


def test_only_superusers_may_create_accounts(alice_client):
    assert alice_client.get(reverse("accounts:create")).status_code == 403


def test_the_detail_page_shows_the_masked_key_and_fits_the_role(
    victor_client, oscar_client, alice_client, persona_account
):
    url = reverse("accounts:detail", args=[persona_account.pk])
    viewer_html = _html(victor_client.get(url))
    assert f"••••{persona_account.key_last4}" in viewer_html
    assert "victor" in viewer_html  # the members table
    assert "Test connection" not in viewer_html
    assert reverse("accounts:edit", args=[persona_account.pk]) not in viewer_html

    assert "Test connection" in _html(oscar_client.get(url))
    admin_html = _html(alice_client.get(url))
    assert reverse("accounts:edit", args=[persona_account.pk]) in admin_html
    assert reverse("accounts:members", args=[persona_account.pk]) in admin_html


# --- test connection -------------------------------------------------------------------------


def test_htmx_connection_test_returns_only_the_fragment(oscar_client, persona_account):
    response = oscar_client.post(
        reverse("accounts:test", args=[persona_account.pk]), headers={"HX-Request": "true"}
    )
    html = _html(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="connection">')
    assert "<html" not in html
    assert "Could not reach the server." in html
    persona_account.refresh_from_db()
    assert persona_account.last_check_ok is False
    entry = AuditLog.objects.get(action="account.test")
    assert (entry.result, entry.username, entry.account) == ("failed", "oscar", persona_account)


def test_the_connection_test_shows_who_the_key_belongs_to(
    oscar_client, persona_account, upstream, upstream_user
):
    persona_account.base_url = upstream.base_url
    persona_account.set_api_key(UPSTREAM_KEY)
    persona_account.save()
    response = oscar_client.post(
        reverse("accounts:test", args=[persona_account.pk]), headers={"HX-Request": "true"}
    )
    html = _html(response)
    owner = f"Connected as {upstream_user['email']}, organization {upstream_user['org_name']}."
    assert owner in html
    assert upstream_user["id"] in html
    assert AuditLog.objects.get(action="account.test").result == "ok"


def test_the_connection_test_works_without_javascript(oscar_client, persona_account):
    url = reverse("accounts:test", args=[persona_account.pk])
    response = oscar_client.post(url, follow=True)
    assert response.redirect_chain == [(reverse("accounts:detail", args=[persona_account.pk]), 302)]
    assert "Could not reach the server." in _html(response)


def test_a_bad_key_gives_a_clear_401_message(oscar_client, persona_account, upstream):
    persona_account.base_url = upstream.base_url
    persona_account.save()  # the persona key is not the one the server expects
    html = _html(
        oscar_client.post(
            reverse("accounts:test", args=[persona_account.pk]), headers={"HX-Request": "true"}
        )
    )
    assert "The server rejected the API key (HTTP 401)" in html


# --- delete ------------------------------------------------------------------------------------


def test_an_admin_deletes_after_confirming(alice_client, persona_account):
    url = reverse("accounts:delete", args=[persona_account.pk])
    assert "Delete Acme Cloud?" in _html(alice_client.get(url))
    response = alice_client.post(url)
    assert response.status_code == 302
    assert not CloudAccount.objects.exists()
    entry = AuditLog.objects.get(action="account.delete")
    # The account row is gone; the entry keeps what it was.
    assert (entry.account, entry.target_label, entry.result) == (None, "Acme Cloud", "ok")


def test_an_operator_cannot_delete(oscar_client, persona_account):
    assert (
        oscar_client.post(reverse("accounts:delete", args=[persona_account.pk])).status_code == 403
    )
    assert CloudAccount.objects.filter(pk=persona_account.pk).exists()


# --- members -----------------------------------------------------------------------------------


def test_an_admin_adds_a_member(alice_client, persona_account, charlie):
    url = reverse("accounts:member_add", args=[persona_account.pk])
    response = alice_client.post(url, {"username": "charlie", "role": Role.OPERATOR})
    assert response.status_code == 302
    member = Membership.objects.get(user=charlie)
    assert (member.account, member.role) == (persona_account, Role.OPERATOR)
    entry = AuditLog.objects.get(action="member.add")
    assert (entry.target_type, entry.detail, entry.account) == (
        "membership",
        "role: Operator",
        persona_account,
    )


def test_adding_an_unknown_or_existing_user_is_a_clear_error(alice_client, persona_account, victor):
    url = reverse("accounts:member_add", args=[persona_account.pk])
    unknown = alice_client.post(url, {"username": "nobody", "role": Role.VIEWER})
    assert unknown.status_code == 400
    assert "There is no active dashboard user named &#x27;nobody&#x27;" in _html(unknown)
    existing = alice_client.post(url, {"username": "victor", "role": Role.ADMIN})
    assert "victor is already a member" in _html(existing)
    assert Membership.objects.get(user=victor).role == Role.VIEWER
    assert not AuditLog.objects.exists()


def test_an_admin_changes_a_role(alice_client, persona_account, victor):
    member = Membership.objects.get(user=victor)
    url = reverse("accounts:member_role", args=[persona_account.pk, member.pk])
    assert alice_client.post(url, {"role": Role.OPERATOR}).status_code == 302
    member.refresh_from_db()
    assert member.role == Role.OPERATOR
    assert AuditLog.objects.get(action="member.role").detail == "role: Viewer -> Operator"


def test_an_admin_removes_a_member(alice_client, persona_account, victor):
    member = Membership.objects.get(user=victor)
    url = reverse("accounts:member_remove", args=[persona_account.pk, member.pk])
    assert alice_client.post(url).status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    entry = AuditLog.objects.get(action="member.remove")
    assert (entry.result, entry.target_id) == ("ok", str(member.pk))


def test_the_last_admin_stays_unless_a_superuser_removes_them(
    alice_client, superuser_client, persona_account, alice
):
    member = Membership.objects.get(user=alice)
    remove = reverse("accounts:member_remove", args=[persona_account.pk, member.pk])
    demote = reverse("accounts:member_role", args=[persona_account.pk, member.pk])

    response = alice_client.post(remove, follow=True)
    assert "alice is the last admin of Acme Cloud" in _html(response)
    alice_client.post(demote, {"role": Role.VIEWER})
    member.refresh_from_db()
    assert member.role == Role.ADMIN
    assert list(AuditLog.objects.values_list("action", "result")) == [
        ("member.role", "failed"),
        ("member.remove", "failed"),
    ]

    assert superuser_client.post(remove).status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_a_member_of_another_account_cannot_be_reached_through_mine(alice_client, persona_account):
    other = CloudAccount.objects.create(name="Other", base_url="https://other.example.test")
    stranger = get_user_model().objects.create_user("stranger")
    foreign = Membership.objects.create(account=other, user=stranger, role=Role.VIEWER)
    url = reverse("accounts:member_remove", args=[persona_account.pk, foreign.pk])
    assert alice_client.post(url).status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


# --- audit page --------------------------------------------------------------------------------


def _entry(action: str, account: CloudAccount | None) -> AuditLog:
    return AuditLog.objects.create(
        username="someone", action=action, target_label="thing", account=account, result="ok"
    )


def test_account_admins_read_their_accounts_audit_entries_only(
    alice_client, superuser_client, persona_account
):
    other = CloudAccount.objects.create(name="Other", base_url="https://other.example.test")
    _entry("mine.action", persona_account)
    _entry("theirs.action", other)

    alice_html = _html(alice_client.get(reverse("accounts:audit")))
    assert "mine.action" in alice_html
    assert "theirs.action" not in alice_html
    root_html = _html(superuser_client.get(reverse("accounts:audit")))
    assert "mine.action" in root_html
    assert "theirs.action" in root_html


def test_non_admins_cannot_read_the_audit_log(oscar_client, charlie_client):
    assert oscar_client.get(reverse("accounts:audit")).status_code == 403
    assert charlie_client.get(reverse("accounts:audit")).status_code == 403


def test_the_audit_log_filters_and_pages(superuser_client, persona_account):
    for number in range(55):
        _entry(f"bulk.action{number % 2}", persona_account)
    _entry("lonely.action", None)
    url = reverse("accounts:audit")

    first = _html(superuser_client.get(url))
    assert "Page 1 of 2" in first
    assert "lonely.action</td>" in first  # newest first
    assert "Page 2 of 2" in _html(superuser_client.get(url, {"page": 2}))

    filtered = _html(superuser_client.get(url, {"action": "lonely.action"}))
    assert filtered.count('<td class="mono">lonely.action</td>') == 1
    assert "bulk.action0</td>" not in filtered
    by_account = _html(superuser_client.get(url, {"account": persona_account.pk}))
    assert "lonely.action</td>" not in by_account
    assert "Page 1 of 2" in by_account
