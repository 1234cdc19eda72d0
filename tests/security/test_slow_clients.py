"""Finding 10: slow clients held connections for as long as they liked (unfinished headers or bodies, no key
needed). Attack: a real sidecar on loopback; hundreds of sockets that send part of a request and trickle the
rest a byte at a time. Real clients must still be answered promptly, the server must close the slow sockets
once their header or body deadline passes, and past the connection cap the slow ones make room."""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import KEYS
from tests.service.server import Server, running_server, start_server, stop

HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 3.0
PROMPT = 2.0
"""Seconds a real client may wait for an answer while the slow sockets are open."""


def _fd_budget(wanted: int) -> int:
    """How many slow sockets this process can open: up to `wanted`, raising the soft fd limit if allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted + 256
    if soft < target:
        new = target if hard == resource.RLIM_INFINITY else min(target, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return max(50, min(wanted, soft - 256))


SLOW = _fd_budget(1000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("slow")
    srv = start_server(
        tmp,
        "--header-timeout",
        str(HEADER_TIMEOUT),
        "--body-timeout",
        str(BODY_TIMEOUT),
        "--max-connections",
        str(SLOW + 200),
    )
    try:
        yield srv
    finally:
        stop(srv)


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose connection cap is far below the number of slow sockets, with long deadlines."""
    tmp = tmp_path_factory.mktemp("capped")
    srv = start_server(tmp, "--header-timeout", "60", "--body-timeout", "60", "--max-connections", "100")
    try:
        yield srv
    finally:
        stop(srv)


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _open(server: Server, n: int, first: bytes) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", _port(server)), timeout=5)
        s.sendall(first)
        s.setblocking(False)
        socks.append(s)
    return socks


def _trickle(socks: list[socket.socket], byte: bytes = b"a") -> None:
    """One more byte on every socket still open (the server must not count a byte as progress)."""
    for s in socks:
        with contextlib.suppress(OSError):
            s.send(byte)


def _closed(s: socket.socket, answers: dict[socket.socket, bytes] | None = None) -> bool:
    """True once the server has closed `s` (EOF or reset); what it sent first goes to `answers`."""
    # The sockets are non-blocking: recv answers at once (BlockingIOError when nothing came). No select():
    # with a thousand sockets open in a long test run their descriptors pass FD_SETSIZE (1024).
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
            if answers is not None:
                answers[s] = answers.get(s, b"") + data
    except (ConnectionResetError, BrokenPipeError):
        return True
    except BlockingIOError:
        return False


def _real_client_is_answered(server: Server) -> None:
    """A fresh connection each time, as a new client would; every answer within PROMPT seconds."""
    headers = {"Authorization": f"Bearer {KEYS['validate']}"}
    with httpx.Client(base_url=server.url, timeout=PROMPT) as client:
        t0 = time.monotonic()
        assert client.get("/healthz").status_code == 200
        r = client.post("/v1/validate", json={"output": "Hello there"}, headers=headers)
        assert r.status_code == 200 and r.json()["verdict"] == "pass"
        assert time.monotonic() - t0 < 2 * PROMPT


def _wait_all_closed(
    socks: list[socket.socket], seconds: float, answers: dict[socket.socket, bytes] | None = None
) -> list[socket.socket]:
    """Trickles until every socket is closed or `seconds` pass; returns those still open."""
    deadline = time.monotonic() + seconds
    still = socks
    while still and time.monotonic() < deadline:
        time.sleep(0.25)
        # Read before the next byte goes out: a byte sent after the server closed draws a reset.
        still = [s for s in still if not _closed(s, answers)]
        _trickle(still)
    return still


