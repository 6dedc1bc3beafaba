"""The routing tables: every path the fake answers, with its handler.

Templates use the Cloud OpenAPI document's own spelling (``/api/v1/sandboxes/{id}`` for DELETE,
``{sandbox_id}`` elsewhere), so the conformance test can check each route against the document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.fake_app_server import api_conversations as conversations
from apps.fake_app_server import api_events as events
from apps.fake_app_server import api_sandboxes as sandboxes
from apps.fake_app_server import control
from apps.fake_app_server.protocol import ApiError

Handler = Callable[[Any, Any], Any]
CONVERSATIONS = "/api/v1/app-conversations"
CONVERSATION = CONVERSATIONS + "/{conversation_id}"
EVENTS = "/api/v1/conversation/{conversation_id}/events"


@dataclass(frozen=True)
class Route:
    """One method and path template, and who answers it.

    ``public`` routes need no credentials and do not touch the world (health checks).
    """

    method: str
    template: str
    handler: Handler
    public: bool = False
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        if self.template.endswith("{rest}"):
            regex = regex.replace("(?P<rest>[^/]+)", "(?P<rest>.*)")
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    @property
    def name(self) -> str:
        """Return the route's name in statistics: ``"GET /api/v1/..."``."""
        return f"{self.method} {self.template}"


class Router:
    """Find the route for a method and path."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """Return the route and its path parameters; raise a 404 or 405 ``ApiError``."""
        allowed = []
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method == method:
                return route, match.groupdict()
            allowed.append(route.method)
        if allowed:
            raise ApiError(405, {"detail": "Method Not Allowed"}, {"Allow": ", ".join(allowed)})
        raise ApiError(404, {"detail": "Not Found"})


API_ROUTES = Router(
    [
        Route("GET", "/alive", events.alive, public=True),
        Route("GET", "/health", events.health, public=True),
        Route("GET", "/ready", events.health, public=True),
        # Literal paths first: "/search" must not be taken for a conversation id.
        Route("GET", CONVERSATIONS + "/search", conversations.search_conversations),
        Route("GET", CONVERSATIONS + "/count", conversations.count_conversations),
        Route("GET", CONVERSATIONS + "/start-tasks/search", conversations.search_start_tasks),
        Route("GET", CONVERSATIONS + "/start-tasks/count", conversations.count_start_tasks),
        Route("GET", CONVERSATIONS + "/start-tasks", conversations.batch_get_start_tasks),
        Route("POST", CONVERSATIONS + "/stream-start", conversations.stream_start_conversation),
        Route("GET", CONVERSATIONS, conversations.batch_get_conversations),
        Route("POST", CONVERSATIONS, conversations.start_conversation),
        Route("PATCH", CONVERSATION, conversations.update_conversation),
        Route("DELETE", CONVERSATION, conversations.delete_conversation),
        Route("POST", CONVERSATION + "/send-message", conversations.send_message),
        Route("GET", CONVERSATION + "/skills", conversations.get_skills),
        Route("GET", CONVERSATION + "/hooks", conversations.get_hooks),
        Route("GET", CONVERSATION + "/git/changes", conversations.get_git_changes),
        Route("GET", CONVERSATION + "/git/diff", conversations.get_git_diff),
        Route("GET", CONVERSATION + "/file", conversations.read_file),
        Route("GET", CONVERSATION + "/download", conversations.download_conversation),
        Route("GET", "/api/v1/sandboxes/search", sandboxes.search_sandboxes),
        Route("GET", "/api/v1/sandboxes", sandboxes.batch_get_sandboxes),
        Route("POST", "/api/v1/sandboxes", sandboxes.start_sandbox),
        Route("POST", "/api/v1/sandboxes/{sandbox_id}/pause", sandboxes.pause_sandbox),
        Route("POST", "/api/v1/sandboxes/{sandbox_id}/resume", sandboxes.resume_sandbox),
        Route("DELETE", "/api/v1/sandboxes/{id}", sandboxes.delete_sandbox),
        Route("GET", "/api/v1/sandbox-specs/search", sandboxes.search_sandbox_specs),
        Route("GET", "/api/v1/sandbox-specs", sandboxes.batch_get_sandbox_specs),
        Route("GET", EVENTS + "/search", events.search_events),
        Route("GET", EVENTS + "/count", events.count_events),
        Route("GET", EVENTS, events.batch_get_events),
        Route("GET", "/api/v1/users/me", events.get_me),
    ]
)

CONTROL_ROUTES = Router(
    [
        Route("GET", "/_fake/state", control.get_state),
        Route("GET", "/_fake/clock", control.get_clock),
        Route("POST", "/_fake/clock", control.set_clock),
        Route("POST", "/_fake/reset", control.reset),
        Route("GET", "/_fake/stats", control.get_stats),
        Route("DELETE", "/_fake/stats", control.clear_stats),
        Route("GET", "/_fake/faults", control.list_faults),
        Route("POST", "/_fake/faults", control.add_fault),
        Route("DELETE", "/_fake/faults", control.clear_faults),
        Route("DELETE", "/_fake/faults/{fault_id}", control.remove_fault),
        Route("POST", "/_fake/mutate", control.mutate),
        *(
            Route(method, "/_fake/runtime/{rest}", control.runtime)
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        ),
    ]
)
