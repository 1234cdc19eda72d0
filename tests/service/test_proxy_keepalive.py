"""SSE keep-alive comments on quiet proxy streams, against the loopback scripted upstream (a slow first byte).

Nothing here is timed: the upstream is silent for far longer than the keep-alive interval, and the tests assert
that comments are present, where they are, and that they change nothing a client reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guardrails.guard import OpenAIChatClient
from tests.guard.fake_openai import FakeOpenAI, Good, Slow, Sse, serve
from tests.service.conftest import DEMO_RULES, auth

BAD = "Our team answers every request within one working day. This fund has guaranteed returns for everyone."
FIXED = "Returns are never certain."
POLICY = """
name: proxy-test
rules: ["pack:demo"]
overrides:
  SVC001: {action: regenerate}
regeneration: {max_attempts: 2}
"""
KEEPALIVE = ": keep-alive"
# Differ from run to run whatever the stream carries: ids, clocks, timings.
_VOLATILE = {"id", "created", "elapsed_ms", "timings", "ms", "review_id"}


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with serve() as fake:
        yield fake


@pytest.fixture
def proxy(tmp_path: Path, make_client: Callable[..., TestClient], upstream: FakeOpenAI) -> Callable[..., TestClient]:
    rules = tmp_path / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "proxy-test.yaml").write_text(POLICY)

    def make(**config: Any) -> TestClient:
        client = OpenAIChatClient(upstream.url, "fake-model", max_retries=0)
        return make_client(policies=["proxy-test"], rules_dirs=[DEMO_RULES, rules], upstream=client, **config)

    return make


def _raw(client: TestClient, release: str) -> str:
    r = client.post(
        "/v1/chat/completions",
        json={"stream": True, "messages": [{"role": "user", "content": "Tell me about the fund."}]},
        headers={**auth(), "X-Outguard-Release": release},
    )
    assert r.status_code == 200, r.text
    return r.text


def _data(raw: str) -> list[Any]:
    return [_stable(json.loads(line[6:])) for line in raw.splitlines() if line.startswith("data: {")]


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _sse_events(raw: str) -> list[str]:
    """The data of each event as an SSE parser dispatches them: comment lines ignored, blank lines end events."""
    events, data = [], []
    for line in raw.split("\n"):
        if line == "":
            if data:
                events.append("\n".join(data))
            data = []
        elif line.startswith(":"):
            continue
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


def _completion(raw: str) -> tuple[str, str]:
    """What a stock OpenAI client makes of the stream: the content deltas joined, and the finish_reason."""
    events = _sse_events(raw)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    return text, chunks[-1]["choices"][0]["finish_reason"]


def _first_content_line(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
            return i
    raise AssertionError("no data event carries text")


@pytest.mark.parametrize("release", ["final", "cleared"])
def test_a_quiet_stream_gets_keepalives_that_change_nothing_a_client_reads(
    proxy: Callable[..., TestClient], upstream: FakeOpenAI, release: str
) -> None:
    raws = {}
    for every in (0.02, 0.0):
        # Half a second of upstream silence, then an answer that fails and is regenerated.
        upstream.add(Slow(0.5, Sse([BAD[i : i + 8] for i in range(0, len(BAD), 8)])), Good(FIXED))
        raws[every] = _raw(proxy(stream_keepalive_s=every), release)
    lines = raws[0.02].split("\n")
    keepalives = [i for i, line in enumerate(lines) if line == KEEPALIVE]
    assert keepalives, "no keep-alive during half a second of silence"
    role = next(i for i, line in enumerate(lines) if line.startswith("data: "))
    assert role < keepalives[0] < _first_content_line(lines)  # after the role chunk, before any text
    assert all(lines[i + 1] == "" for i in keepalives)  # each one a whole SSE block of its own
    assert KEEPALIVE not in raws[0.0]  # 0 disables them
    assert _data(raws[0.02]) == _data(raws[0.0])
    assert _completion(raws[0.02]) == _completion(raws[0.0]) == (FIXED, "stop")


def test_serve_flag_and_env_set_the_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    from guardrails.cli.main import build_parser
    from service.serve import _config

    monkeypatch.delenv("OUTGUARD_STREAM_KEEPALIVE", raising=False)
    assert _config(build_parser().parse_args(["serve"])).stream_keepalive_s == 15.0
    assert _config(build_parser().parse_args(["serve", "--stream-keepalive", "0"])).stream_keepalive_s == 0.0
    monkeypatch.setenv("OUTGUARD_STREAM_KEEPALIVE", "2.5")
    assert _config(build_parser().parse_args(["serve"])).stream_keepalive_s == 2.5


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_serve_flag_rejects_what_is_not_a_number_of_seconds(value: str) -> None:
    from guardrails.cli.main import UsageError, build_parser

    with pytest.raises(UsageError, match=r"--stream-keepalive: expected a number of seconds >= 0 \(0 disables\)"):
        build_parser().parse_args(["serve", "--stream-keepalive", value])
