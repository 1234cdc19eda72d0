"""The slow-client protocol in process: a fake transport, tiny deadlines, uvicorn's real parser and cycle."""

from __future__ import annotations

import asyncio
import functools
import logging
import resource
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

pytest.importorskip("httptools")

from uvicorn.config import Config
from uvicorn.server import ServerState

from service import connections
from service.config import ConnectionLimits
from service.connections import ConnectionGuard, GuardedHttpToolsProtocol, fit_descriptors, protocol_class

BODY = b'{"output": "hello"}'
HEAD = b"POST /v1/validate HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(BODY)


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.paused = False

    def write(self, data: Any) -> None:
        self.written += bytes(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5555)}.get(name, default)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


class App:
    """Reads the whole body, then answers 200; records what receive() gave it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        while True:
            message = await receive()
            self.received.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        if self.received[-1]["type"] == "http.disconnect":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


class Stalled(App):
    """An app that does not read the body yet (busy elsewhere): the server, not the client, is the slow one."""

    async def __call__(self, scope: Any, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        await asyncio.Event().wait()


def _connect(
    app: App, limits: ConnectionLimits, cls: type[GuardedHttpToolsProtocol] | None = None
) -> tuple[GuardedHttpToolsProtocol, Transport]:
    config = Config(app=app, log_config=None, lifespan="off")
    config.load()
    proto = (cls or protocol_class(limits))(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    proto.connection_made(transport)
    return proto, transport


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Waits for `condition`; the bound is generous slack over deadlines of a fraction of a second."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not condition():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.01)


def _in_loop(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Runs an async test in its own event loop (the project's tests use asyncio.run, no async plugin)."""

    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())

    return run


FAST = ConnectionLimits(header_timeout_s=0.05, body_timeout_s=0.05, max_connections=10)


@_in_loop
async def test_a_request_in_one_read_arms_no_timer() -> None:
    app = App()
    proto, transport = _connect(app, ConnectionLimits())
    for _ in range(3):
        proto.data_received(HEAD + BODY)
        await _until(lambda: proto.cycle.response_complete)
        assert proto._timer is None and not transport.closed
    assert proto.guard.idle == {proto: None} and not proto.guard.waiting


@_in_loop
async def test_unfinished_headers_close_the_connection() -> None:
    proto, transport = _connect(App(), FAST)
    proto.data_received(b"POST /v1/validate HTTP/1.1\r\nhost: x\r\n")
    await _until(lambda: transport.closed)
    assert transport.written == b"" and proto.guard.open == 0


@_in_loop
async def test_a_connection_that_sends_nothing_is_closed() -> None:
    proto, transport = _connect(App(), FAST)
    await _until(lambda: transport.closed)
    assert proto.guard.counts["late_headers"] == 1


@_in_loop
async def test_trickled_headers_do_not_extend_the_deadline() -> None:
    proto, transport = _connect(App(), ConnectionLimits(header_timeout_s=0.3, body_timeout_s=1))
    proto.data_received(b"GET /healthz HTTP/1.1\r\nx-slow: ")
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not transport.closed and loop.time() - start < 5:
        proto.data_received(b"a")
        await asyncio.sleep(0.02)
    assert transport.closed and loop.time() - start < 2


@_in_loop
async def test_an_unfinished_body_is_answered_408_and_the_app_sees_a_disconnect() -> None:
    app = App()
    proto, transport = _connect(app, FAST)
    proto.data_received(HEAD + BODY[:5])
    await _until(lambda: transport.closed)
    assert transport.written.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b'"code": "request_timeout"' in transport.written and b"connection: close" in transport.written
    await _until(lambda: bool(app.received) and app.received[-1]["type"] == "http.disconnect")
    assert proto.cycle.scope["state"][connections.READ_TIMEOUT] is True


@_in_loop
async def test_no_deadline_runs_while_the_server_stopped_reading() -> None:
    proto, transport = _connect(Stalled(), FAST)
    proto.data_received(HEAD + BODY[:5])
    proto.flow.pause_reading()  # as uvicorn does for a pipelined request, or a body the app has not read
    await asyncio.sleep(0.3)
    assert not transport.closed and proto._timer is not None
    proto.flow.resume_reading()
    await _until(lambda: transport.closed)


