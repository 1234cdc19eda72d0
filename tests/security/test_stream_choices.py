"""Streamed `n > 1` as an attacker sees it: a hostile upstream streams several choices (one leaking an e-mail
address, one failing its schema, one smuggled under an index nobody asked for), the client asks for `cleared`
release to get text early and reads the raw SSE bytes. No choice's unchecked text may reach it, ever, and no
choice's text may reach it before every choice has its verdict (a retract on one would reach readers of another).
Real sidecar process on loopback, scripted upstream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.guard.fake_openai import FakeOpenAI, Good, Raw, Slow, serve
from tests.service.conftest import KEYS
from tests.service.server import Server, running_server

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
FMT = {"type": "json_schema", "json_schema": {"name": "place", "schema": CITY}}
EMAIL = "mallory.exfil@example.com"
REJECTED = "Atlantis-7731"
SMUGGLED = "SMUGGLED-not-a-choice"
REGENERATION_S = 1.5


def hostile_stream() -> Raw:
    """Two choices interleaved in small pieces, plus pieces under index 2 (n is 2) and a non-integer index."""
    zero = f'{{"city": "Paris", "contact": "{EMAIL}"}}'
    one = f'{{"town": "{REJECTED}"}}'
    pieces: list[dict[str, Any]] = []
    for i in range(0, max(len(zero), len(one)), 3):
        pieces += [
            {"index": 0, "delta": {"content": zero[i : i + 3]}},
            {"index": 1, "delta": {"content": one[i : i + 3]}},
        ]
        pieces += [{"index": 2, "delta": {"content": SMUGGLED}}, {"index": "1", "delta": {"content": SMUGGLED}}]
    pieces = [p for p in pieces if p["delta"]["content"]]
    pieces += [{"index": i, "delta": {}, "finish_reason": "stop"} for i in (0, 1, 2)]
    body = "".join(f"data: {json.dumps({'choices': [p]})}\n\n" for p in pieces) + "data: [DONE]\n\n"
    return Raw(body.encode(), content_type="text/event-stream")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def server(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("stream-choices-attack")
    args = ("--upstream-url", fake.url, "--upstream-model", "fake-model", "--policy", "default")
    with running_server(tmp, *args) as srv:
        yield srv


def test_no_choice_text_before_every_verdict_and_never_unchecked(server: Server, fake: FakeOpenAI) -> None:
    fake.add(hostile_stream(), Slow(REGENERATION_S, Good('{"city": "Rome"}')))
    body = {"model": "x", "messages": [{"role": "user", "content": "Where?"}], "n": 2, "stream": True}
    body |= {"response_format": FMT, "outguard": {"policy": "default"}}
    headers = {"Authorization": f"Bearer {KEYS['validate']}", "X-Outguard-Release": "cleared"}
    events: list[tuple[float, dict[str, Any]]] = []
    raw = b""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        t0 = time.monotonic()
        with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as resp:
            assert resp.status_code == 200  # was a 400 `unsupported`
            for line in resp.iter_lines():
                raw += line.encode() + b"\n"
                if line.startswith("data: {"):
                    events.append((time.monotonic() - t0, json.loads(line[6:])))
    assert EMAIL not in raw.decode() and REJECTED not in raw.decode() and SMUGGLED not in raw.decode()
    texts: dict[int, str] = {}
    first_text_at = None
    for at, event in events:
        for choice in event["choices"]:
            content = choice["delta"].get("content")
            if content:
                first_text_at = at if first_text_at is None else first_text_at
                texts[choice["index"]] = texts.get(choice["index"], "") + content
    assert set(texts) == {0, 1}  # the two asked for; nothing under an index the upstream made up
    assert json.loads(texts[0]) == {"city": "Paris", "contact": "<EMAIL_ADDRESS_1>"}  # redacted before release
    assert json.loads(texts[1]) == {"city": "Rome"}  # the regenerated choice, never the rejected one
    # Choice 0 passed at once, but its text waits for choice 1's verdict, which the slow regeneration decides.
    assert first_text_at is not None and first_text_at >= REGENERATION_S
    assert len(fake.requests) == 2 and "n" not in fake.requests[1]["body"]
