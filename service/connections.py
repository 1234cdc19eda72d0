"""Slow clients: header and body deadlines and a cap on open connections, inside uvicorn's httptools protocol.

uvicorn closes a kept-alive connection that stays idle (`timeout_keep_alive`), but any byte cancels that timer
and nothing bounds how long a request may take to arrive: a client that trickles its headers or its body
(slowloris) holds a socket and a file descriptor for as long as it likes, and enough of them exhaust the
descriptors. uvicorn's `limit_concurrency` does not help: it counts those sockets and answers real clients 503.

So each connection gets one timer, armed only while the server waits for the client:

- headers: from the connection's start (on a kept-alive connection, from the next request's first byte) to the
  end of the headers; past `header_timeout_s` the connection is closed without an answer;
- body: from the end of the headers to the end of the body; past `body_timeout_s` the request is answered 408
  in the service's error shape and the connection closed. The app's receive() reports a disconnect, so the
  endpoint never sees a body.

Fast clients are bounded too: llhttp (httptools' parser) keeps any amount of header bytes, so a request line
and headers over `max_header_bytes` are answered 431 and the connection closed.

The clock is total, not per byte, so trickling does not extend it. It does not run against the client while the
server itself stopped reading (a pipelined request waiting for the one before it, a body the app has not
consumed yet): then the timer starts over.

At `max_connections` a new connection first reclaims an idle kept-alive connection, else the one that has waited
longest for its headers (both kept in arrival order, so finding one is O(1)); only when every connection has a
request in progress is the new one refused: a 503 in the service's error shape, then closed. Slow sockets thus
cannot keep real clients out, and the descriptors in use stay bounded.

Cost on the hot path: a timer is armed at the end of `data_received` only when a request is left unfinished,
so a request that arrives in one read (the common case) arms none; the rest is a few dict operations.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.config import ConnectionLimits
from service.middleware import READ_TIMEOUT

log = logging.getLogger("outguard.service")

_HEADERS, _BODY, _SERVING = 0, 1, 2
"""Where a connection's current request is: headers arriving, body arriving, fully received."""

_LOG_EVERY_S = 10.0


