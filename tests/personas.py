"""Shared test personas: one Cloud account and the people around it.

- ``superuser`` ("root"): a dashboard administrator, admin of every account without membership;
- ``alice``: admin of ``persona_account``;
- ``oscar``: operator of it;
- ``victor``: viewer of it;
- ``charlie``: an outsider, member of nothing.

Each has a logged-in test client (``alice_client`` ...); ``personas`` holds them all. Import the
fixtures you use into your test directory's ``conftest.py``; a test module outside such a
directory can call ``create_personas()`` from a fixture of its own instead.

``assert_no_key_in(text, key, where)`` fails when a page, log or report shows any piece of an
API key longer than its last four characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from apps.accounts.models import CloudAccount, Membership, Role
from apps.openhands import AuthStyle

# Deterministic and unlike any other text on a page, so that a leak is found, never imagined.
PERSONA_API_KEY = "sk-oh-Jq7vW2xZp9LmK4tRb8NcY3hGd6FsQ1eU"
# Nothing listens on port 9 (discard) on loopback: a check against it fails fast.
PERSONA_BASE_URL = "http://127.0.0.1:9"
PERSONA_NAMES = ("superuser", "alice", "oscar", "victor", "charlie")
ROLES = {"alice": Role.ADMIN, "oscar": Role.OPERATOR, "victor": Role.VIEWER}


@dataclass(frozen=True)
class Personas:
    """The persona account and every persona's user, by name."""

    account: CloudAccount
    users: dict[str, AbstractBaseUser]

    def client(self, name: str) -> Client:
        """Return a test client logged in as persona ``name``."""
        client = Client()
        client.force_login(self.users[name])
        return client

    def membership(self, name: str) -> Membership:
        return Membership.objects.get(account=self.account, user=self.users[name])


def create_personas() -> Personas:
    """Create the persona account and users (call it inside a test with database access)."""
    account = CloudAccount(
        name="Acme Cloud", base_url=PERSONA_BASE_URL, auth_style=AuthStyle.BEARER.value
    )
    account.set_api_key(PERSONA_API_KEY)
    account.save()
    user_model = get_user_model()
    # No passwords: tests log in with force_login, and hashing would only slow them down.
    users = {"superuser": user_model.objects.create_user("root", is_superuser=True, is_staff=True)}
    for username in ("alice", "oscar", "victor", "charlie"):
        users[username] = user_model.objects.create_user(username)
        if username in ROLES:
            Membership.objects.create(account=account, user=users[username], role=ROLES[username])
    return Personas(account=account, users=users)


@pytest.fixture
def personas(db) -> Personas:
    return create_personas()


@pytest.fixture
def persona_account(personas: Personas) -> CloudAccount:
    return personas.account


@pytest.fixture
def superuser(personas: Personas) -> AbstractBaseUser:
    return personas.users["superuser"]


@pytest.fixture
def alice(personas: Personas) -> AbstractBaseUser:
    return personas.users["alice"]


@pytest.fixture
def oscar(personas: Personas) -> AbstractBaseUser:
    return personas.users["oscar"]


@pytest.fixture
def victor(personas: Personas) -> AbstractBaseUser:
    return personas.users["victor"]


@pytest.fixture
def charlie(personas: Personas) -> AbstractBaseUser:
    return personas.users["charlie"]


@pytest.fixture
def superuser_client(personas: Personas) -> Client:
    return personas.client("superuser")


@pytest.fixture
def alice_client(personas: Personas) -> Client:
    return personas.client("alice")


@pytest.fixture
def oscar_client(personas: Personas) -> Client:
    return personas.client("oscar")


@pytest.fixture
def victor_client(personas: Personas) -> Client:
    return personas.client("victor")


@pytest.fixture
def charlie_client(personas: Personas) -> Client:
    return personas.client("charlie")


# --- leak checks -------------------------------------------------------------------------------

_CSRF_TOKENS = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')
_KEY_PREFIX = "sk-oh-"


def key_fragments(key: str) -> set[str]:
    """Return every 5-character piece of ``key`` that a page must not show.

    Only the last four characters may appear ("••••abcd"), so any five consecutive ones are a
    leak. Pieces that lie inside the public "sk-oh-" prefix are left out.
    """
    first = len(_KEY_PREFIX) - 4 if key.startswith(_KEY_PREFIX) else 0
    return {key[start : start + 5] for start in range(first, len(key) - 4)}


def assert_no_key_in(text: str, key: str, where: str) -> None:
    # CSRF tokens are random: strip them so that a chance match can never fail a run.
    text = _CSRF_TOKENS.sub(r"\1", text)
    leaked = sorted(fragment for fragment in key_fragments(key) if fragment in text)
    assert not leaked, f"{where} shows part of the API key: {leaked}"
