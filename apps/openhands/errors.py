"""Exceptions raised by the OpenHands client library.

Every exception's text is a sentence for a human: what failed and what to do next. None of
them ever contains an API key or a session key: the transport scrubs known secrets from every
message and strips credentials from URLs before an exception is built.
"""

from __future__ import annotations


class OpenHandsError(Exception):
    """Report a failed call to an OpenHands App Server or agent server."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        method: str | None = None,
        url: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.method = method
        self.url = url
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, method={self.method!r}, "
            f"url={self.url!r}, message={self.message!r})"
        )


class AuthenticationError(OpenHandsError):
    """Signal a rejected or missing credential (401) or a refused permission (403)."""


class NotFoundError(OpenHandsError):
    """Signal an unknown resource (404, or a batch lookup that answered null)."""


class ConflictError(OpenHandsError):
    """Signal a request that conflicts with the current state, e.g. a paused sandbox (409)."""


class GoneError(OpenHandsError):
    """Signal a resource that no longer exists, e.g. an archived conversation's sandbox (410)."""


class PayloadTooLargeError(OpenHandsError):
    """Signal a request or result over the server's size limit (413)."""


class BadRequestError(OpenHandsError):
    """Signal a request the server rejected as invalid (400 or 422), with its detail."""


class RateLimitedError(OpenHandsError):
    """Signal that the server is rate-limiting this client (429)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = 429,
        method: str | None = None,
        url: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, method=method, url=url, detail=detail)
        self.retry_after = retry_after


class ServerError(OpenHandsError):
    """Signal a server-side failure (5xx)."""


class TransportError(OpenHandsError):
    """Signal a network failure: connect errors, timeouts, resets, truncated bodies."""


class NotJSONError(OpenHandsError):
    """Signal a successful response whose body is not JSON (e.g. a web app's HTML page)."""


class UnexpectedResponseError(NotJSONError):
    """Signal JSON that does not have the shape the API documents (e.g. a page without items)."""


class PaginationError(OpenHandsError):
    """Signal a server that keeps answering with a page id it already gave (endless paging)."""


class WaitTimeoutError(OpenHandsError):
    """Signal that a wait for a start task or a conversation ran out of time."""
