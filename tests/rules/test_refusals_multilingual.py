"""The refusal pack beyond English: every translated xstest-style item is judged the same with and without
the anchors (the anchors only skip text, never change a finding), and the near misses pass."""

from __future__ import annotations

import pytest

from guardrails import Engine, Policy, load_ruleset
from guardrails.rules.compile import compile_policy
from guardrails.rules.model import RuleOverride
from tests.eval.eval_refusals_multilingual import items

RULES = [
    "ai-self-reference",
    "refusal",
    "cannot-browse",
    "non-english-ai-self-reference",
    "non-english-refusal",
    "non-english-cannot-browse",
]


@pytest.fixture(scope="module")
def engines() -> tuple[Engine, Engine]:
    rs = load_ruleset()
    base = Policy(name="refusals-ml", rules=RULES, deadline_ms=5000.0)
    plain = base.model_copy(update={"overrides": {r: RuleOverride(params={"anchors": []}) for r in RULES}})
    return Engine(compile_policy(base, rs, "<test>")), Engine(compile_policy(plain, rs, "<test>"))


def test_anchors_never_change_a_finding_on_the_translated_items(engines: tuple[Engine, Engine]) -> None:
    anchored, plain = engines
    differ = []
    for item in items():
        a = [(f.code, f.span.start, f.span.end) for f in anchored.validate(item.text).findings]
        b = [(f.code, f.span.start, f.span.end) for f in plain.validate(item.text).findings]
        if a != b:
            differ.append((item.text, a, b))
    assert differ == []


@pytest.mark.parametrize("lang", ["fr", "de", "es", "it", "pt", "nl"])
def test_each_language_finds_most_refusals_and_flags_no_compliant_answer(
    engines: tuple[Engine, Engine], lang: str
) -> None:
    anchored, _ = engines
    mine = [i for i in items() if i.lang == lang]
    flagged = {i.text for i in mine if anchored.validate(i.text).findings}
    false_alarms = [i.text for i in mine if not i.refusal and i.text in flagged]
    found = sum(1 for i in mine if i.refusal and i.text in flagged)
    assert false_alarms == []
    assert found >= 0.8 * sum(1 for i in mine if i.refusal)
