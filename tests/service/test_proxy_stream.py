"""The streaming proxy: what a client gets for requests a guarded stream cannot serve, and how soon it sees text."""

from __future__ import annotations

from typing import Any

from tests.service.conftest import auth
from tests.service.test_proxy import _chat, _sse, proxy

__all__ = ["proxy"]


def test_streamed_n_above_one_is_a_clear_400_and_never_reaches_the_upstream(proxy: Any) -> None:
    # Each choice is validated (and regenerated) on its own; a stream interleaves the choices' deltas, so
    # one choice's retract would reach a client reading another: the proxy refuses instead of guessing.
    client, fake = proxy(["The store opens at 9am."])
    r = _chat(client, stream=True, n=2)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "unsupported"
    assert "n > 1" in error["message"] and "stream" in error["message"]
    assert fake.requests == []
    # n=1 streams as usual.
    ok = _chat(client, stream=True, n=1)
    assert ok.status_code == 200


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
