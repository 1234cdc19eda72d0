import socket

import pytest

from tests.conftest import NetworkAccessError


def test_outbound_connection_fails_the_test() -> None:
    with pytest.raises(NetworkAccessError):
        socket.create_connection(("198.51.100.7", 443), timeout=0.1)


def test_name_lookup_fails_the_test() -> None:
    with pytest.raises(NetworkAccessError):
        socket.getaddrinfo("example.com", 443)


def test_loopback_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()