def _answer(status: str, code: str, message: str, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = [f"HTTP/1.1 {status}", "content-type: application/json", f"content-length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in extra]
    head.append("connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class ConnectionGuard:
    """Shared by the connections of one server: the limits, the open count, and the reclaimable connections in
    arrival order (dicts keep insertion order; values unused)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open = 0
        self.idle: dict[GuardedHttpToolsProtocol, None] = {}
        """Kept-alive connections between requests."""
        self.waiting: dict[GuardedHttpToolsProtocol, None] = {}
        """Connections whose current request's headers have not all arrived."""
        self.counts = {"late_headers": 0, "late_body": 0, "large_headers": 0, "reclaimed": 0, "refused": 0}
        self._logged = -_LOG_EVERY_S  # the first event is logged at once
        self.refusal = _answer(
            "503 Service Unavailable",
            "too_many_connections",
            f"the server holds its maximum of {limits.max_connections} connections, each with a request in progress; "
            "retry shortly",
            (("retry-after", "1"),),
        )

    def admit(self) -> bool:
        """Count a new connection, reclaiming one at the cap; False when every connection is busy."""
        if self.open >= self.limits.max_connections:
            victim = next(iter(self.idle), None) or next(iter(self.waiting), None)
            if victim is None:
                self.note("refused")
                return False
            self.note("reclaimed")
            victim.reclaim()
        self.open += 1
        return True

    def note(self, what: str) -> None:
        """Counts what happened to slow clients; one log line per interval at most, since attackers choose
        how many events there are."""
        self.counts[what] += 1
        now = time.monotonic()
        if now - self._logged >= _LOG_EVERY_S:
            self._logged = now
            summary = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.counts.items() if v)
            log.warning("slow clients since start: %s (open now %d)", summary, self.open)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and the cap above; `guard` is set by `protocol_class`."""

    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = _HEADERS
        self._timer: asyncio.TimerHandle | None = None
        self._counted = False
        self._header_bytes = 0

    # Connection life

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self.guard
        if not guard.admit():
            transport.write(guard.refusal)
            transport.close()
            return
        self._counted = True
        guard.waiting[self] = None
        self._timer = self.loop.call_later(guard.limits.header_timeout_s, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The connection passes to another protocol and this one never hears of it again.
        self._release()
        super().handle_websocket_upgrade()

    def reclaim(self) -> None:
        """Give the connection up (reclaimed at the cap, or a deadline passed)."""
        self._release()
        self.transport.close()

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._counted:
            self._counted = False
            guard = self.guard
            guard.open -= 1
            guard.idle.pop(self, None)
            guard.waiting.pop(self, None)

    # Request phases (parser callbacks and uvicorn's hooks)

    def data_received(self, data: bytes) -> None:
        if self._phase == _HEADERS:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._phase == _HEADERS and self._header_bytes > self.guard.limits.max_header_bytes:
            # llhttp sets no bound of its own: without this, one request's headers grow as long as they come.
            self._headers_too_large()
            return
        if self._timer is None and self._counted:
            if self._phase == _HEADERS:
                self._timer = self.loop.call_later(self.guard.limits.header_timeout_s, self._headers_late)
            elif self._phase == _BODY:
                self._timer = self.loop.call_later(self.guard.limits.body_timeout_s, self._body_late)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _HEADERS
        if self._counted:
            self.guard.idle.pop(self, None)
            self.guard.waiting[self] = None  # a connection's first request keeps its place from connection_made

    def on_headers_complete(self) -> None:
        self._phase = _BODY
        self._header_bytes = 0
        self._cancel_timer()
        self.guard.waiting.pop(self, None)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = _SERVING
        self._cancel_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn arms its keep-alive timer exactly when the connection goes idle.
        if self._counted and self.timeout_keep_alive_task is not None:
            self.guard.idle[self] = None

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # Deadlines

    def _server_is_the_slow_one(self) -> bool:
        """Reading paused by the server (pipelining, an unread body), or a previous request still answering."""
        cycle = self.cycle
        return self.flow.read_paused or (self._phase == _HEADERS and cycle is not None and not cycle.response_complete)

    def _headers_late(self) -> None:
        self._timer = None
        if self._server_is_the_slow_one():
            self._timer = self.loop.call_later(self.guard.limits.header_timeout_s, self._headers_late)
            return
        self.guard.note("late_headers")
        self.reclaim()

    def _headers_too_large(self) -> None:
        self.guard.note("large_headers")
        if not self.transport.is_closing():
            limit = self.guard.limits.max_header_bytes
            self.transport.write(
                _answer(
                    "431 Request Header Fields Too Large",
                    "headers_too_large",
                    f"the request line and headers are over the limit of {limit} bytes",
                )
            )
        self.reclaim()

    def _body_late(self) -> None:
        self._timer = None
        if self._server_is_the_slow_one():
            self._timer = self.loop.call_later(self.guard.limits.body_timeout_s, self._body_late)
            return
        self.guard.note("late_body")
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and not self.transport.is_closing():
            state = cycle.scope.get("state")
            if isinstance(state, dict):
                state[READ_TIMEOUT] = True
            self.transport.write(
                _answer(
                    "408 Request Timeout",
                    "request_timeout",
                    f"the request body did not arrive within {self.guard.limits.body_timeout_s:g} s",
                )
            )
            # The app waiting in receive() gets a disconnect, and anything it sends is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self.reclaim()


def protocol_class(limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class to hand uvicorn (`http=`): one guard per server."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"guard": ConnectionGuard(limits)})


SPARE_DESCRIPTORS = 256
"""Descriptors kept for everything but client sockets: the listening socket, databases, rule and model files."""


def fit_descriptors(max_connections: int) -> int:
    """Raise the soft limit on open files so that `max_connections` fit with spare descriptors; returns the cap
    that fits (lower than asked, with a warning, when the hard limit is too low): past the descriptor limit the
    server cannot accept anyone, nor open a file."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + SPARE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < wanted:
        fitted = max(1, soft - SPARE_DESCRIPTORS)
        log.warning(
            "open-file limit %d is too low for --max-connections %d: serving at most %d connections "
            "(raise `ulimit -n`)",
            soft,
            max_connections,
            fitted,
        )
        return fitted
    return max_connections
