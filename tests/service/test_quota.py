"""Per-key token quotas (issue 21): charged with the usage a proxy run sums over its attempts, checked before a
request, 429 naming the quota with its window and reset, reset after the window, shared by replicas through the
limits store, refused (503) for a quota key while that store is down. Unit tests on the in-process and PostgreSQL
windows, then real sidecars in front of a scripted upstream that reports 10 tokens per answer."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from guardrails.guard import RunFinished, Usage
from service.auth import hash_key
from service.limits.model import TokenQuota
from service.limits.quota import QuotaBook, with_stream_usage
from service.limits.store import PgLimitStore
from tests.security._upstream import Writer, completion, upstream
from tests.service.conftest import KEYS
from tests.service.server import Server, free_port, start_server, stop

TOKENS_PER_ANSWER = 10  # what tests.security._upstream.completion reports


def _finished(total: int) -> RunFinished:
    return RunFinished(
        run_id="r", source="primary", verdict="pass", provider="p", attempts=2,
        usage=Usage(prompt_tokens=total - 3, completion_tokens=3, total_tokens=total), elapsed_ms=1.0,
    )  # fmt: skip


@pytest.fixture(params=["memory", "postgres"])
def book(request: pytest.FixtureRequest) -> Iterator[QuotaBook]:
    if request.param == "memory":
        yield QuotaBook()
        return
    store = PgLimitStore(request.getfixturevalue("postgres_url"))
    yield QuotaBook(store)
    store.close()


def test_a_key_without_quota_is_always_admitted(book: QuotaBook) -> None:
    assert book.admit("anyone", None) is None
    book.meter("anyone", None)(_finished(10**9))
    assert book.admit("anyone", None) is None


def test_a_run_is_charged_its_summed_usage_and_the_key_refused_once_spent(book: QuotaBook) -> None:
    key, quota = f"k-{uuid.uuid4().hex}", TokenQuota(tokens=25, window_s=3600)
    meter = book.meter(key, quota)
    for _ in range(3):  # 0, 10, 20 used before each: admitted
        assert book.admit(key, quota) is None
        meter(_finished(10))
    refusal = book.admit(key, quota)
    assert refusal is not None and refusal.spent is not None and refusal.spent.used == 30
    response = refusal.response()
    assert response.status_code == 429
    body = json.loads(bytes(response.body))["error"]
    assert body["code"] == "token_quota_exceeded" and body["type"] == "tokens" and body["param"] is None
    assert key in body["message"] and "30 of 25 tokens" in body["message"] and "3600 s window" in body["message"]
    detail = body["details"][0]
    assert detail["limit"] == "token_quota" and detail["quota_tokens"] == 25 and detail["window_s"] == 3600
    assert 0 < detail["reset_in_s"] <= 3600 and detail["reset_at"].endswith(("00:00Z", ":00Z"))
    assert 1 <= int(response.headers["retry-after"]) <= 3600
    assert response.headers["x-ratelimit-remaining-tokens"] == "0"


def test_the_window_resets(book: QuotaBook) -> None:
    key, quota = f"k-{uuid.uuid4().hex}", TokenQuota(tokens=5, window_s=1)
    book.meter(key, quota)(_finished(10))
    refusal = book.admit(key, quota)
    if refusal is None:  # the window turned between the charge and the check: charge again in this one
        book.meter(key, quota)(_finished(10))
        refusal = book.admit(key, quota)
    assert refusal is not None and refusal.spent is not None
    time.sleep(max(0.0, refusal.spent.reset_at - time.time()) + 0.05)
    assert book.admit(key, quota) is None


def test_other_events_charge_nothing(book: QuotaBook) -> None:
    key, quota = f"k-{uuid.uuid4().hex}", TokenQuota(tokens=1)
    book.meter(key, quota)(object())
    assert book.admit(key, quota) is None


def test_streams_ask_the_upstream_for_usage_whatever_the_caller_sent() -> None:
    assert with_stream_usage({})["stream_options"] == {"include_usage": True}
    sent = {"stream_options": {"include_usage": False, "other": 1}, "temperature": 0}
    assert with_stream_usage(sent) == {"stream_options": {"include_usage": True, "other": 1}, "temperature": 0}
    assert with_stream_usage({"stream_options": "junk"})["stream_options"] == {"include_usage": True}


# -- real sidecars ----------------------------------------------------------------------------------------------

QUOTA_KEYS = {"metered": "k-metered-0123456789abcdef", "short": "k-short-0123456789abcdef"}


UPSTREAM_CALLS: list[dict[str, Any]] = []


def _reply(w: Writer, body: dict[str, Any]) -> None:
    """10 tokens per answer, plain or streamed; a stream reports them only when asked (as OpenAI does)."""
    UPSTREAM_CALLS.append(body)
    if not body.get("stream"):
        w.json(completion("All good here."))
        return
    w.start_stream()
    w.delta("All good here.")
    w.event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        w.event({"choices": [], "usage": completion("")["usage"]})
    w.done()


def _keys(tmp: Path, suffix: str) -> Path:
    path = tmp / "quota-keys.yaml"
    path.write_text(
        "api_keys:\n"
        f"  - {{name: metered-{suffix}, key_sha256: {hash_key(QUOTA_KEYS['metered'])}, scopes: [validate],"
        " token_quota: {tokens: 25, window_s: 3600}}\n"
        f"  - {{name: short-{suffix}, key_sha256: {hash_key(QUOTA_KEYS['short'])}, scopes: [validate],"
        " token_quota: {tokens: 10, window_s: 2}}\n"
        f"  - {{name: validate, key_sha256: {hash_key(KEYS['validate'])}, scopes: [validate]}}\n",
        encoding="utf-8",
    )
    return path


def _start(tmp: Path, url: str, limits_db: str, suffix: str) -> Server:
    tmp.mkdir(exist_ok=True)
    return start_server(
        tmp, "--keys-file", str(_keys(tmp, suffix)), "--limits-db", limits_db,
        "--upstream-url", url, "--upstream-model", "fake", "--stream-keepalive", "0",
    )  # fmt: skip


def _chat(server: Server, key: str, *, stream: bool = False) -> httpx.Response:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return httpx.post(
        f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    with upstream(_reply) as url:
        yield url


def test_two_replicas_charge_one_quota(tmp_path: Path, upstream_url: str, postgres_url: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    a = _start(tmp_path / "a", upstream_url, postgres_url, suffix)
    b = _start(tmp_path / "b", upstream_url, postgres_url, suffix)
    try:
        # 0, 10, 20 tokens spent before each: admitted (one of them streamed, charged from the usage chunk).
        assert _chat(a, QUOTA_KEYS["metered"]).status_code == 200
        streamed = _chat(b, QUOTA_KEYS["metered"], stream=True)
        assert streamed.status_code == 200 and '"usage"' in streamed.text
        assert _chat(a, QUOTA_KEYS["metered"]).status_code == 200
        calls = len(UPSTREAM_CALLS)
        refused = _chat(b, QUOTA_KEYS["metered"])  # 30 of 25 spent, counted across both replicas
        assert len(UPSTREAM_CALLS) == calls, "a refused request must not reach the upstream"
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["code"] == "token_quota_exceeded" and f"metered-{suffix}" in error["message"]
        assert error["details"][0]["used_tokens"] == 30 and error["details"][0]["window_s"] == 3600
        assert int(refused.headers["retry-after"]) >= 1
        # The window turns: after it, the key is admitted again (2 s window on the second key).
        assert _chat(a, QUOTA_KEYS["short"]).status_code == 200
        short = _chat(b, QUOTA_KEYS["short"])
        if short.status_code == 200:  # the 2 s window turned between the two calls: spend it again
            short = _chat(b, QUOTA_KEYS["short"])
        assert short.status_code == 429
        time.sleep(float(short.json()["error"]["details"][0]["reset_in_s"]) + 0.1)
        assert _chat(a, QUOTA_KEYS["short"]).status_code == 200
    finally:
        stop(a)
        stop(b)


def test_a_quota_key_is_refused_while_the_store_is_down(tmp_path: Path, upstream_url: str) -> None:
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    server = _start(tmp_path, upstream_url, dead, "down")
    try:
        r = _chat(server, QUOTA_KEYS["metered"])
        assert r.status_code == 503 and r.json()["error"]["code"] == "quota_unavailable"
        assert r.headers["retry-after"] == "1"
        # A key without a quota does not depend on the store for the proxy (its rate limit falls back in process).
        other = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {KEYS['validate']}"},
            timeout=60,
        )
        assert other.status_code == 200, other.text
    finally:
        stop(server)
