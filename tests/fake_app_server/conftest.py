"""Fixtures for the fake App Server's own tests (its process fixtures are registered in the
root conftest from tests.peers.fake_fixtures)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.peers.fake_fixtures import FakeAppServer


@pytest.fixture
def api(fake_app_server: FakeAppServer) -> Iterator[httpx.Client]:
    """Yield an httpx client for ``/api/v1`` authenticated as user 0."""
    with httpx.Client(
        base_url=fake_app_server.api_url, headers=fake_app_server.headers, timeout=30
    ) as client:
        yield client
