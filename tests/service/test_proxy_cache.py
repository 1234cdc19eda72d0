"""The guarded proxy's answer cache (service/proxy_cache.py) against a fake upstream, and two replicas sharing it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from guardrails.guard import OpenAIChatClient
from service.proxy_cache import deterministic
from tests.service.conftest import DEMO_RULES, auth
from tests.service.test_proxy import FakeUpstream

POLICY = """
name: {name}
rules: ["pack:demo"]
overrides:
  SVC001: {{action: regenerate}}
regeneration: {{max_attempts: 3}}
cache: {{proxy: {proxy}, results: true}}
"""

Make = Callable[..., tuple[TestClient, FakeUpstream]]


@pytest.fixture
def proxy(tmp_path: Path, make_client: Callable[..., TestClient]) -> Make:
    rules = tmp_path / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "cached.yaml").write_text(POLICY.format(name="cached", proxy="true"))
    (rules / "policies" / "uncached.yaml").write_text(POLICY.format(name="uncached", proxy="false"))

    def make(replies: list[str], review_db: str | None = None) -> tuple[TestClient, FakeUpstream]:
        fake = FakeUpstream(replies)
        transport = httpx.MockTransport(fake.handler)
        upstream = OpenAIChatClient(
            "http://upstream.test/v1", "fake-model", transport=transport, async_transport=transport, max_retries=0
        )
        extra: dict[str, Any] = {"review_db": review_db} if review_db else {}
        client = make_client(
            policies=["cached", "uncached"], rules_dirs=[DEMO_RULES, rules], upstream=upstream, **extra
        )
        return client, fake

    return make


def _chat(client: TestClient, scope: str = "validate", policy: str = "cached", **body: Any) -> httpx.Response:
    payload = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0, "outguard": {"policy": policy}}
    return client.post("/v1/chat/completions", json={**payload, **body}, headers=auth(scope))


def test_a_deterministic_answer_is_replayed_without_calling_the_upstream(proxy: Make) -> None:
    client, fake = proxy(["All fine.", "Something else."])
    first = _chat(client)
    assert first.status_code == 200 and first.headers["x-outguard-cache"] == "miss"
    again = _chat(client)
    assert again.headers["x-outguard-cache"] == "hit" and len(fake.requests) == 1
    assert again.json()["choices"] == first.json()["choices"]
    assert again.json()["usage"]["total_tokens"] == 0 and first.json()["usage"]["total_tokens"] == 12
    metrics = client.get("/metrics").text
    assert 'outguard_cache_lookups_total{cache="proxy",policy="cached",result="hit"} 1.0' in metrics
    assert 'outguard_cache_lookups_total{cache="proxy",policy="cached",result="miss"} 1.0' in metrics


@pytest.mark.parametrize(
    "body",
    [
        {"temperature": 0.7},
        {"temperature": None},
        {"temperature": 0, "n": 2},
        {"seed": 7, "temperature": 1},
    ],
)
def test_sampled_answers_are_not_cached(proxy: Make, body: dict[str, Any]) -> None:
    client, fake = proxy(["All fine."])
    for _ in range(2):
        response = _chat(client, **body)
        assert response.status_code == 200 and "x-outguard-cache" not in response.headers
    assert len(fake.requests) == 2


def test_other_parameters_messages_keys_or_policies_miss(proxy: Make) -> None:
    client, fake = proxy(["All fine."])
    _chat(client)
    assert _chat(client, max_tokens=5).headers["x-outguard-cache"] == "miss"
    assert _chat(client, messages=[{"role": "user", "content": "hi!"}]).headers["x-outguard-cache"] == "miss"
    assert _chat(client, scope="admin").headers["x-outguard-cache"] == "miss"  # another API key: another tenant
    assert "x-outguard-cache" not in _chat(client, policy="uncached").headers
    assert len(fake.requests) == 5


def test_an_answer_that_needed_regeneration_is_not_cached(proxy: Make) -> None:
    client, fake = proxy(["These are guaranteed returns.", "Returns vary."])
    first = _chat(client)
    assert first.json()["outguard"]["attempts"] == 2
    second = _chat(client)
    # The rejected first answer was not kept: the same first call went upstream again (this time it passed).
    assert second.headers["x-outguard-cache"] == "miss" and len(fake.requests) == 3
    assert fake.requests[2]["messages"] == fake.requests[0]["messages"]
    assert _chat(client).headers["x-outguard-cache"] == "hit" and len(fake.requests) == 3


def test_upstream_errors_are_not_cached(proxy: Make) -> None:
    client, fake = proxy(["All fine."])
    calls = {"n": 0}
    handler = fake.handler

    def failing_once(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(500, json={"error": "boom"}) if calls["n"] == 1 else handler(request)

    fake.handler = failing_once  # type: ignore[method-assign]
    state = client.app.state.outguard  # type: ignore[attr-defined]
    transport = httpx.MockTransport(failing_once)
    state.upstream = OpenAIChatClient(
        "http://upstream.test/v1", "fake-model", transport=transport, async_transport=transport, max_retries=0
    )
    assert _chat(client).status_code >= 500
    assert _chat(client).headers["x-outguard-cache"] == "miss"
    assert _chat(client).headers["x-outguard-cache"] == "hit"


def test_streams_are_not_replayed(proxy: Make) -> None:
    client, fake = proxy(["All fine."])
    for _ in range(2):
        assert "x-outguard-cache" not in _chat(client, stream=True).headers
    assert len(fake.requests) == 2


def test_replicas_share_answers_through_the_review_database(proxy: Make, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    one, _ = proxy(["All fine."], review_db=db)
    two, fake_two = proxy(["Something else."], review_db=db)
    _chat(one)
    one.app.state.outguard.proxy_cache.tiers.shared.flush()  # type: ignore[attr-defined]
    replayed = _chat(two)
    assert replayed.headers["x-outguard-cache"] == "hit" and not fake_two.requests
    assert replayed.json()["choices"][0]["message"]["content"] == "All fine."


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"temperature": 0}, True),
        ({"temperature": 0.0, "n": 1}, True),
        ({"temperature": False}, False),
        ({}, False),
        ({"temperature": 0, "n": 3}, False),
        ({"temperature": 0, "stream": True}, False),
    ],
)
def test_deterministic(params: dict[str, Any], expected: bool) -> None:
    assert deterministic(params) is expected
