"""Spans of a validation and of a guarded run, read back from the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from guardrails import Engine
from guardrails.findings import Verdict
from guardrails.guard import Guard, LLMError, LLMResponse, Usage
from guardrails.telemetry import PriceTable, tracing
from tests.guard.helpers import ScriptedLLM, engine
from tests.service.conftest import DEMO_RULES
from tests.telemetry.conftest import Spans
from tests.telemetry.corpus import assert_no_content

GOOD = "Returns vary with the market."
BAD = "Returns are guaranteed to double."


@pytest.fixture(scope="module")
def default() -> Engine:
    return Engine.from_policy("default")


def test_untraced_by_default() -> None:
    assert not tracing()


def test_validation_span_tree_with_a_repair_round(spans: Spans, default: Engine) -> None:
    report = default.validate("Mail jane.doe@example.com or call +1 415 555 0132 about the refund.")
    assert report.verdict is Verdict.REPAIRED
    (root,) = spans.named("outguard.validate")
    assert root.parent is None
    attrs = dict(root.attributes or {})
    assert attrs["outguard.policy"] == "default"
    assert attrs["outguard.policy_version"] == report.policy_version
    assert attrs["outguard.verdict"] == "repaired"
    assert set(attrs["outguard.codes"]) == {f.code for f in report.findings}
    assert attrs["outguard.output.chars"] == len(report.original)
    assert attrs["outguard.delivered.chars"] == len(report.output)
    assert attrs["outguard.edits"] == len(report.edits) > 0
    children = spans.children(root)
    checks = [c for c in children if c.name == "outguard.check"]
    rounds = [c for c in children if c.name == "outguard.repair"]
    assert [c.attributes["outguard.rule_id"] for c in checks] == [r.rule.id for r in default.rules]
    assert len(rounds) >= 1
    assert rounds[0].attributes["outguard.repair.round"] == 1
    assert rounds[0].attributes["outguard.repair.edits"] == sum(1 for e in report.edits if e.round == 1)
    # A round re-runs the policy's checks (or, for checks that re-check locally, only those an edit touched).
    again = [c.attributes["outguard.rule_id"] for c in spans.children(rounds[0])]
    order = [r.rule.id for r in default.rules]
    assert again and again == [r for r in order if r in again]
    # One check span per timing entry, each inside its parent's time.
    assert len(spans.named("outguard.check")) == len(report.timings)
    for span in spans.all():
        if span.parent is not None:
            parent = next(s for s in spans.all() if s.context.span_id == span.parent.span_id)
            assert parent.start_time <= span.start_time <= span.end_time <= parent.end_time
    flagged = [c for c in checks if "outguard.codes" in c.attributes]
    assert {code for c in flagged for code in c.attributes["outguard.codes"]} == {f.code for f in report.findings}


def test_degraded_check_is_an_error_span(spans: Spans, tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "late.yaml").write_text('name: late\nrules: ["pack:demo"]\ndeadline_ms: 0.000001\n')
    eng = Engine.from_policy("late", rules_dirs=[DEMO_RULES, tmp_path])
    report = eng.validate("secret text: mail jane.doe@example.com")
    assert report.degraded and all(d.reason.value == "timeout" for d in report.degraded)
    (root,) = spans.named("outguard.validate")
    assert root.status.description == "degraded"
    assert root.attributes["outguard.degraded"] == len(report.degraded)
    checks = spans.named("outguard.check")
    late = {d.rule_id for d in report.degraded}
    flagged = {c.attributes["outguard.rule_id"] for c in checks if c.attributes.get("outguard.degraded") == "timeout"}
    assert flagged == late
    assert all(c.status.description == "timeout" for c in checks if c.attributes["outguard.rule_id"] in late)
    assert_no_content(spans.all(), ["secret text: mail jane.doe@example.com"])


def _tree(spans: Spans) -> list[tuple[str, Any]]:
    (run,) = spans.named("outguard.guard.run")
    out = []
    for attempt in spans.children(run):
        kids = spans.children(attempt)
        out.append((attempt.attributes["outguard.provider"], [k.name for k in kids]))
    return out


def test_guard_regeneration_then_fallback(spans: Spans) -> None:
    eng = engine("guard-test")
    primary = ScriptedLLM([BAD, LLMError("HTTP 503: down", status=503, retryable=True)], name="primary")
    fallback = ScriptedLLM(
        [LLMResponse(text=GOOD, model="m-small-2024", usage=Usage(prompt_tokens=100, completion_tokens=40))],
        name="backup",
    )
    prices = PriceTable.model_validate({"models": {"m-small": {"input": 1.0, "output": 4.0}}})
    result = Guard(eng, primary, fallbacks=[fallback], prices=prices).run("How do returns behave?")
    assert result.source == "fallback"
    (run,) = spans.named("outguard.guard.run")
    assert run.parent is None
    ra = dict(run.attributes or {})
    assert ra["outguard.source"] == "fallback"
    assert ra["outguard.verdict"] == "pass"
    assert ra["outguard.attempts"] == 3
    assert ra["outguard.policy"] == "guard-test"
    assert ra["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    # Each attempt: the provider call, then (when it answered) the validation of its answer.
    assert _tree(spans) == [
        ("primary", ["outguard.llm.call", "outguard.validate"]),
        ("primary", ["outguard.llm.call"]),
        ("backup", ["outguard.llm.call", "outguard.validate"]),
    ]
    attempts = spans.children(run)
    assert [a.attributes.get("outguard.verdict") for a in attempts] == ["regenerate", None, "pass"]
    failed = attempts[1]
    assert failed.attributes["outguard.error.type"] == "LLMError"
    assert failed.attributes["http.response.status_code"] == 503
    assert failed.status.description == "LLMError"
    assert "down" not in str(dict(failed.attributes or {}))
    last = attempts[2]
    assert last.attributes["gen_ai.response.model"] == "m-small-2024"
    assert last.attributes["gen_ai.usage.input_tokens"] == 100
    assert last.attributes["gen_ai.usage.output_tokens"] == 40
    # 100 * 1.0 + 40 * 4.0 per million tokens
    assert last.attributes["outguard.cost"] == pytest.approx(260 / 1e6)
    assert result.attempts[2].cost == pytest.approx(260 / 1e6)
    assert result.attempts[0].cost is None  # the scripted primary reports no model: no price
    assert result.cost is None  # an attempt used tokens at no known price: no total pretends to be whole


def test_guard_last_resort_async_and_cost_total(spans: Spans) -> None:
    eng = engine("guard-test")
    primary = ScriptedLLM(
        [LLMResponse(text=BAD, model="m-small", usage=Usage(prompt_tokens=10, completion_tokens=5))] * 3,
        name="primary",
    )
    prices = PriceTable.model_validate({"models": {"primary/m-small": {"input": 2.0, "output": 2.0}}})
    result = asyncio.run(Guard(eng, primary, prices=prices).arun("Q?"))
    assert result.source == "last_resort"
    assert result.cost == pytest.approx(3 * 30 / 1e6)
    (run,) = spans.named("outguard.guard.run")
    assert run.status.description == "last_resort"
    assert run.attributes["outguard.cost"] == pytest.approx(3 * 30 / 1e6)
    assert [k for _, k in _tree(spans)] == [["outguard.llm.call", "outguard.validate"]] * 3


def test_untraced_guard_records_nothing(spans: Spans) -> None:
    from guardrails.telemetry import use_tracer_provider

    use_tracer_provider(None)
    Guard(engine("guard-test"), ScriptedLLM([GOOD])).run("Q?")
    assert spans.all() == []


def test_notable_checks_only(spans: Spans, default: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGUARD_TRACE_CHECKS", "notable")
    report = default.validate("Nothing to see here, just a plain sentence about the weather and the sea.")
    (root,) = spans.named("outguard.validate")
    shown = spans.named("outguard.check")
    assert len(shown) + root.attributes["outguard.checks.omitted"] == len(report.timings)
    assert all("outguard.codes" in c.attributes or c.end_time - c.start_time >= 1_000_000 for c in shown)
