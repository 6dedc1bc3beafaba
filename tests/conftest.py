"""Fixtures shared by every tier. Peer fixtures (fake App Server, real OpenHands servers,
browser) live in tests/peers/ and are registered here."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.personas",
    "tests.peers.fake_fixtures",
    "tests.peers.browser_fixtures",
    "tests.peers.live_fixtures",
]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Hashed (manifest) static names need collectstatic; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
