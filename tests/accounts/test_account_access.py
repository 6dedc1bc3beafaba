from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from apps.accounts.access import (
    accounts_for_user,
    audited_accounts_for_user,
    get_account_for_user,
    role_for,
)
from apps.accounts.models import CloudAccount, Role

ALLOWED, FORBIDDEN, HIDDEN = "allowed", "403", "404"

# persona -> what get_account_for_user answers for (viewer, operator, admin) minimum roles.
MATRIX = {
    "superuser": (ALLOWED, ALLOWED, ALLOWED),
    "alice": (ALLOWED, ALLOWED, ALLOWED),
    "oscar": (ALLOWED, ALLOWED, FORBIDDEN),
    "victor": (ALLOWED, FORBIDDEN, FORBIDDEN),
    "charlie": (HIDDEN, HIDDEN, HIDDEN),
}
EXPECTED_ROLE = {
    "superuser": Role.ADMIN,
    "alice": Role.ADMIN,
    "oscar": Role.OPERATOR,
    "victor": Role.VIEWER,
    "charlie": None,
}


def _outcome(user, account: CloudAccount, minimum_role: Role) -> str:
    request = RequestFactory().get("/")
    request.user = user
    try:
        assert get_account_for_user(request, account.pk, minimum_role) == account
    except PermissionDenied:
        return FORBIDDEN
    except Http404:
        return HIDDEN
    return ALLOWED


@pytest.mark.parametrize("persona", MATRIX)
def test_role_matrix(request, persona, persona_account):
    user = request.getfixturevalue(persona)
    outcomes = tuple(
        _outcome(user, persona_account, role) for role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
    )
    assert outcomes == MATRIX[persona]
    assert role_for(user, persona_account) == EXPECTED_ROLE[persona]


def test_roles_are_ordered():
    assert Role.VIEWER < Role.OPERATOR < Role.ADMIN
    assert Role.ADMIN >= Role.OPERATOR


def test_an_unknown_account_is_404_even_for_a_superuser(superuser):
    request = RequestFactory().get("/")
    request.user = superuser
    with pytest.raises(Http404):
        get_account_for_user(request, 999_999)


def test_anonymous_users_see_nothing(persona_account):
    assert role_for(AnonymousUser(), persona_account) is None
    assert list(accounts_for_user(AnonymousUser())) == []


def test_an_inactive_superuser_administers_nothing(superuser, persona_account):
    superuser.is_active = False
    assert role_for(superuser, persona_account) is None
    assert list(accounts_for_user(superuser)) == []


def test_accounts_for_user_lists_own_accounts_with_the_role(
    persona_account, superuser, alice, victor, charlie
):
    other = CloudAccount.objects.create(name="Other", base_url="https://other.example.test")
    assert list(accounts_for_user(charlie)) == []
    [row] = accounts_for_user(victor)
    assert (row, row.member_role) == (persona_account, Role.VIEWER)
    # Superusers see every account; their member_role is None where they are no member.
    assert {(row.name, row.member_role) for row in accounts_for_user(superuser)} == {
        (persona_account.name, None),
        (other.name, None),
    }


def test_only_admins_read_the_audit_trail_of_their_accounts(
    persona_account, superuser, alice, oscar
):
    other = CloudAccount.objects.create(name="Other", base_url="https://other.example.test")
    assert list(audited_accounts_for_user(alice)) == [persona_account]
    assert list(audited_accounts_for_user(oscar)) == []
    assert set(audited_accounts_for_user(superuser)) == {persona_account, other}
