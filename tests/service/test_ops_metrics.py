"""Every metric the shipped dashboard and alert rules name exists in the sidecar's /metrics after some traffic:
validations (pass, review, degraded), proxied answers (primary, fallback after an upstream error), tokens and
cost, the review backlog."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from guardrails.guard import OpenAIChatClient
from tests.service.conftest import DEMO_RULES, auth

OPS = Path(__file__).resolve().parents[2] / "service" / "ops"
METRIC = re.compile(r"(?<![\w:])outguard_[a-z0-9_]+(?![\w:])")

SLOW = """
name: too-slow
rules: ["pack:demo"]
deadline_ms: 0.000001
"""


def named_metrics() -> set[str]:
    text = (OPS / "alerts.yaml").read_text(encoding="utf-8") + (OPS / "grafana-dashboard.json").read_text("utf-8")
    return set(METRIC.findall(text))


def _upstream(status: int) -> OpenAIChatClient:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "down"}})
        calls.append(1)
        body: dict[str, Any] = {
            "choices": [{"message": {"role": "assistant", "content": "The store opens at 9am."}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15},
            "model": "m-1" if len(calls) == 1 else "m-unpriced",  # the second answer's model has no price
        }
        return httpx.Response(200, json=body)

    t = httpx.MockTransport(handler)
    name = "ok" if status == 200 else "broken"
    return OpenAIChatClient("http://up.test/v1", "m-1", name=name, transport=t, async_transport=t, max_retries=0)


def test_every_named_metric_is_exported(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    names = named_metrics()
    assert len(names) >= 12
    rules = tmp_path / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "too-slow.yaml").write_text(SLOW)
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  m-1: {input: 1.0, output: 2.0}\n")
    client = make_client(
        policies=["demo", "too-slow"], rules_dirs=[DEMO_RULES, rules], prices_file=prices,
        upstream=_upstream(500), fallbacks=[_upstream(200)],
    )  # fmt: skip
    for output, policy in [("fine", "demo"), ("Guaranteed returns of 12%!", "demo"), ("anything", "too-slow")]:
        r = client.post("/v1/validate", json={"output": output, "policy": policy}, headers=auth())
        assert r.status_code == 200, r.text
    r = client.post("/v1/validate", json={"output": "Call me at 555-0100 re: db01.prod.internal"}, headers=auth())
    chat = {"model": "x", "messages": [{"role": "user", "content": "hours?"}]}
    for _ in range(2):
        r = client.post("/v1/chat/completions", json=chat, headers=auth())
        assert r.status_code == 200 and r.json()["outguard"]["source"] == "fallback", r.text
    text = client.get("/metrics").text
    samples = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    missing = sorted(names - samples)
    assert not missing, f"named by service/ops but not exported: {missing}"
    assert json.dumps(sorted(names))  # the list, for the failure message above


def test_label_values_beyond_the_cap_count_as_other() -> None:
    from service.metrics import OTHER, Metrics

    metrics = Metrics()
    for i in range(40):  # an upstream that names a new model in every answer
        metrics.observe_usage("up", f"model-{i}", 1, 1, None)
    text = metrics.render().decode()
    series = {line.split(" ")[0] for line in text.splitlines() if line.startswith("outguard_llm_tokens_total{")}
    assert len(series) == 2 * 33  # 32 models + `other`, input and output each
    assert f'outguard_llm_tokens_total{{direction="input",model="{OTHER}",provider="{OTHER}"}} 8.0' in text
