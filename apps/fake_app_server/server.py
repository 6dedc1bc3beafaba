"""The HTTP side: a threading HTTP/1.1 server on loopback that runs :class:`FakeApp`.

It writes bodies with ``Content-Length`` or, for streams, chunked transfer encoding, and carries
out the socket-level faults: a TCP reset instead of an answer, or a body cut short after its
full length was announced.
"""

from __future__ import annotations

import ipaddress
import logging
import select
import socket
import struct
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from apps.fake_app_server.app import FakeApp, Outcome
from apps.fake_app_server.config import Settings
from apps.fake_app_server.protocol import Request, Response

logger = logging.getLogger(__name__)

MAX_REQUEST_BODY = 10 * 1024 * 1024


class NotLoopbackError(ValueError):
    """The fake was asked to listen on an address other machines could reach."""


def loopback_address(host: str) -> tuple[socket.AddressFamily, str]:
    """Return the address family and loopback IP ``host`` resolves to.

    Raise :class:`NotLoopbackError` unless every address of ``host`` is a loopback address.
    """
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise NotLoopbackError(f"cannot resolve {host!r}: {error}") from None
    addresses = [(info[0], str(info[4][0])) for info in infos]
    if not addresses or not all(ipaddress.ip_address(ip).is_loopback for _, ip in addresses):
        raise NotLoopbackError(
            f"refusing to listen on {host!r}: the fake App Server binds loopback addresses only "
            "(127.0.0.1, ::1, localhost)"
        )
    ipv4 = [address for address in addresses if address[0] == socket.AF_INET]
    return (ipv4 or addresses)[0]


class FakeHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server bound to loopback that serves one :class:`FakeApp`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, settings: Settings) -> None:
        family, ip = loopback_address(host)
        self.address_family = family
        super().__init__((ip, port), FakeRequestHandler)
        bound_ip, bound_port = self.server_address[:2]
        shown = f"[{bound_ip}]" if family == socket.AF_INET6 else str(bound_ip)
        self.base_url = f"http://{shown}:{bound_port}"
        self.app = FakeApp(settings, self.base_url)

    def shutdown(self) -> None:
        """Stop serving; in-flight slow faults and streams stop waiting."""
        self.app.stopping.set()
        super().shutdown()


class FakeRequestHandler(BaseHTTPRequestHandler):
    """Turn one HTTP request into a :class:`Request`, and the outcome into bytes."""

    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines only, at debug level: headers (and the keys in them) are never logged.
        logger.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        target = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(target.path),
            query=parse_qs(target.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            client_gone=self._client_gone,
        )
        try:
            outcome = self.server.app.handle(request)
            self._send(outcome)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client went away during %s %s", self.command, target.path)
            self.close_connection = True

    def _client_gone(self) -> bool:
        """Return whether the client closed the connection (EOF waiting on the socket)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BODY:
            self._send_plain(413, b"Request body too large")
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked_body(self) -> bytes | None:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_REQUEST_BODY:
                self._send_plain(413, b"Request body too large")
                return None

    def _send(self, outcome: Outcome) -> None:
        if outcome.reset_connection or outcome.response is None:
            self._reset()
            return
        response = outcome.response
        if outcome.truncate_fraction is not None:
            self._send_truncated(response, outcome.truncate_fraction)
        elif response.stream is not None:
            self._send_stream(response)
        else:
            self._start(response, {"Content-Length": str(len(response.body))})
            self.wfile.write(response.body)

    def _start(self, response: Response, framing: dict[str, str]) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in {**response.headers, **framing}.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_stream(self, response: Response) -> None:
        assert response.stream is not None
        self._start(response, {"Transfer-Encoding": "chunked"})
        for chunk in response.stream():
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _send_truncated(self, response: Response, fraction: float) -> None:
        """Announce the whole body's length, send ``fraction`` of it, and hang up."""
        if response.stream is None:
            total, chunks = len(response.body), iter([response.body])
        elif response.replayable:
            # Produce the stream once to learn its length, then again to send it.
            total = sum(len(chunk) for chunk in response.stream())
            chunks = response.stream()
        else:
            body = b"".join(response.stream())
            total, chunks = len(body), iter([body])
        self._start(response, {"Content-Length": str(total)})
        self._write_prefix(chunks, int(total * fraction))
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _write_prefix(self, chunks: Iterator[bytes], budget: int) -> None:
        for chunk in chunks:
            if budget <= 0:
                return
            self.wfile.write(chunk[:budget])
            budget -= len(chunk)

    def _send_plain(self, status: int, body: bytes) -> None:
        self.close_connection = True
        self._start(
            Response(status=status, body=body, content_type="text/plain; charset=utf-8"),
            {"Content-Length": str(len(body)), "Connection": "close"},
        )
        self.wfile.write(body)

    def _reset(self) -> None:
        """Close the connection with a TCP reset and no answer at all."""
        self.close_connection = True
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
