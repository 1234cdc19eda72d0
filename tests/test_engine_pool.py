"""validate_many on a process pool answers with the same Reports as Engine.validate in this process."""

from __future__ import annotations

import gc
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from guardrails import Engine, Report
from guardrails.engine_pool import MAX_CHUNK, chunk_size, pack, unpack
from tests.helpers import engine_with, rule
from tests.integrations.conftest import Case, fixture_cases, rule_example_outputs

WORD = "tests.engine_checks:WordCheck"


def _comparable(report: Report) -> dict[str, Any]:
    """Everything but what a clock decides: elapsed time, per-check milliseconds, a timeout's measured duration."""
    out = report.model_dump(by_alias=True)  # python mode: a tuple stays a tuple, so a change of type shows
    del out["elapsed_ms"]
    out["timings"] = [{k: v for k, v in t.items() if k != "ms"} for t in out["timings"]]
    out["degraded"] = [{**d, "detail": ""} if d["reason"] == "timeout" else d for d in out["degraded"]]
    return out


def _timed_out(report: Report) -> bool:
    return any(d.reason == "timeout" for d in report.degraded)


def _context(case: Case) -> dict[str, Any] | None:
    if case.template:
        return {"template": case.template}
    return json.loads(case.context) if case.context else None


def test_pool_reports_equal_in_process_reports_on_every_fixture_and_rule_example() -> None:
    by_policy: dict[str, list[Case]] = defaultdict(list)
    for case in fixture_cases() + rule_example_outputs(10_000):
        by_policy[case.policy].append(case)
    compared = late = 0
    for policy, cases in by_policy.items():
        engine = Engine.from_policy(policy)
        texts, contexts = [c.text for c in cases], [_context(c) for c in cases]
        here = [engine.validate(t, c) for t, c in zip(texts, contexts, strict=True)]
        pooled = engine.validate_many(texts, contexts, workers=2)
        assert len(pooled) == len(cases)
        for case, want, got in zip(cases, here, pooled, strict=True):
            if _timed_out(want) or _timed_out(got):  # a deadline is wall clock; the machine is shared
                late += 1
                continue
            assert _comparable(got) == _comparable(want), case.id
            compared += 1
    assert compared > 500 and late <= compared // 50


def _unusual_report() -> Report:
    # Values JSON would change (a tuple, non-finite floats) or refuse (a lone surrogate).
    finding = {
        "code": "TST001",
        "rule_id": "odd",
        "check": "regex",
        "severity": "high",
        "action": "block",
        "message": "odd \ud800",
        "span": {"start": 0, "end": 3},
        "evidence": {"score": math.inf, "details": {"pair": (1, 2), "low": -math.inf}},
        "fingerprint": "00",
    }
    return Report.model_validate(
        {
            "verdict": "block",
            "output": "odd \udfff text",
            "original": "odd \udfff text",
            "findings": [finding],
            "policy": "t",
            "policy_version": "1",
            "elapsed_ms": 0.25,
            "regeneration": {"reasons": [], "schema": {"type": ("object",)}},
        }
    )


def test_what_a_worker_sends_rebuilds_the_same_report_even_where_json_would_not() -> None:
    report = _unusual_report()
    (back,) = unpack(pack([report]))
    assert back == report
    details = back.findings[0].evidence.details
    assert details["pair"] == (1, 2) and type(details["pair"]) is tuple
    assert back.regeneration is not None and back.regeneration.schema_ == {"type": ("object",)}
    with pytest.raises(ValueError, match="surrogate"):  # why the pool does not send JSON
        report.model_dump_json()


def test_outputs_go_out_in_chunks_and_progress_counts_each_chunk(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, params={"word": "darn"})])
    texts = [f"{i} {'darn' if i % 3 else 'fine'}" for i in range(100)]
    seen: list[int] = []
    reports = engine.validate_many(texts, workers=2, chunksize=16, progress=seen.append)
    assert seen == [16] * 6 + [4]  # one answer per chunk, in order
    assert [bool(r.findings) for r in reports] == [bool(i % 3) for i in range(100)]


def test_the_default_chunk_keeps_both_workers_busy_and_caps_a_long_batch() -> None:
    assert chunk_size(40, 2) == 5
    assert chunk_size(100_000, 2) == MAX_CHUNK
    assert chunk_size(1, 8) == 1


def test_a_failing_output_raises_as_it_does_in_process(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, params={"word": "darn"})])
    texts = ["fine"] * 64
    contexts: list[Any] = [None] * 64
    contexts[40] = {"no_such_context_field": 1}
    with pytest.raises(Exception) as here:
        engine.validate(texts[40], contexts[40])
    with pytest.raises(type(here.value)):
        engine.validate_many(texts, contexts, workers=2, chunksize=8)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_the_caller_had_it(tmp_path: Path, enabled: bool) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, params={"word": "darn"})])
    if not enabled:
        gc.disable()
    try:
        engine.validate_many(["darn"] * 32, workers=2, chunksize=8)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
