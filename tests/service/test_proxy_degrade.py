"""The guarded proxy degrading safely: upstream drops, retracted answers, hold-until-final, budgets, metrics.

The upstream is the loopback scripted OpenAI-compatible server of the Guard tests (tests/guard/fake_openai.py),
so drops and HTTP errors happen on a real socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guardrails.guard import DEFAULT_LAST_RESORT, OpenAIChatClient
from tests.guard.fake_openai import FakeOpenAI, Good, Sse, Status, serve
from tests.service.conftest import DEMO_RULES, auth

CLEAN = "Our team answers every request within one working day. " * 8
BAD = CLEAN + "This fund has guaranteed returns for everyone. " + CLEAN
CLEARED = {"X-Outguard-Release": "cleared"}


def _policy(regeneration: str) -> str:
    return f"""
name: proxy-test
rules: ["pack:demo"]
overrides:
  SVC001: {{action: regenerate}}
regeneration: {regeneration}
"""


def _split(text: str, n: int = 6) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


@pytest.fixture
def upstreams() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    with serve() as primary, serve() as backup:
        yield primary, backup


Make = Callable[..., TestClient]


@pytest.fixture
def proxy(tmp_path: Path, make_client: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI]) -> Make:
    """A sidecar on the scripted upstream; `fallback=True` adds the second server as a fallback provider."""
    primary, backup = upstreams

    def make(*, regeneration: str = "{max_attempts: 2}", fallback: bool = False, **config: Any) -> TestClient:
        rules = tmp_path / f"rules-{len(list(tmp_path.iterdir()))}"
        (rules / "policies").mkdir(parents=True)
        (rules / "policies" / "proxy-test.yaml").write_text(_policy(regeneration))
        upstream = OpenAIChatClient(primary.url, "fake-model", max_retries=0)
        fallbacks = [OpenAIChatClient(backup.url, "backup-model", name="backup", max_retries=0)] if fallback else []
        return make_client(
            policies=["proxy-test"], rules_dirs=[DEMO_RULES, rules], upstream=upstream, fallbacks=fallbacks, **config
        )

    return make


def _stream(client: TestClient, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    r = client.post(
        "/v1/chat/completions",
        json={"model": "x", "stream": True, "messages": [{"role": "user", "content": "Tell me about the fund."}]},
        headers={**auth(), **(headers or {})},
    )
    assert r.status_code == 200, r.text
    data = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def _content(chunk: dict[str, Any]) -> str:
    return str(chunk["choices"][0]["delta"].get("content") or "")


def _kind(chunk: dict[str, Any]) -> str | None:
    return chunk.get("outguard", {}).get("type")


def _shown(chunks: list[dict[str, Any]]) -> str:
    """What a client that honours retracts displays at the end."""
    text = ""
    for c in chunks:
        if _kind(c) == "retract":
            text = text[: c["outguard"]["offset"]]
        text += _content(c)
    return text


def _released_before_retract(chunks: list[dict[str, Any]]) -> str:
    kinds = [_kind(c) for c in chunks]
    return "".join(_content(c) for c in chunks[: kinds.index("retract")])


def _finish(chunks: list[dict[str, Any]]) -> str:
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    return str(chunks[-1]["choices"][0]["finish_reason"])


def test_upstream_drop_mid_stream_is_retracted_then_answered_by_the_fallback(
    proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    primary, backup = upstreams
    primary.add(Sse(_split(CLEAN * 2), drop_after=80))
    backup.add(Good("The backup answer."))
    chunks = _stream(proxy(fallback=True), CLEARED)
    released = _released_before_retract(chunks)
    assert len(released) > 100 and CLEAN.startswith(released[:100])  # the client had part of the answer
    retract = next(c for c in chunks if _kind(c) == "retract")
    assert retract["outguard"]["offset"] == 0
    assert "127.0.0.1" not in retract["outguard"]["reason"]  # upstream details stay in the log
    assert _shown(chunks) == "The backup answer."
    replacement = next(c for c in chunks if _kind(c) == "regenerated")
    assert replacement["outguard"]["source"] == "fallback"
    assert _finish(chunks) == "stop" and chunks[-1]["outguard"]["source"] == "fallback"
    assert chunks[-1]["outguard"]["attempts"] == 2
    assert len(primary.requests) == 1  # a provider that failed is not asked again


def test_upstream_failure_without_fallback_is_an_error_event(
    proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    primary, _backup = upstreams
    primary.add(Status(500))
    chunks = _stream(proxy(), CLEARED)
    assert not any(_kind(c) == "retract" for c in chunks)  # nothing was sent, nothing to withdraw
    # An outage is an error the client can tell apart (OpenAI's error event), not an apology passed as an answer.
    assert all(DEFAULT_LAST_RESORT not in json.dumps(c) for c in chunks), chunks
    assert chunks[-1]["error"]["code"] == "upstream_error" and chunks[-1]["outguard"]["source"] == "error"


LOCAL = "Le service est indisponible pour le moment. Réessayez plus tard."


@pytest.mark.parametrize("headers", [{}, CLEARED], ids=["final", "cleared"])
def test_the_policy_last_resort_answers_a_failed_upstream(
    proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI], headers: dict[str, str]
) -> None:
    primary, _backup = upstreams
    client = proxy(regeneration=f"{{max_attempts: 2, last_resort: '{LOCAL}', on_upstream_error: last_resort}}")
    primary.add(Status(500))
    chunks = _stream(client, headers)
    assert _shown(chunks) == LOCAL and DEFAULT_LAST_RESORT not in json.dumps(chunks, ensure_ascii=False)
    assert _finish(chunks) == "content_filter" and chunks[-1]["outguard"]["source"] == "last_resort"
    primary.add(Status(500))
    plain = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "q"}]}, headers=auth())
    assert plain.json()["choices"][0]["message"]["content"] == LOCAL
    assert plain.json()["outguard"]["source"] == "last_resort"


def test_long_failing_answer_partly_released_is_retracted_and_regenerated(
    proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    primary, _backup = upstreams
    primary.add(Sse(_split(BAD)), Good("Returns are never certain."))
    chunks = _stream(proxy(), CLEARED)
    released = _released_before_retract(chunks)
    assert released and BAD.startswith(released) and "guaranteed" not in released
    assert _shown(chunks) == "Returns are never certain."
    assert _finish(chunks) == "stop"
    assert chunks[-1]["outguard"]["attempts"] == 2 and chunks[-1]["outguard"]["verdict"] == "pass"
    # The regeneration carried feedback on the streamed answer.
    assert "SVC001" in json.dumps(primary.requests[1]["body"]["messages"][1:])


@pytest.mark.parametrize(
    ("config", "headers"),
    [({}, {}), ({"stream_release": "cleared"}, {"X-Outguard-Release": "final"})],
    ids=["default", "header-overrides-config"],
)
def test_hold_until_final_sends_no_text_before_the_verdict(
    proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI], config: dict[str, Any], headers: dict[str, str]
) -> None:
    primary, _backup = upstreams
    primary.add(Sse(_split(BAD)), Good("Returns are never certain."))
    chunks = _stream(proxy(**config), headers)
    with_text = [i for i, c in enumerate(chunks) if _content(c)]
    assert with_text == [len(chunks) - 2]  # one content chunk, right before the one carrying the verdict
    assert _content(chunks[-2]) == "Returns are never certain."
    assert not any(_kind(c) == "retract" for c in chunks)
    assert _finish(chunks) == "stop" and chunks[-1]["outguard"]["verdict"] == "pass"


def test_hold_until_final_delivers_a_clean_answer_whole(proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    primary, _backup = upstreams
    answer = CLEAN + "Ask at db01.corp for details."
    primary.add(Sse(_split(answer)))
    chunks = _stream(proxy())
    assert [_content(c) for c in chunks if _content(c)] == [answer.replace("db01.corp", "[internal host]")]
    assert _finish(chunks) == "stop" and chunks[-1]["outguard"]["source"] == "repaired"


def test_max_attempts_stops_regeneration(proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    primary, _backup = upstreams
    primary.add(Sse(_split(BAD)), Good("Returns are never certain."))
    chunks = _stream(proxy(regeneration="{max_attempts: 1}"))
    assert len(primary.requests) == 1
    assert _shown(chunks) == DEFAULT_LAST_RESORT
    assert _finish(chunks) == "content_filter" and chunks[-1]["outguard"]["source"] == "last_resort"


def test_token_budget_stops_regeneration(proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    primary, _backup = upstreams
    # The regeneration costs 17 tokens, past the budget of 10: the third attempt (which would pass) is not made.
    primary.add(Sse(_split(BAD)), Good("Still guaranteed returns.", usage=(12, 5)), Good("Returns vary."))
    chunks = _stream(proxy(regeneration="{max_attempts: 3, max_tokens: 10}"))
    assert len(primary.requests) == 2
    assert chunks[-1]["outguard"]["source"] == "last_resort" and chunks[-1]["outguard"]["attempts"] == 2
    assert _finish(chunks) == "content_filter"


def test_metrics_count_runs_by_source_and_time_attempts(proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    primary, backup = upstreams
    client = proxy(fallback=True)
    primary.add(Sse(_split(CLEAN)))  # streamed and accepted as it is
    _stream(client)
    primary.add(Sse(_split(CLEAN), drop_after=3))  # dropped: the fallback answers
    backup.add(Good("The backup answer."))
    _stream(client)
    primary.add(Good("Guaranteed returns!"), Good("Still guaranteed returns!"))  # plain request, budget spent
    backup.add(Good("Guaranteed profits!"), Good("Risk-free!"))
    plain = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "q"}]}, headers=auth())
    assert plain.json()["outguard"]["source"] == "last_resort"
    assert plain.json()["choices"][0]["finish_reason"] == "content_filter"
    text = client.get("/metrics").text
    for source, count in [("primary", 1), ("fallback", 1), ("last_resort", 1)]:
        assert f'outguard_proxy_runs_total{{source="{source}"}} {count}.0' in text
    for provider, verdict, count in [
        ("fake-model", "pass", 1),
        ("fake-model", "error", 1),
        ("fake-model", "regenerate", 2),
        ("backup", "pass", 1),
        ("backup", "regenerate", 2),
    ]:
        assert f'outguard_proxy_attempt_seconds_count{{provider="{provider}",verdict="{verdict}"}} {count}.0' in text


def test_a_failure_of_the_proxy_itself_still_ends_the_stream_safely(
    proxy: Make, upstreams: tuple[FakeOpenAI, FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, _backup = upstreams
    primary.add(Sse(_split(CLEAN * 2)))

    async def broken_queue(*_args: Any) -> str | None:
        raise RuntimeError("review store is down")

    monkeypatch.setattr("service.proxy_stream.queue_for_review", broken_queue)
    chunks = _stream(proxy(regeneration=f"{{last_resort: '{LOCAL}'}}"), CLEARED)
    assert _released_before_retract(chunks)  # text had gone out before the failure, and was withdrawn
    assert _shown(chunks) == LOCAL  # the policy's last resort, even when the Guard never got to it
    assert _finish(chunks) == "content_filter" and chunks[-1]["outguard"]["type"] == "error"


def test_serve_flags_configure_fallbacks_and_release_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OUTGUARD_STREAM_RELEASE", raising=False)
    from guardrails.cli.main import build_parser
    from service.serve import _config

    upstream = ["--upstream-url", "http://a.test/v1", "--upstream-model", "m1", "--upstream-key-env", "KEY"]
    args = build_parser().parse_args(
        ["serve", *upstream, "--fallback", "http://b.test/v1", "m2", "--stream-release", "cleared"]
    )
    config = _config(args)
    assert config.stream_release == "cleared"
    assert [(f.base_url, f.model, f.api_key_env) for f in config.fallbacks] == [("http://b.test/v1", "m2", "KEY")]
    assert _config(build_parser().parse_args(["serve"])).stream_release == "final"
