"""The sidecar's spans: it joins the caller's W3C trace, and a proxied stream's run, attempts, provider calls and
validations hang under its request span; tokens and cost reach /metrics; no text in any attribute."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from guardrails.guard import OpenAIChatClient
from tests.service.conftest import DEMO_RULES, auth
from tests.telemetry.conftest import Spans
from tests.telemetry.corpus import CORPUS, assert_no_content

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"

POLICY = """
name: proxy-test
rules: ["pack:demo"]
overrides:
  SVC001: {action: regenerate}
regeneration: {max_attempts: 3}
"""

PRICES = """
currency: USD
models:
  fake-model: {input: 2.0, output: 8.0}
"""


class Upstream:
    """Chat completions from a script; streamed in 7-character deltas with a usage chunk at the end."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        text = self.replies[min(len(self.requests), len(self.replies)) - 1]
        usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            choice = {"message": message, "finish_reason": "stop"}
            return httpx.Response(200, json={"choices": [choice], "usage": usage, "model": "fake-model-0125"})
        events = [{"choices": [{"delta": {"content": text[i : i + 7]}}]} for i in range(0, len(text), 7)]
        events.append({"choices": [], "usage": usage, "model": "fake-model-0125"})
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})


@pytest.fixture
def sidecar(tmp_path: Path, make_client: Callable[..., TestClient]) -> Callable[[list[str]], TestClient]:
    rules = tmp_path / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "proxy-test.yaml").write_text(POLICY)
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)

    def make(replies: list[str]) -> TestClient:
        transport = httpx.MockTransport(Upstream(replies).handler)
        upstream = OpenAIChatClient(
            "http://upstream.test/v1", "fake-model", transport=transport, async_transport=transport, max_retries=0
        )
        return make_client(
            policies=["proxy-test"], rules_dirs=[DEMO_RULES, rules], upstream=upstream, prices_file=prices
        )

    return make


def _server(spans: Spans, route: str) -> Any:
    (span,) = [s for s in spans.all() if s.name == f"POST {route}"]
    return span


def test_validate_joins_the_callers_trace(spans: Spans, sidecar: Callable[[list[str]], TestClient]) -> None:
    client = sidecar(["unused"])
    r = client.post(
        "/v1/validate",
        json={"output": CORPUS[0], "policy": "proxy-test"},
        headers={**auth(), "traceparent": TRACEPARENT},
    )
    assert r.status_code == 200
    server = _server(spans, "/v1/validate")
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == PARENT_ID
    assert server.attributes["http.response.status_code"] == 200
    (validation,) = spans.named("outguard.validate")
    assert validation.parent.span_id == server.context.span_id
    assert validation.attributes["outguard.policy"] == "proxy-test"
    assert validation.attributes["outguard.verdict"] == r.json()["verdict"]
    assert_no_content(spans.all(), CORPUS)


def test_untraced_request_starts_its_own_trace(spans: Spans, sidecar: Callable[[list[str]], TestClient]) -> None:
    client = sidecar(["unused"])
    assert client.post("/v1/validate", json={"output": "fine", "policy": "proxy-test"}, headers=auth()).is_success
    server = _server(spans, "/v1/validate")
    assert server.parent is None


def test_proxied_stream_span_tree(spans: Spans, sidecar: Callable[[list[str]], TestClient]) -> None:
    bad = "Guaranteed returns of 12%! Mail jane.doe@example.com or call +1 415 555 0132."
    good = "Returns vary from year to year; ask Maria Gonzalez at lea.muller@example.de."
    client = sidecar([bad, good])
    r = client.post(
        "/v1/chat/completions",
        json={"model": "x", "stream": True, "messages": [{"role": "user", "content": "returns? " + CORPUS[1]}]},
        headers={**auth(), "traceparent": TRACEPARENT},
    )
    assert r.status_code == 200 and "data: [DONE]" in r.text
    server = _server(spans, "/v1/chat/completions")
    assert format(server.context.trace_id, "032x") == TRACE_ID
    (run,) = spans.named("outguard.guard.run")
    assert run.parent.span_id == server.context.span_id
    assert run.attributes["outguard.attempts"] == 2
    assert run.attributes["outguard.policy"] == "proxy-test"
    attempts = spans.children(run)
    assert [a.name for a in attempts] == ["outguard.guard.attempt"] * 2
    assert [a.attributes["outguard.verdict"] for a in attempts] == ["regenerate", run.attributes["outguard.verdict"]]
    for attempt in attempts:
        assert [c.name for c in spans.children(attempt)] == ["outguard.llm.call", "outguard.validate"]
        assert attempt.attributes["outguard.provider"] == "fake-model"
        assert attempt.attributes["gen_ai.response.model"] == "fake-model-0125"
        assert attempt.attributes["gen_ai.usage.input_tokens"] == 50
        # 50 * 2.0 + 20 * 8.0 per million tokens: the dated model name priced by its prefix
        assert attempt.attributes["outguard.cost"] == pytest.approx(260 / 1e6)
    assert_no_content(spans.all(), [bad, good, *CORPUS])
    metrics = client.get("/metrics").text
    assert 'outguard_llm_tokens_total{direction="input",model="fake-model-0125",provider="fake-model"} 100.0' in metrics
    assert 'outguard_llm_cost_total{currency="USD",model="fake-model-0125",provider="fake-model"} 0.00052' in metrics
