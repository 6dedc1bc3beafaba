"""What one generation of the fake serves, and what a handler gets to work with.

``POST /_fake/reset`` builds a new :class:`ServingState` and swaps it in whole, so a request that
started before a reset finishes against the world it started with.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from apps.fake_app_server.auth import Gatekeeper
from apps.fake_app_server.clock import FakeClock
from apps.fake_app_server.config import Settings
from apps.fake_app_server.data import generate_world
from apps.fake_app_server.model import User
from apps.fake_app_server.simulation import Simulation
from apps.fake_app_server.store import Store
from apps.fake_app_server.timeutil import utc_now_whole_second


@dataclass(frozen=True)
class ServingState:
    """The world, its clock and its gatekeeper, built from one set of settings."""

    settings: Settings
    store: Store
    clock: FakeClock
    simulation: Simulation
    gatekeeper: Gatekeeper

    @classmethod
    def build(cls, settings: Settings, base_url: str) -> ServingState:
        """Generate the world for ``settings`` and everything that serves it."""
        scenario = settings.scenario
        start = scenario.start_time or utc_now_whole_second()
        user_count = len(settings.access.api_keys) if settings.access.auth == "bearer" else 1
        store = Store(generate_world(scenario, start, user_count), scenario)
        store.base_url = base_url
        return cls(
            settings=settings,
            store=store,
            clock=FakeClock(start, frozen=scenario.frozen_clock),
            simulation=Simulation(store, scenario),
            gatekeeper=Gatekeeper(settings.access, store.users),
        )

    def advance(self) -> datetime:
        """Apply every change due by the fake clock's now; return that time.

        Call with ``store.lock`` held.
        """
        now = self.clock.now()
        self.simulation.advance(now)
        return now


@dataclass
class Context:
    """What a handler works with: the state, the request's fake time, the caller."""

    state: ServingState
    now: datetime
    user: User
    stopping: threading.Event

    @property
    def store(self) -> Store:
        """Return the store."""
        return self.state.store

    @property
    def simulation(self) -> Simulation:
        """Return the simulation."""
        return self.state.simulation

    @property
    def owner(self) -> int:
        """Return the caller's user index (whose records they see)."""
        return self.user.index
