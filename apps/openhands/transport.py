"""The single HTTP layer every call of the client library goes through.

It wraps one `httpx.Client` and owns everything that must be the same for every call: the base
URL, the auth headers, a clear User-Agent, explicit timeouts per kind of call, connection
limits, retries with exponential backoff and jitter (only where a retry cannot repeat a side
effect), the mapping of HTTP failures to the exceptions in `apps.openhands.errors`, and the
scrubbing of secrets from every message it builds.
"""

from __future__ import annotations

import codecs
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from importlib import metadata
from types import TracebackType
from typing import Any, Self

import httpx

from apps.openhands.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GoneError,
    NotFoundError,
    NotJSONError,
    OpenHandsError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 3
MAX_RETRY_WAIT = 60.0
BACKOFF_BASE = 0.5
MAX_DETAIL_CHARS = 500
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0)

# Only these may be repeated after an answer was lost: repeating them cannot repeat a change.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})
# Failures that happen before the request left this machine: safe to retry for any method.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Failures after sending (lost answer, reset, read timeout): safe to retry only when idempotent.
TRANSIENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


class CallKind(StrEnum):
    """Name the kinds of call that get their own read timeout."""

    READ = "read"  # searches, gets, counts (searches fan out to agent servers: allow 30 s)
    SLOW = "slow"  # pause, resume, delete, downloads
    START = "start"  # starting a conversation or a sandbox (the server waits up to 120 s)


READ_TIMEOUTS: dict[CallKind, float] = {
    CallKind.READ: 30.0,
    CallKind.SLOW: 60.0,
    CallKind.START: 120.0,
}


def default_user_agent() -> str:
    """Return `openhands-cloud-dashboard/<version> httpx/<version>`."""
    try:
        version = metadata.version("openhands-cloud-dashboard")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"openhands-cloud-dashboard/{version} httpx/{httpx.__version__}"


