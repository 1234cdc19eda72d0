"""No output text in any span attribute, over a PII-laden corpus, in process and through the sidecar."""

from __future__ import annotations

from typing import Any

import pytest

from guardrails import Engine
from guardrails.guard import Guard, LLMResponse, Usage
from tests.guard.helpers import ScriptedLLM, engine
from tests.telemetry.conftest import Spans
from tests.telemetry.corpus import CORPUS, assert_no_content


@pytest.mark.parametrize("policy", ["default", "pii", "json"])
def test_validation_spans_carry_no_content(spans: Spans, policy: str) -> None:
    eng = Engine.from_policy(policy)
    reports = [eng.validate(text) for text in CORPUS]
    assert any(r.findings for r in reports)
    assert len(spans.named("outguard.validate")) == len(CORPUS)
    assert assert_no_content(spans.all(), CORPUS) > 10 * len(CORPUS)


def test_guard_spans_carry_no_content(spans: Spans) -> None:
    eng = engine("guard-test")
    usage = Usage(prompt_tokens=3, completion_tokens=4)
    replies: list[Any] = [LLMResponse(text=t, model="m", usage=usage) for t in CORPUS]
    for text in CORPUS:
        Guard(eng, ScriptedLLM(list(replies)), last_resort="Sorry.").run(text)
    assert spans.named("outguard.guard.attempt")
    assert_no_content(spans.all(), CORPUS)
