"""Fixtures shared by the client-library tests: a fake clock and a faked App Server.

A module that tests the agent server overrides `router` with a fake of that server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from apps.openhands import AppServerClient
from tests.openhands.support import FakeClock, app_client, app_router


@pytest.fixture
def router() -> respx.MockRouter:
    return app_router()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(router: respx.MockRouter, clock: FakeClock) -> Iterator[AppServerClient]:
    with app_client(router, clock) as client:
        yield client