@dataclass(frozen=True)
class Clock:
    """Time functions, injectable so tests can wait without sleeping."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    # Wall-clock seconds since the epoch, to turn `X-RateLimit-Reset` and HTTP dates into waits.
    now: Callable[[], float] = time.time


@dataclass(frozen=True)
class ServiceNames:
    """Words for error messages: which server, which credential, what to do when it is refused."""

    service: str
    credential: str
    credential_advice: str


@dataclass(frozen=True)
class _Call:
    """What is needed to describe one call in an error message."""

    method: str
    url: str
    connect_timeout: float | None
    read_timeout: float | None


FilesFactory = Callable[[], Mapping[str, Any]]


class Transport:
    """Send requests to one server and turn every failure into an `OpenHandsError`.

    `credential` is the key that `headers` carry (None without one): it is scrubbed from every
    message, and it decides what a 401 message advises.
    """

    def __init__(
        self,
        server_url: str,
        *,
        names: ServiceNames,
        api_prefix: str = "",
        headers: Mapping[str, str] | None = None,
        credential: str | None = None,
        org_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        user_agent: str | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        root = _parse_server_url(server_url)
        # Replacing a very short "secret" would garble messages, and such a key protects little.
        known = [credential, root.password]
        self._secrets = tuple(secret for secret in known if secret and len(secret) >= 4)
        self.server_url = _display_url(root)
        self.names = names
        self.has_credential = credential is not None
        self.org_id = org_id
        self.max_retries = max_retries
        self.clock = clock or Clock()
        self._rng = rng or random.Random()  # jitter only, not cryptography
        all_headers = {"User-Agent": user_agent or default_user_agent(), **(headers or {})}
        self._client = httpx.Client(
            base_url=_join_prefix(root, api_prefix),
            headers=all_headers,
            timeout=httpx.Timeout(READ_TIMEOUTS[CallKind.READ], connect=CONNECT_TIMEOUT),
            limits=LIMITS,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"Transport(server_url={self.server_url!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    # Public calls -------------------------------------------------------------------------

    def call[T](
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        files: FilesFactory | None = None,
        timeout: CallKind | float = CallKind.READ,
        max_retries: int | None = None,
    ) -> T:
        """Send a request and return its JSON body as checked and converted by `parse`."""
        response = self.request(
            method,
            path,
            params=params,
            json_body=json_body,
            files=files,
            timeout=timeout,
            max_retries=max_retries,
        )
        data = self.decode_json(response)
        try:
            return parse(data)
        except (ValueError, TypeError) as exc:
            call = _call_of(response.request)
            raise UnexpectedResponseError(
                self.scrub(
                    f"The {self.names.service} at {self.server_url} answered {call.method} "
                    f"{call.url} with JSON of an unexpected shape ({exc}). Is it an OpenHands "
                    "server of a supported version?"
                ),
                status_code=response.status_code,
                method=call.method,
                url=call.url,
            ) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        files: FilesFactory | None = None,
        timeout: CallKind | float = CallKind.READ,
        max_retries: int | None = None,
    ) -> httpx.Response:
        """Send a request, retrying where safe, and return the successful, fully read response."""
        return self._send(
            method,
            path,
            params=params,
            json_body=json_body,
            files=files,
            timeout=timeout,
            max_retries=max_retries,
            stream=False,
        )

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        timeout: CallKind | float = CallKind.READ,
    ) -> Iterator[httpx.Response]:
        """Yield a successful response whose body has not been read yet; close it afterwards."""
        response = self._send(
            method,
            path,
            params=params,
            json_body=json_body,
            files=None,
            timeout=timeout,
            max_retries=None,
            stream=True,
        )
        try:
            yield response
        finally:
            response.close()

    def iter_bytes(self, response: httpx.Response) -> Iterator[bytes]:
        """Yield a streamed body in chunks; raise TransportError if it breaks off or is short."""
        try:
            # Chunks as they arrive: re-chunking would hold back a streamed answer's progress.
            yield from response.iter_bytes()
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise self._transport_error(_call_of(response.request), exc) from exc
        expected = _content_length(response)
        received = response.num_bytes_downloaded
        if expected is not None and received != expected:
            call = _call_of(response.request)
            raise TransportError(
                self.scrub(
                    f"The {self.names.service} sent {received} of the {expected} bytes announced "
                    f"for {call.method} {call.url}: the body was cut short. Try again."
                ),
                status_code=response.status_code,
                method=call.method,
                url=call.url,
            )

    def iter_text(self, response: httpx.Response) -> Iterator[str]:
        """Yield a streamed body as text, decoding UTF-8 safely across chunk boundaries."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for chunk in self.iter_bytes(response):
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def decode_json(self, response: httpx.Response) -> Any:
        """Return the JSON body of a successful response, or raise NotJSONError."""
        if response.status_code == 204:
            return None
        self.require_json_content_type(response)
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise self.not_json_error(response, f"is not valid JSON ({exc})") from exc

    def require_json_content_type(self, response: httpx.Response) -> None:
        """Raise NotJSONError unless the response says its body is JSON."""
        if not _is_json_content_type(response.headers.get("content-type", "")):
            content_type = response.headers.get("content-type") or "no Content-Type"
            raise self.not_json_error(response, f"is {content_type}, not JSON")

    def not_json_error(self, response: httpx.Response, problem: str) -> NotJSONError:
        """Build the error for a 2xx body that is not the JSON the API documents."""
        call = _call_of(response.request)
        if _looks_like_html(response):
            advice = (
                "It looks like an HTML page (a web app), not the API: the base URL is probably "
                "wrong (use the server root, e.g. https://app.all-hands.dev), or this server "
                "does not have this endpoint."
            )
        else:
            advice = "The server may have cut the response short, or is not an OpenHands server."
        return NotJSONError(
            self.scrub(
                f"The {self.names.service} at {self.server_url} answered {call.method} "
                f"{call.url} with {response.status_code}, but the body {problem}. {advice}"
            ),
            status_code=response.status_code,
            method=call.method,
            url=call.url,
        )

    def describe_url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """Return the full URL a call to `path` would use, safe to show in a message."""
        request = self._client.build_request("GET", path, params=_clean_params(params))
        return _display_url(request.url)

    def scrub(self, text: str) -> str:
        """Return `text` with every known secret replaced by `[redacted]`."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    # Sending and retrying -----------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json_body: Any,
        files: FilesFactory | None,
        timeout: CallKind | float,
        max_retries: int | None,
        stream: bool,
    ) -> httpx.Response:
        retries_allowed = self.max_retries if max_retries is None else max_retries
        attempt = 0
        while True:
            request = self._client.build_request(
                method,
                path,
                params=_clean_params(params),
                json=json_body,
                files=files() if files else None,
                timeout=_timeout_for(timeout),
            )
            call = _call_of(request)
            started = self.clock.monotonic()
            try:
                response = self._client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt < retries_allowed and _may_retry_exception(method, exc):
                    self._wait_before_retry(call, type(exc).__name__, self._backoff(attempt))
                    attempt += 1
                    continue
                raise self._transport_error(call, exc) from exc
            logger.debug(
                "%s %s -> %s in %.2f s",
                call.method,
                call.url,
                response.status_code,
                self.clock.monotonic() - started,
            )
            if response.is_success:
                return response
            wait = self._retry_wait(method, response, attempt)
            if wait is not None and attempt < retries_allowed:
                response.close()
                self._wait_before_retry(call, str(response.status_code), wait)
                attempt += 1
                continue
            if stream:
                _read_error_body(response)
            raise self._status_error(response)

    def _retry_wait(self, method: str, response: httpx.Response, attempt: int) -> float | None:
        """Return how long to wait before repeating this call, or None if it must not be."""
        idempotent = method.upper() in IDEMPOTENT_METHODS
        status = response.status_code
        stated = _retry_after_header(response.headers, self.clock.now())
        if status == 429:
            # A rate limiter rejects before the handler runs, so when it says when to come
            # back even a POST can be repeated; without that promise only reads are retried.
            if stated is not None:
                return min(stated, MAX_RETRY_WAIT)
            if not idempotent:
                return None
            reset = _rate_limit_reset(response.headers, self.clock.now())
            return min(reset, MAX_RETRY_WAIT) if reset is not None else self._backoff(attempt)
        if status in RETRYABLE_STATUSES and idempotent:
            return min(stated, MAX_RETRY_WAIT) if stated is not None else self._backoff(attempt)
        return None

    def _backoff(self, attempt: int) -> float:
        """Return an exponential wait with jitter: between half and all of base * 2**attempt."""
        ceiling = min(MAX_RETRY_WAIT, BACKOFF_BASE * 2**attempt)
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def _wait_before_retry(self, call: _Call, reason: str, wait: float) -> None:
        logger.warning("%s %s failed (%s); retrying in %.1f s", call.method, call.url, reason, wait)
        self.clock.sleep(wait)

    # Building errors ----------------------------------------------------------------------

    def _transport_error(self, call: _Call, exc: Exception) -> TransportError:
        server = f"{self.names.service} at {self.server_url}"
        request = f"{call.method} {call.url}"
        if isinstance(exc, httpx.ConnectTimeout):
            text = (
                f"Could not connect to the {server} within {call.connect_timeout} s "
                f"({request}). Check the URL and the network."
            )
        elif isinstance(exc, httpx.TimeoutException):
            text = (
                f"The {server} did not answer {request} within {call.read_timeout} s. "
                "It may be overloaded; try again later."
            )
        elif isinstance(exc, httpx.ConnectError):
            text = (
                f"Could not connect to the {server} ({request}): {exc}. Check the URL, and "
                "whether the server is running and reachable."
            )
        else:
            text = (
                f"The connection to the {server} failed during {request} "
                f"({type(exc).__name__}: {exc}). Try again."
            )
        return TransportError(self.scrub(text), method=call.method, url=call.url)

    def _status_error(self, response: httpx.Response) -> OpenHandsError:
        call = _call_of(response.request)
        detail = _server_detail(response)
        detail = self.scrub(detail) if detail else None
        error_class, text = self._describe_status(response, call, detail)
        message = self.scrub(text)
        status = response.status_code
        if error_class is RateLimitedError:
            return RateLimitedError(
                message,
                retry_after=self._server_wait(response.headers),
                status_code=status,
                method=call.method,
                url=call.url,
                detail=detail,
            )
        return error_class(
            message, status_code=status, method=call.method, url=call.url, detail=detail
        )

    def _server_wait(self, headers: httpx.Headers) -> float | None:
        """Return the wait the server asked for, by `Retry-After` or `X-RateLimit-Reset`."""
        stated = _retry_after_header(headers, self.clock.now())
        return stated if stated is not None else _rate_limit_reset(headers, self.clock.now())

    def _describe_status(
        self, response: httpx.Response, call: _Call, detail: str | None
    ) -> tuple[type[OpenHandsError], str]:
        status = response.status_code
        service = self.names.service
        where = f"The {service} at {self.server_url}"
        request = f"{call.method} {call.url}"
        because = f": {detail}" if detail else ""
        match status:
            case 400:
                return BadRequestError, (
                    f"{where} rejected {request} as a bad request (400){because}. "
                    "Check the arguments."
                )
            case 422:
                return BadRequestError, (
                    f"{where} rejected the parameters of {request} (422){because}. "
                    "Check the arguments against the API reference."
                )
            case 401:
                return AuthenticationError, self._describe_unauthorized(where)
            case 403:
                org_hint = " or for the organization sent as X-Org-Id" if self.org_id else ""
                return AuthenticationError, (
                    f"{where} refused {request} (403){because}. The {self.names.credential} "
                    f"is not allowed to do this{org_hint}."
                )
            case 404:
                return NotFoundError, (
                    f"{where} found nothing for {request} (404){because}. Check the id, or "
                    "whether it was deleted."
                )
            case 409:
                return ConflictError, (
                    f"{where} refused {request} in the current state (409){because}. If the "
                    "sandbox is paused, resume it first; otherwise try again later."
                )
            case 410:
                return GoneError, (
                    f"{where} says {request} refers to something that no longer exists "
                    f"(410){because}. Its sandbox is gone; start a new conversation."
                )
            case 413:
                return PayloadTooLargeError, (
                    f"{where} refused {request} as too large (413){because}. A conversation "
                    "export holds at most 10,000 events; read the events page by page instead."
                )
            case 429:
                wait = self._server_wait(response.headers)
                when = f"Wait {wait:.0f} s before retrying" if wait is not None else "Slow down"
                return RateLimitedError, (
                    f"{where} is rate-limiting this client (429){because}. {when}; the Cloud "
                    "allows about 10 requests per second and 100 per minute per key."
                )
        if 500 <= status <= 599:
            return ServerError, (
                f"{where} failed on {request} ({status} {response.reason_phrase}){because}. "
                "The problem is on the server side; try again later."
            )
        if 300 <= status <= 399:
            location = _display_location(response.headers.get("location"))
            return OpenHandsError, (
                f"{where} redirected {request} to {location} ({status}). If that is the "
                "server's new address, use it as the base URL."
            )
        return OpenHandsError, f"{where} answered {request} with {status}{because}."

    def _describe_unauthorized(self, where: str) -> str:
        credential = self.names.credential
        if not self.has_credential:
            return f"{where} requires authentication (401), but no {credential} was given."
        return f"{where} rejected the {credential} (401). {self.names.credential_advice}"


class TransportClient:
    """Own one `Transport`; usable as a context manager that closes its connections on exit."""

    _http: Transport

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()


# Helpers ----------------------------------------------------------------------------------


def _parse_server_url(server_url: str) -> httpx.URL:
    text = (server_url or "").strip()
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValueError(f"Invalid server URL: {exc}") from exc
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError(
            f"The server URL {_display_url(url)!r} must start with http:// or https:// and "
            "name a host, e.g. https://app.all-hands.dev"
        )
    return url.copy_with(query=None, fragment=None)


def _join_prefix(root: httpx.URL, api_prefix: str) -> httpx.URL:
    path = root.path.rstrip("/")
    prefix = api_prefix.rstrip("/")
    # Tolerate a base URL that already ends with the prefix instead of doubling it.
    if prefix and not path.endswith(prefix):
        path += prefix
    return root.copy_with(path=path or "/")


def _display_url(url: httpx.URL | str) -> str:
    """Return the URL without any user:password part, safe for messages and logs."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed).rstrip("/")


