"""A real HTTP server on loopback speaking the chat-completions wire format, with scripted replies.

Each request takes the next reply from the script. Replies: `Good(text)`, `Status(code, body)`,
`Raw(body)` (e.g. malformed JSON), `Slow(seconds, reply)`, `Drop()` (close without answering),
`Sse(deltas, done=True, drop_after=None)` (server-sent events, optionally cut off mid-stream),
`Message(message)` (a whole assistant message, e.g. with `tool_calls`), `SseTools(calls)` (streamed tool calls,
each call's arguments cut into small pieces as OpenAI sends them), `Choices(texts)` (`n` choices).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Good:
    text: str
    usage: tuple[int, int] = (12, 5)
    model: str = "fake-model"


@dataclass
class Status:
    code: int
    body: Any = field(default_factory=lambda: {"error": {"message": "scripted failure", "type": "server_error"}})
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Raw:
    body: bytes
    content_type: str = "application/json"


@dataclass
class Slow:
    seconds: float
    reply: Any


@dataclass
class Drop:
    pass


@dataclass
class Sse:
    deltas: list[str]
    done: bool = True
    drop_after: int | None = None
    pause: float = 0.0
    usage: tuple[int, int] | None = None


@dataclass
class Message:
    message: dict[str, Any]
    usage: tuple[int, int] = (12, 5)
    finish_reason: str = "tool_calls"


@dataclass
class SseTools:
    calls: list[tuple[str, str, str]]
    """(id, function name, arguments) per call."""
    usage: tuple[int, int] | None = None
    piece: int = 5


@dataclass
class Choices:
    texts: list[str]
    usage: tuple[int, int] = (12, 5)


def tool_calls(*calls: tuple[str, str, str]) -> Message:
    """A non-streamed answer made of tool calls: (id, function name, arguments) each."""
    return Message(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls],
        }
    )


def _usage(usage: tuple[int, int]) -> dict[str, int]:
    p, c = usage
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""

    def add(self, *replies: Any) -> None:
        with self.lock:
            self.script.extend(replies)

    def next_reply(self) -> Any:
        with self.lock:
            if not self.script:
                return Status(599, {"error": {"message": "script exhausted"}})
            return self.script.pop(0)


def _completion(reply: Good) -> dict[str, Any]:
    p, c = reply.usage
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": reply.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
    }


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = None
            fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self._reply(fake.next_reply())

        def _send(self, code: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def _reply(self, reply: Any) -> None:
            if isinstance(reply, Slow):
                time.sleep(reply.seconds)
                reply = reply.reply
            if isinstance(reply, Good):
                self._send(200, json.dumps(_completion(reply)).encode(), "application/json")
            elif isinstance(reply, Message | Choices):
                if isinstance(reply, Message):
                    choices = [{"index": 0, "message": reply.message, "finish_reason": reply.finish_reason}]
                else:
                    choices = [
                        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                        for i, t in enumerate(reply.texts)
                    ]
                body = {"id": "chatcmpl-2", "object": "chat.completion", "model": "fake-model", "choices": choices}
                self._send(200, json.dumps({**body, "usage": _usage(reply.usage)}).encode(), "application/json")
            elif isinstance(reply, SseTools):
                self._stream_tools(reply)
            elif isinstance(reply, Status):
                self._send(reply.code, json.dumps(reply.body).encode(), "application/json", reply.headers)
            elif isinstance(reply, Raw):
                self._send(200, reply.body, reply.content_type)
            elif isinstance(reply, Drop):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif isinstance(reply, Sse):
                self._stream(reply)

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _stream(self, reply: Sse) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i, delta in enumerate(reply.deltas):
                if reply.drop_after is not None and i == reply.drop_after:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)  # mid-stream, without the final chunk
                    return
                event = {"choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": None}]}
                self._chunk(f"data: {json.dumps(event)}\n\n".encode())
                if reply.pause:
                    time.sleep(reply.pause)
            if reply.usage is not None:
                p, c = reply.usage
                usage = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
                self._chunk(f"data: {json.dumps({'choices': [], 'usage': usage, 'model': 'fake-model'})}\n\n".encode())
            if reply.done:
                self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

        def _stream_tools(self, reply: SseTools) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for index, (call_id, name, args) in enumerate(reply.calls):
                head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                pieces = [args[i : i + reply.piece] for i in range(0, len(args), reply.piece)]
                deltas = [head] + [{"index": index, "function": {"arguments": p}} for p in pieces]
                for delta in deltas:
                    event = {"choices": [{"index": 0, "delta": {"tool_calls": [delta]}, "finish_reason": None}]}
                    self._chunk(f"data: {json.dumps(event)}\n\n".encode())
            end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
            self._chunk(f"data: {json.dumps(end)}\n\n".encode())
            if reply.usage is not None:
                self._chunk(f"data: {json.dumps({'choices': [], 'usage': _usage(reply.usage)})}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # scripted drops and client timeouts break pipes on purpose


@contextmanager
def serve() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    server = _Server(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
