"""The fake's request pipeline, independent of sockets.

For an ``/api/v1`` (or health) request: find the route, count it, let a fault rule fire, check
credentials and the rate limit, advance the simulation to the fake now, run the handler under
the store lock, then let a fault damage or cut the answer. ``/_fake/`` requests go straight to
the control handlers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.fake_app_server import faults as fault_kinds
from apps.fake_app_server.config import Settings
from apps.fake_app_server.faults import FaultRegistry, FaultRule
from apps.fake_app_server.model import User
from apps.fake_app_server.protocol import ApiError, Request, Response, json_response
from apps.fake_app_server.routes import API_ROUTES, CONTROL_ROUTES, Route
from apps.fake_app_server.state import Context, ServingState
from apps.fake_app_server.stats import Stats

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_fake/"
API_PREFIX = "/api/"
# How often a delayed request checks whether its client is still there.
DELAY_POLL_SECONDS = 0.05
UNMATCHED_ROUTE = "unmatched"


@dataclass(frozen=True)
class Outcome:
    """What the socket layer must do: send ``response``, cut it short, or reset."""

    response: Response | None
    reset_connection: bool = False
    # Send only this fraction of the body after announcing its full length, then close.
    truncate_fraction: float | None = None


class FakeApp:
    """The whole fake minus the sockets: state, faults, stats, and the pipeline."""

    def __init__(self, defaults: Settings, base_url: str = "http://127.0.0.1") -> None:
        self.defaults = defaults
        self.faults = FaultRegistry()
        self.stats = Stats()
        # Set on shutdown: slow faults and streams stop waiting.
        self.stopping = threading.Event()
        self._base_url = base_url
        self.state = ServingState.build(defaults, base_url)

    def set_base_url(self, base_url: str) -> None:
        """Record where the server listens (sandbox URLs point back at it)."""
        self._base_url = base_url
        self.state.store.base_url = base_url

    def reset(self, overrides: Mapping[str, Any]) -> None:
        """Regenerate the world with the startup settings plus ``overrides``; clear the rest."""
        settings = self.defaults.with_overrides(overrides)
        self.state = ServingState.build(settings, self._base_url)
        self.faults.clear()
        self.stats.clear()
        logger.info("reset to %r", settings.scenario)

    def handle(self, request: Request) -> Outcome:
        """Answer one request."""
        if request.path.startswith(CONTROL_PREFIX):
            return Outcome(self._control(request))
        state = self.state
        route = self._route_or_error(request)
        user = self._authenticate(state, request)
        caller = state.gatekeeper.identity(user if isinstance(user, User) else None)
        self.stats.record_request(
            route.name if isinstance(route, Route) else UNMATCHED_ROUTE, caller
        )
        rule = self.faults.take(request.method, request.path)
        if rule is not None and rule.delay and not self._delay(rule.delay, request):
            self.stats.record_outcome("abandoned")
            return Outcome(None, reset_connection=True)
        early = self._early_fault(rule)
        if early is not None:
            self._record(early)
            return early
        response = self._serve(state, route, user, request)
        outcome = self._late_fault(rule, response)
        self._record(outcome)
        return outcome

    def _delay(self, seconds: float, request: Request) -> bool:
        """Wait ``seconds``; return ``False`` early if the client hangs up or we shut down."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self.stopping.wait(min(remaining, DELAY_POLL_SECONDS)) or request.client_gone():
                return False
        return True

    def _record(self, outcome: Outcome) -> None:
        if outcome.reset_connection:
            self.stats.record_outcome("reset")
        elif outcome.truncate_fraction is not None:
            self.stats.record_outcome("truncated")
        elif outcome.response is not None:
            self.stats.record_outcome(str(outcome.response.status))

    @staticmethod
    def _route_or_error(request: Request) -> Route | ApiError:
        try:
            route, params = API_ROUTES.resolve(request.method, request.path)
        except ApiError as error:
            return error
        request.path_params = params
        return route

    @staticmethod
    def _authenticate(state: ServingState, request: Request) -> User | ApiError:
        try:
            return state.gatekeeper.authenticate(request.headers)
        except ApiError as error:
            return error

    @staticmethod
    def _early_fault(rule: FaultRule | None) -> Outcome | None:
        """Return the answer of a fault that replaces the whole response, if any."""
        if rule is None:
            return None
        if rule.fault == "reset":
            return Outcome(None, reset_connection=True)
        if rule.fault == "status":
            return Outcome(fault_kinds.status_response(rule))
        if rule.fault == "html200":
            return Outcome(fault_kinds.html_response())
        if rule.fault == "malformed_json":
            return Outcome(fault_kinds.malformed_json_response())
        return None

    @staticmethod
    def _late_fault(rule: FaultRule | None, response: Response) -> Outcome:
        """Return the answer after a fault that damages a real response, if any."""
        if rule is not None and rule.fault == "malformed_record":
            return Outcome(fault_kinds.damage_record(response, rule))
        if rule is not None and rule.fault == "truncate":
            return Outcome(response, truncate_fraction=rule.fraction)
        return Outcome(response)

    def _serve(
        self,
        state: ServingState,
        route: Route | ApiError,
        user: User | ApiError,
        request: Request,
    ) -> Response:
        try:
            if isinstance(route, Route) and route.public:
                return route.handler(None, request)
            if isinstance(route, ApiError) and not request.path.startswith(API_PREFIX):
                raise route
            # As upstream, credentials and the rate limit come before routing.
            if isinstance(user, ApiError):
                raise user
            state.gatekeeper.limiter.hit(state.gatekeeper.identity(user))
            if isinstance(route, ApiError):
                raise route
            with state.store.lock:
                now = state.advance()
                return route.handler(Context(state, now, user, self.stopping), request)
        except ApiError as error:
            return json_response(error.body, status=error.status, headers=error.headers)

    def _control(self, request: Request) -> Response:
        try:
            route, params = CONTROL_ROUTES.resolve(request.method, request.path)
            request.path_params = params
            return route.handler(self, request)
        except ApiError as error:
            return json_response(error.body, status=error.status, headers=error.headers)
