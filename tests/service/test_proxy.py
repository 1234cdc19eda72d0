"""The guarded OpenAI-compatible proxy against a fake upstream (httpx MockTransport, no network)."""

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

POLICY = """
name: proxy-test
rules: ["pack:demo"]
overrides:
  SVC001: {action: regenerate}
regeneration: {max_attempts: 3}
"""


class FakeUpstream:
    """Answers chat completions from a script of replies, streaming them in small chunks when asked."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        text = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if not body.get("stream"):
            return httpx.Response(
                200,
                json={
                    "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
                    "model": body["model"],
                },
            )
        events = [
            "data: " + json.dumps({"choices": [{"delta": {"content": text[i : i + 7]}}]}) + "\n\n"
            for i in range(0, len(text), 7)
        ]
        return httpx.Response(
            200, text="".join(events) + "data: [DONE]\n\n", headers={"content-type": "text/event-stream"}
        )


@pytest.fixture
def proxy(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> Callable[[list[str]], tuple[TestClient, FakeUpstream]]:
    rules = tmp_path / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "proxy-test.yaml").write_text(POLICY)

    def make(replies: list[str]) -> tuple[TestClient, FakeUpstream]:
        fake = FakeUpstream(replies)
        transport = httpx.MockTransport(fake.handler)
        upstream = OpenAIChatClient(
            "http://upstream.test/v1", "fake-model", transport=transport, async_transport=transport, max_retries=0
        )
        client = make_client(policies=["proxy-test"], rules_dirs=[DEMO_RULES, rules], upstream=upstream)
        return client, fake

    return make


def _chat(client: TestClient, **body: Any) -> httpx.Response:
    return client.post(
        "/v1/chat/completions",
        json={"model": "x", "messages": [{"role": "user", "content": "hi"}], **body},
        headers=auth(),
    )


def _sse(response: httpx.Response) -> list[dict[str, Any]]:
    data = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def test_clean_answer_passes_through(proxy: Any) -> None:
    client, fake = proxy(["The store opens at 9am."])
    r = _chat(client, temperature=0.3, outguard={"context": {"request_id": "p1"}})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "fake-model"
    assert body["choices"][0]["message"]["content"] == "The store opens at 9am."
    assert body["outguard"]["verdict"] == "pass" and body["outguard"]["source"] == "primary"
    assert body["usage"]["total_tokens"] == 12
    assert fake.requests[0]["model"] == "fake-model" and fake.requests[0]["temperature"] == 0.3
    assert "outguard" not in fake.requests[0]


def test_regenerates_with_feedback_within_budget(proxy: Any) -> None:
    client, fake = proxy(["Guaranteed returns of 12%!", "Returns vary from year to year."])
    body = _chat(client).json()
    assert body["choices"][0]["message"]["content"] == "Returns vary from year to year."
    assert body["outguard"]["attempts"] == 2
    assert len(fake.requests) == 2 and len(fake.requests[1]["messages"]) > 1  # feedback went upstream


def test_budget_exhausted_gives_the_last_resort(proxy: Any) -> None:
    client, fake = proxy(["Guaranteed returns!"])
    body = _chat(client).json()
    assert body["outguard"]["source"] == "last_resort" and len(fake.requests) == 3
    assert body["choices"][0]["finish_reason"] == "content_filter"
    assert "Guaranteed" not in body["choices"][0]["message"]["content"]


def test_stream_releases_only_checked_text_and_redacts(proxy: Any) -> None:
    text = "Connect to db01.prod.internal for the report; it is ready now and waiting for you. " * 3
    client, _fake = proxy([text])
    r = _chat(client, stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    chunks = _sse(r)
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "db01.prod.internal" not in streamed
    assert streamed == text.replace("db01.prod.internal", "[internal host]")
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and final["outguard"]["verdict"] == "repaired"


def test_stream_that_fails_is_retracted_and_regenerated(proxy: Any) -> None:
    client, fake = proxy(["Our fund has guaranteed returns for everyone.", "Returns are never certain."])
    chunks = _sse(_chat(client, stream=True))
    kinds = [c.get("outguard", {}).get("type") for c in chunks if "outguard" in c]
    assert "regenerated" in kinds
    regenerated = next(c for c in chunks if c.get("outguard", {}).get("type") == "regenerated")
    assert regenerated["choices"][0]["delta"]["content"] == "Returns are never certain."
    assert chunks[-1]["outguard"]["verdict"] == "pass" and len(fake.requests) == 2


def test_proxy_without_upstream_is_404(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    r = _chat(client)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_configured"
    assert _chat(client, messages=[]).status_code == 422
