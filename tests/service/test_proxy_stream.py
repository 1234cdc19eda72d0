"""The streaming proxy: what a client gets for requests a guarded stream cannot serve, and how soon it sees text."""

from __future__ import annotations

from typing import Any

from tests.service.conftest import auth
from tests.service.test_proxy import _sse, proxy

__all__ = ["proxy"]


# Streamed n > 1 (a 400 until session 8) is served now: tests/service/test_proxy_stream_choices.py and
# tests/security/test_stream_choices.py.


def test_stream_delivers_text_in_several_chunks_before_the_end(proxy: Any) -> None:
    text = "The store opens at nine in the morning and closes at six in the evening on weekdays. " * 8
    client, _fake = proxy([text])
    r = client.post(
        "/v1/chat/completions",
        json={"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers={**auth(), "X-Outguard-Release": "cleared"},
    )
    chunks = _sse(r)
    contents = [c["choices"][0]["delta"].get("content") for c in chunks if c.get("choices")]
    assert len([c for c in contents if c]) > 2
    assert "".join(c or "" for c in contents) == text
