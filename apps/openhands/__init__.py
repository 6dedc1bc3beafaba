"""Client library for the OpenHands V1 App Server and the agent servers in its sandboxes.

No Django imports here or below: the library is usable on its own and from the CLI.
"""

from __future__ import annotations

from apps.openhands.agent_server import AgentServerClient
from apps.openhands.app_server import AppServerClient, AuthStyle
from apps.openhands.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GoneError,
    NotFoundError,
    NotJSONError,
    OpenHandsError,
    PaginationError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    WaitTimeoutError,
)

__all__ = [
    "AgentServerClient",
    "AppServerClient",
    "AuthStyle",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "GoneError",
    "NotFoundError",
    "NotJSONError",
    "OpenHandsError",
    "PaginationError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "UnexpectedResponseError",
    "WaitTimeoutError",
]