def _close(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()


def test_slow_headers_do_not_starve_real_clients_and_are_closed(server: Server) -> None:
    socks = _open(server, SLOW, b"POST /v1/validate HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    try:
        for _ in range(3):
            _trickle(socks)
            _real_client_is_answered(server)
        # The real clients were answered while the slow sockets held their connections.
        assert sum(not _closed(s) for s in socks) > len(socks) // 2, "the attack did not overlap the real clients"
        still = _wait_all_closed(socks, HEADER_TIMEOUT + 10)
        assert not still, f"{len(still)} of {len(socks)} slow-header sockets still open"
        _real_client_is_answered(server)
    finally:
        _close(socks)


def test_slow_bodies_are_answered_408_without_reaching_the_endpoint(server: Server) -> None:
    head = (
        "POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEYS['validate']}\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    # Without a key too: the 401 is sent at once, and the body that keeps coming must not hold the socket.
    anonymous = b"POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    socks = _open(server, SLOW // 2, head + b'{"output": "') + _open(server, SLOW // 2, anonymous + b"{")
    try:
        _real_client_is_answered(server)
        time.sleep(0.2)
        _trickle(socks)
        _real_client_is_answered(server)
        answers: dict[socket.socket, bytes] = {}
        still = _wait_all_closed(socks, BODY_TIMEOUT + 10, answers)
        assert not still, f"{len(still)} of {len(socks)} slow-body sockets still open"
        authorized = [answers.get(s, b"") for s in socks[: SLOW // 2]]
        timed_out = [a for a in authorized if a.startswith(b"HTTP/1.1 408 ")]
        # Nearly all: a reset can drop an answer the client had not read yet.
        assert len(timed_out) >= 0.9 * len(authorized), [a[:80] for a in authorized if a not in timed_out][:3]
        assert b'"code": "request_timeout"' in timed_out[0] and b"connection: close" in timed_out[0].lower()
        _real_client_is_answered(server)
    finally:
        _close(socks)


def test_a_slow_second_request_on_a_kept_alive_connection_is_closed(server: Server) -> None:
    socks = _open(server, 20, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        time.sleep(0.5)
        answers: dict[socket.socket, bytes] = {}
        for s in socks:
            assert not _closed(s, answers) and answers[s].startswith(b"HTTP/1.1 200 ")
        _trickle(socks, b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        still = _wait_all_closed(socks, HEADER_TIMEOUT + 10)
        assert not still, f"{len(still)} of {len(socks)} kept-alive sockets still open"
    finally:
        _close(socks)


def test_past_the_connection_cap_slow_sockets_make_room_for_real_clients(capped: Server) -> None:
    # Slow headers, and slow bodies without a key (answered 401 at once, so idle as far as the server goes).
    half = SLOW // 2
    socks = _open(capped, half, b"POST /v1/validate HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    socks += _open(capped, SLOW - half, b"POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
    try:
        # Until the server has answered the keyless bodies 401 they are requests in progress, which are never
        # reclaimed: a real client arriving in that instant is rightly refused. Wait for the answers first.
        answers: dict[socket.socket, bytes] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for s in socks[half:]:
                _closed(s, answers)
            if sum(a.startswith(b"HTTP/1.1 401 ") for a in answers.values()) >= min(50, len(socks) - half):
                break
            time.sleep(0.05)
        for _ in range(5):
            _trickle(socks)
            _real_client_is_answered(capped)
        time.sleep(0.5)
        still_open = [not _closed(s) for s in socks]
        # The server holds at most its cap; the real clients above took some of it.
        assert sum(still_open) <= 100, sum(still_open)
        # Sockets waiting for their headers were reclaimed oldest first: those left are the newest.
        waiting = still_open[:half]
        assert waiting == sorted(waiting), "a newer waiting socket was reclaimed before an older one"
    finally:
        _close(socks)


def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503(tmp_path: Path) -> None:
    """Requests in progress are never reclaimed (here: keyed bodies still arriving); a newcomer is told why."""
    head = (
        "POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEYS['validate']}\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    with running_server(tmp_path, "--max-connections", "20", "--body-timeout", "60") as srv:
        busy = _open(srv, 20, head + b'{"output": "')
        try:
            time.sleep(0.5)
            with socket.create_connection(("127.0.0.1", _port(srv)), timeout=5) as s:
                answer = b""
                while chunk := s.recv(65536):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
            assert b"retry-after: 1" in answer and b'"code": "too_many_connections"' in answer
            assert not any(_closed(b) for b in busy)
        finally:
            _close(busy)
        time.sleep(0.5)
        _real_client_is_answered(srv)


def test_headers_sent_fast_but_without_end_are_cut_off_at_the_size_limit(server: Server) -> None:
    """The fast variant: no deadline passes, but the parser would keep every header byte that comes."""
    line = b"X-Big: " + b"a" * 8000 + b"\r\n"
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        with contextlib.suppress(OSError):
            while sent < 16 * 1024 * 1024:
                s.sendall(line)
                sent += len(line)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := s.recv(65536):
                answer += chunk
    # 64 KiB by default, checked per read: the server stops reading long before 16 MiB.
    assert sent < 4 * 1024 * 1024, sent
    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b"", answer[:200]
    _real_client_is_answered(server)
