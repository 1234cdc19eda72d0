"""Test-wide guards: nothing may open a network connection except to loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

# Libraries that phone home must stay offline in every test (and in production validation).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Wall-clock deadlines tuned on a quiet machine fire on a loaded CI runner (a cold first call, a megabyte of
# input): tests run them 8x looser. Tests of deadline behaviour itself use the `unscaled_deadlines` fixture.
os.environ.setdefault("OUTGUARD_DEADLINE_SCALE", "8")


@pytest.fixture
def unscaled_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deadlines as the policy states them (for tests that expect a check to run late)."""
    monkeypatch.setenv("OUTGUARD_DEADLINE_SCALE", "1")


class NetworkAccessError(AssertionError):
    pass


def _is_loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host in {"localhost", ""}:
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return isinstance(address, (str, bytes))  # unix sockets


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkAccessError(f"test tried to connect to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkAccessError(f"test tried to connect to {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host not in (None, "localhost", b"localhost") and not _is_loopback((host,)):
        raise NetworkAccessError(f"test tried to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a real, empty PostgreSQL started for this test session (skipped only outside CI)."""
    from tests.postgres import postgres_available, throwaway_postgres

    reason = postgres_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(reason)
    with throwaway_postgres() as url:
        yield url
