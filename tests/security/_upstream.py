"""A hostile OpenAI-compatible upstream on loopback: each request is answered by a scripted function that
writes whatever bytes it likes, at whatever pace (JSON, SSE, comments only, a trickle, 50 MB)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[["Writer", dict[str, Any]], None]
"""Answers one request: gets a writer and the request body (parsed JSON)."""


class Writer:
    """What a scripted reply may do with the connection."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self.h = handler

    def json(self, payload: Any, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.h.send_response(status)
        self.h.send_header("content-type", "application/json")
        self.h.send_header("content-length", str(len(body)))
        self.h.end_headers()
        self.h.wfile.write(body)

    def start_stream(self, content_type: str = "text/event-stream") -> None:
        self.h.send_response(200)
        self.h.send_header("content-type", content_type)
        self.h.send_header("connection", "close")
        self.h.end_headers()
        self.h.close_connection = True

    def write(self, data: bytes) -> bool:
        """False once the client went away (so a scripted loop can stop)."""
        try:
            self.h.wfile.write(data)
            self.h.wfile.flush()
        except OSError:
            return False
        return True

    def event(self, payload: Any) -> bool:
        return self.write(f"data: {json.dumps(payload)}\n\n".encode())

    def delta(self, text: str) -> bool:
        return self.event({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})

    def done(self) -> None:
        self.write(b"data: [DONE]\n\n")


def completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-up",
        "object": "chat.completion",
        "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }


def answer(text: str) -> Reply:
    """A well-behaved upstream: the text as JSON, or as SSE deltas of a few characters when streaming."""

    def reply(w: Writer, body: dict[str, Any]) -> None:
        if not body.get("stream"):
            w.json(completion(text))
            return
        w.start_stream()
        for i in range(0, len(text), 7):
            w.delta(text[i : i + 7])
        w.done()

    return reply


def for_seconds(seconds: float, step: Callable[[], bool], pause: float) -> None:
    """Call `step` every `pause` seconds for `seconds` (or until it says the client is gone)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and step():
        time.sleep(pause)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up break pipes on purpose


@contextmanager
def upstream(reply: Reply) -> Iterator[str]:
    """Serve `reply` on a loopback port; yields the base URL (…/v1)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = {}
            with suppress(OSError):
                reply(Writer(self), body)
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
