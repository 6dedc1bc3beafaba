"""Serve a fake OpenAI-compatible LLM on 127.0.0.1 for the real OpenHands servers under test.

``POST /v1/chat/completions`` always answers with the same assistant reply and no tool call, so
an agent that talks to it finishes its turn at once. The OpenHands SDK streams its agent step
(Server-Sent Events of ``chat.completion.chunk`` objects ending with ``data: [DONE]``) and makes
some auxiliary calls as plain JSON, so both shapes are served.

Run: ``python fake_llm.py PORT`` (no dependencies beyond the standard library, so any Python runs
it). The process writes one log line per request to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAKE_REPLY = "Hello from the fake LLM. Task complete."
FAKE_MODEL = "fake"
# Streamed in a few pieces so the agent sees real deltas, as with a real provider.
REPLY_PIECES = ["Hello from ", "the fake LLM. ", "Task complete."]
USAGE = {"prompt_tokens": 20, "completion_tokens": 16, "total_tokens": 36}

logger = logging.getLogger("fake_llm")


def completion_body(model: str) -> dict[str, Any]:
    """Build a plain (non-streamed) chat completion carrying the fixed reply."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": FAKE_REPLY},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }


def completion_chunks(model: str) -> list[dict[str, Any]]:
    """Build the streamed chunks of the fixed reply: role, content pieces, then stop + usage."""
    chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in REPLY_PIECES]
    final = chunk({}, finish_reason="stop")
    final["usage"] = USAGE
    chunks.append(final)
    return chunks


class FakeLLMHandler(BaseHTTPRequestHandler):
    """Answer chat completions with the fixed reply; everything else is 404."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        model = str(request.get("model") or FAKE_MODEL)
        if request.get("stream"):
            self._send_stream(completion_chunks(model))
        else:
            self._send_json(200, completion_body(model))

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [{"id": FAKE_MODEL}]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_stream(self, chunks: list[dict[str, Any]]) -> None:
        # No Content-Length: the stream ends when the connection closes after [DONE].
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)


def main(argv: list[str]) -> int:
    """Serve on 127.0.0.1:PORT until terminated."""
    if len(argv) != 1 or not argv[0].isdigit():
        sys.stderr.write("usage: fake_llm.py PORT\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = ThreadingHTTPServer(("127.0.0.1", int(argv[0])), FakeLLMHandler)
    logger.info("listening on http://127.0.0.1:%d/v1", server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