def _display_location(location: str | None) -> str:
    if not location:
        return "another address"
    try:
        return _display_url(location)
    except httpx.InvalidURL:
        return "another address"


def _call_of(request: httpx.Request) -> _Call:
    timeouts = request.extensions.get("timeout") or {}
    return _Call(
        method=request.method,
        url=_display_url(request.url),
        connect_timeout=timeouts.get("connect"),
        read_timeout=timeouts.get("read"),
    )


def _timeout_for(kind: CallKind | float) -> httpx.Timeout:
    read = READ_TIMEOUTS[kind] if isinstance(kind, CallKind) else float(kind)
    return httpx.Timeout(read, connect=CONNECT_TIMEOUT)


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop unset filters so the server applies its own defaults."""
    if params is None:
        return None
    return {key: value for key, value in params.items() if value is not None}


def _may_retry_exception(method: str, exc: httpx.TransportError) -> bool:
    if isinstance(exc, NOT_SENT_ERRORS):
        return True
    return method.upper() in IDEMPOTENT_METHODS and isinstance(exc, TRANSIENT_ERRORS)


def _retry_after_header(headers: httpx.Headers, now: float) -> float | None:
    """Return the `Retry-After` wait in seconds (it may be seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def _rate_limit_reset(headers: httpx.Headers, now: float) -> float | None:
    """Return the wait until `X-RateLimit-Reset` (epoch seconds in the Cloud's limiter)."""
    value = headers.get("x-ratelimit-reset")
    if not value:
        return None
    try:
        reset = float(value)
    except ValueError:
        return None
    # Some limiters send a delay instead of a moment; no epoch time is this small.
    if reset < 1_000_000_000:
        return max(0.0, reset)
    return max(0.0, reset - now)


def _content_length(response: httpx.Response) -> int | None:
    # Compared with `num_bytes_downloaded`, which counts bytes as sent (before any
    # content decoding), just as Content-Length does.
    value = response.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def _is_json_content_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _looks_like_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    start = _read_content(response)[:200].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html"))


def _read_content(response: httpx.Response) -> bytes:
    """Return the body if it has been read (a streamed body may not have been), else b""."""
    try:
        return response.content
    except httpx.ResponseNotRead:
        return b""


def _read_error_body(response: httpx.Response) -> None:
    """Read a streamed error body so the server's reason can be quoted."""
    try:
        response.read()
    except httpx.HTTPError:
        pass  # The status code alone still makes a useful error.
    finally:
        response.close()


def _server_detail(response: httpx.Response) -> str | None:
    """Return the server's reason from `{"detail"}`, `{"error"}` or `{"message"}` bodies."""
    content = _read_content(response)
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    text = _detail_from_json(body)
    if text is None and content:
        if _looks_like_html(response):
            text = "the server sent an HTML page instead of an API error"
        else:
            text = content[:MAX_DETAIL_CHARS].decode("utf-8", "replace").strip() or None
    if text and len(text) > MAX_DETAIL_CHARS:
        text = text[:MAX_DETAIL_CHARS] + "…"
    return text


def _detail_from_json(body: object) -> str | None:
    if isinstance(body, str):
        return body or None
    if not isinstance(body, dict):
        return None
    for key in ("detail", "error", "message"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value:
            return _validation_summary(value)
    return None


def _validation_summary(errors: list[Any]) -> str:
    """Summarise FastAPI's 422 list as `query.limit: Input should be ...; ...`."""
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            parts.append(str(error))
            continue
        location = ".".join(str(piece) for piece in error.get("loc", []) if piece is not None)
        message = str(error.get("msg", "invalid"))
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)