@_in_loop
async def test_a_slow_second_request_on_a_kept_alive_connection_is_closed() -> None:
    proto, transport = _connect(App(), FAST)
    proto.data_received(HEAD + BODY)
    await _until(lambda: proto.cycle.response_complete)
    proto.data_received(b"GET /healthz HTTP/1.1\r\n")
    await _until(lambda: transport.closed)


class Victim:
    def __init__(self, guard: ConnectionGuard, where: dict[Any, None]) -> None:
        self.guard, self.reclaimed = guard, False
        guard.open += 1
        where[self] = None

    def reclaim(self) -> None:
        self.reclaimed = True
        self.guard.open -= 1
        self.guard.idle.pop(self, None)  # type: ignore[call-overload]
        self.guard.waiting.pop(self, None)  # type: ignore[call-overload]


def test_at_the_cap_idle_goes_first_then_the_longest_waiting_then_refusal(caplog: pytest.LogCaptureFixture) -> None:
    guard = ConnectionGuard(ConnectionLimits(max_connections=4))
    busy = Victim(guard, {})
    old_wait, new_wait = Victim(guard, guard.waiting), Victim(guard, guard.waiting)  # type: ignore[arg-type]
    idle = Victim(guard, guard.idle)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, "outguard.service"):
        assert guard.admit() and idle.reclaimed and not old_wait.reclaimed
        assert guard.admit() and old_wait.reclaimed and not new_wait.reclaimed
        assert guard.admit() and new_wait.reclaimed
        assert not guard.admit() and not busy.reclaimed
    assert guard.counts == {"late_headers": 0, "late_body": 0, "large_headers": 0, "reclaimed": 3, "refused": 1}
    assert "slow clients since start: reclaimed 1" in caplog.text  # the first event; the rest within 10 s are not


@_in_loop
async def test_a_refused_connection_is_answered_503_and_closed() -> None:
    cls = protocol_class(ConnectionLimits(max_connections=1))
    first, first_t = _connect(App(), FAST, cls)
    first.data_received(HEAD + BODY[:5])  # a request in progress: not reclaimable
    second, second_t = _connect(App(), FAST, cls)
    assert second_t.closed and second_t.written.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"retry-after: 1" in second_t.written and not first_t.closed
    second.connection_lost(None)
    assert cls.guard.open == 1


def test_fit_descriptors_raises_the_soft_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {"soft": 1024, "hard": 4096}
    monkeypatch.setattr(resource, "getrlimit", lambda _r: (limits["soft"], limits["hard"]))
    monkeypatch.setattr(resource, "setrlimit", lambda _r, v: limits.update(soft=v[0]))
    assert fit_descriptors(1000) == 1000 and limits["soft"] == 1000 + connections.SPARE_DESCRIPTORS


def test_fit_descriptors_lowers_the_cap_when_the_hard_limit_is_low(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _r: (1024, 1024))
    monkeypatch.setattr(resource, "setrlimit", lambda _r, _v: None)
    with caplog.at_level(logging.WARNING, "outguard.service"):
        assert fit_descriptors(5000) == 1024 - connections.SPARE_DESCRIPTORS
    assert "--max-connections 5000" in caplog.text


@_in_loop
async def test_headers_over_the_limit_are_answered_431_and_closed() -> None:
    proto, transport = _connect(App(), ConnectionLimits(max_header_bytes=1024))
    proto.data_received(b"GET /healthz HTTP/1.1\r\n")
    for _ in range(10):
        proto.data_received(b"x-big: " + b"a" * 200 + b"\r\n")
    assert transport.closed and transport.written.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b'"code": "headers_too_large"' in transport.written and proto.guard.open == 0


@_in_loop
async def test_a_large_body_in_the_read_that_ends_the_headers_is_not_counted_as_headers() -> None:
    app = App()
    proto, transport = _connect(app, ConnectionLimits(max_header_bytes=1024))
    body = b'{"output": "' + b"x" * 5000 + b'"}'
    proto.data_received(b"POST /v1/validate HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
    await _until(lambda: proto.cycle.response_complete)
    assert transport.written.startswith(b"HTTP/1.1 200 ") and not transport.closed
