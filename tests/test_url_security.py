"""Walk EVERY URL pattern of the project and check the rules that hold for all of them.

The patterns are read from the resolver, so a page added later is covered without editing
this file -- unless its URL takes a parameter this file has never seen: then
``test_every_url_parameter_can_be_filled`` fails and says what to add to ``URL_OBJECTS``.

Rules: anonymous visitors are sent to the login page (htmx requests get 403 + HX-Redirect);
outsiders get 403/404 on an account's objects; a viewer cannot change anything (POST -> 403);
every POST needs a CSRF token; no page ever shows an API key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from apps.accounts.connection import check_connection
from apps.accounts.models import AuditLog, CloudAccount, Membership
from tests.personas import (
    PERSONA_API_KEY,
    PERSONA_NAMES,
    Personas,
    assert_no_key_in,
    create_personas,
)

# Views that must answer without a session, and why. Nothing else may skip the login.
EXEMPT_FROM_LOGIN = {
    "login": "the login form itself",
    "healthz": "load balancers and container health checks call it without credentials",
}
# The Django admin is left out of the walk: it has its own staff login (checked below by
# test_the_admin_needs_a_staff_login), its URLs take the app label and object id of every
# installed model, and Django's own test suite covers its permission and CSRF handling.
SKIPPED_NAMESPACES = ("admin",)
# POSTs a viewer may make because they only concern the viewer's own session or password.
VIEWER_MAY_POST = {
    "login": "logging in again (an invalid form is answered with the form)",
    "logout": "ending one's own session",
    "password_change": "changing one's own password",
}


@dataclass(frozen=True)
class World:
    """The personas, and the objects whose ids fill URL parameters."""

    personas: Personas
    membership: Membership

    @property
    def account(self) -> CloudAccount:
        return self.personas.account

    def client(self, persona: str) -> Client:
        return self.personas.client(persona)


# "<namespace>:<parameter>" -> the value that parameter takes in the world. Extend this when a
# new page takes a new parameter; use an object that the personas' account owns.
URL_OBJECTS: dict[str, Callable[[World], Any]] = {
    "accounts:pk": lambda world: world.account.pk,
    "accounts:member_pk": lambda world: world.membership.pk,
    "sync:pk": lambda world: world.account.pk,
}


@dataclass(frozen=True)
class Route:
    """One named URL pattern and the parameters it takes."""

    name: str
    parameters: tuple[str, ...]
    view: Callable[..., Any]

    @property
    def namespace(self) -> str:
        return self.name.rpartition(":")[0]

    def url(self, world: World) -> str:
        kwargs = {parameter: _fill(self, parameter, world) for parameter in self.parameters}
        return reverse(self.name, kwargs=kwargs)


def _parameters(pattern: Any) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters)
    return tuple(pattern.regex.groupindex)


def _walk(
    patterns: list[Any], namespace: str = "", inherited: tuple[str, ...] = ()
) -> Iterator[Route | str]:
    """Yield every URL pattern as a Route, or as its regex text when it has no name."""
    for entry in patterns:
        parameters = inherited + _parameters(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, inner.strip(":"), parameters)
        elif isinstance(entry, URLPattern):
            if entry.name is None:
                yield f"{namespace}:{entry.pattern}"
            else:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                yield Route(name, parameters, entry.callback)


def _all_routes() -> tuple[list[Route], list[str]]:
    routes, unnamed = [], []
    for found in _walk(get_resolver().url_patterns):
        namespace = found.namespace if isinstance(found, Route) else found.partition(":")[0]
        if namespace.split(":")[0] in SKIPPED_NAMESPACES:
            continue
        (routes if isinstance(found, Route) else unnamed).append(found)
    return routes, unnamed


ROUTES, UNNAMED = _all_routes()
PROTECTED = [route for route in ROUTES if route.name not in EXEMPT_FROM_LOGIN]
WITH_OBJECTS = [route for route in ROUTES if route.parameters]
IDS = {"ids": lambda route: route.name}


def _fill(route: Route, parameter: str, world: World) -> Any:
    provider = URL_OBJECTS.get(f"{route.namespace}:{parameter}")
    if provider is None:
        raise LookupError(
            f"URL {route.name!r} takes {parameter!r}, which tests/test_url_security.py cannot "
            f"fill: add '{route.namespace}:{parameter}' to URL_OBJECTS."
        )
    return provider(world)


@pytest.fixture
def world(db) -> World:
    personas = create_personas()
    return World(personas=personas, membership=personas.membership("victor"))


def _snapshot() -> list[Any]:
    """Return every stored account, membership and audit entry, to prove nothing changed."""
    return [
        list(CloudAccount.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values()),
        AuditLog.objects.count(),
    ]


def test_every_page_has_a_name():
    assert UNNAMED == [], "name every URL pattern so that it can be reversed and walked"


@pytest.mark.django_db
def test_every_url_parameter_can_be_filled(world):
    for route in WITH_OBJECTS:
        route.url(world)  # raises LookupError naming what to add


def test_only_the_documented_views_skip_the_login():
    skipping = {
        route.name for route in ROUTES if getattr(route.view, "login_required", True) is False
    }
    assert skipping <= set(EXEMPT_FROM_LOGIN)


@pytest.mark.django_db
@pytest.mark.parametrize("route", PROTECTED, **IDS)
def test_anonymous_visitors_are_sent_to_the_login_page(client, route, world):
    url = route.url(world)
    login = f"{reverse('login')}?next={quote(url)}"
    for response in (client.get(url), client.post(url)):
        assert (response.status_code, response["Location"]) == (302, login)

    # An htmx request must not get a login form swapped into part of the page.
    htmx = client.get(url, headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/"})
    assert htmx.status_code == 403
    assert htmx["HX-Redirect"] == f"{reverse('login')}?next=/"


@pytest.mark.django_db
def test_healthz_answers_without_login(client):
    response = client.get(reverse("healthz"))
    # 503 is an honest answer when the broker is down in a test run; what matters is that it
    # answers at all instead of redirecting to the login page.
    assert response.status_code in {200, 503}
    assert "status" in response.json()


@pytest.mark.django_db
def test_the_admin_needs_a_staff_login(client, world):
    for visitor in (client, world.client("charlie")):
        response = visitor.get(reverse("admin:index"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
@pytest.mark.parametrize("route", WITH_OBJECTS, **IDS)
def test_outsiders_cannot_reach_an_accounts_objects(route, world):
    charlie_client = world.client("charlie")
    url = route.url(world)
    before = _snapshot()
    statuses = {charlie_client.get(url).status_code, charlie_client.post(url).status_code}
    # 405 (wrong method) reveals nothing, but at least one method must reach the access check.
    assert statuses <= {403, 404, 405}
    assert statuses != {405}
    assert _snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, **IDS)
def test_viewers_cannot_change_anything(route, world):
    if route.name in VIEWER_MAY_POST:
        return
    before = _snapshot()
    response = world.client("victor").post(route.url(world), {"role": "30", "name": "hijacked"})
    assert response.status_code in {403, 405}
    assert _snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, **IDS)
def test_every_post_needs_a_csrf_token(route, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.personas.users["superuser"])
    before = _snapshot()
    response = client.post(route.url(world))
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert _snapshot() == before


# --- no page shows an API key ------------------------------------------------------------------


def _admin_urls(account: CloudAccount) -> list[str]:
    return [
        reverse("admin:index"),
        reverse("admin:accounts_cloudaccount_changelist"),
        reverse("admin:accounts_cloudaccount_change", args=[account.pk]),
        reverse("admin:accounts_membership_changelist"),
        reverse("admin:accounts_auditlog_changelist"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONA_NAMES)
def test_no_page_shows_the_api_key(persona, world):
    account = world.account
    account.record_check(check_connection(account))  # fill the last-check fields
    account.save()
    client = world.client(persona)
    urls = [route.url(world) for route in ROUTES] + _admin_urls(account)
    for url in urls:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code < 500, url
            body = b"".join(response.streaming_content) if response.streaming else response.content
            html = body.decode(errors="replace")
            assert_no_key_in(html, PERSONA_API_KEY, f"GET {url} as {persona}")
            assert account.encrypted_api_key not in html


def test_the_fragment_check_catches_a_leak():
    # The helper above must be able to fail, or the walk proves nothing.
    with pytest.raises(AssertionError):
        assert_no_key_in(f"key ends …{PERSONA_API_KEY[-5:]}", PERSONA_API_KEY, "sample")
    assert_no_key_in(f"key ••••{PERSONA_API_KEY[-4:]}", PERSONA_API_KEY, "sample")
