"""Connection checks: ask the App Server who the stored key belongs to (GET /api/v1/users/me)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from apps.accounts.crypto import KeyDecryptionError
from apps.core.logging import redact
from apps.openhands import (
    AuthenticationError,
    NotFoundError,
    NotJSONError,
    OpenHandsError,
    RateLimitedError,
    ServerError,
    TransportError,
)

if TYPE_CHECKING:
    from apps.accounts.models import CloudAccount
    from apps.openhands.records import User

logger = logging.getLogger(__name__)

# A person is waiting on the page: fail fast instead of retrying a dead host three times.
CHECK_RETRIES = 0


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of one connection check; ``problem`` names the form field at fault."""

    ok: bool
    message: str
    user: User | None = None
    problem: str | None = None  # "api_key", "base_url" or None
    checked_at: datetime = field(default_factory=timezone.now)


def _owner_text(user: User) -> str:
    who = user.email or (f"user {user.id}" if user.id else "")
    if not who:
        return "Connected. The server does not say whom the key belongs to (no login)."
    organization = f", organization {user.org_name}" if user.org_name else ""
    return f"Connected as {who}{organization}."


def _failure(exc: OpenHandsError) -> ConnectionCheck:
    """Turn a client error into a message that says what is wrong and what to change."""
    if isinstance(exc, AuthenticationError):
        if exc.status_code == 403:
            message = (
                "The server refused this key access (HTTP 403). Check the organization id, "
                "or whether the key is allowed to use this organization."
            )
        else:
            message = (
                f"The server rejected the API key (HTTP {exc.status_code or 401}). Check that "
                "the key was pasted completely and has not been revoked."
            )
        return ConnectionCheck(ok=False, message=message, problem="api_key")
    if isinstance(exc, NotJSONError):
        message = (
            "The server answered with a web page instead of JSON: this address does not look "
            "like an OpenHands App Server. Use its root address (e.g. https://app.all-hands.dev) "
            "without /api/v1."
        )
        return ConnectionCheck(ok=False, message=message, problem="base_url")
    if isinstance(exc, NotFoundError):
        message = (
            "The server has no /api/v1/users/me endpoint (HTTP 404): check that the address "
            "points at an OpenHands V1 App Server, including any path prefix."
        )
        return ConnectionCheck(ok=False, message=message, problem="base_url")
    if isinstance(exc, TransportError):
        message = f"Could not reach the server. {exc}"
        return ConnectionCheck(ok=False, message=redact(message), problem="base_url")
    if isinstance(exc, RateLimitedError):
        wait = f" for about {exc.retry_after:.0f} seconds" if exc.retry_after else ""
        message = f"The server is rate-limiting this key; wait{wait} and try again."
        return ConnectionCheck(ok=False, message=message)
    if isinstance(exc, ServerError):
        message = f"The server failed (HTTP {exc.status_code}); try again later. {exc}"
        return ConnectionCheck(ok=False, message=redact(message))
    return ConnectionCheck(ok=False, message=redact(str(exc)))


def check_connection(account: CloudAccount) -> ConnectionCheck:
    """Call GET /api/v1/users/me with ``account``'s settings and describe the outcome.

    ``account`` may be unsaved (the account form checks before anything is written).
    """
    try:
        client = account.client(max_retries=CHECK_RETRIES)
    except KeyDecryptionError as exc:
        return ConnectionCheck(ok=False, message=str(exc), problem="api_key")
    except ValueError as exc:  # an address the HTTP client cannot use
        return ConnectionCheck(ok=False, message=redact(str(exc)), problem="base_url")
    with client:
        try:
            user = client.get_user()
        except OpenHandsError as exc:
            check = _failure(exc)
            logger.info("connection check for %s failed: %s", account.base_url, check.message)
            return check
    return ConnectionCheck(ok=True, message=_owner_text(user), user=user)
