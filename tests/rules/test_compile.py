"""Policy compilation: the deadline scale for slow machines."""

from __future__ import annotations

import pytest

from guardrails.rules.compile import compile_policy
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import Policy

POLICY = Policy(name="t", rules=["pack:text"], deadline_ms=40)


@pytest.mark.parametrize(("scale", "expected_s"), [("1", 0.04), ("2.5", 0.1), (" ", 0.04)])
def test_deadline_scale_multiplies_every_deadline(
    monkeypatch: pytest.MonkeyPatch, scale: str, expected_s: float
) -> None:
    monkeypatch.setenv("OUTGUARD_DEADLINE_SCALE", scale)
    compiled = compile_policy(POLICY, load_ruleset())
    assert compiled.rules and {round(r.deadline_s, 6) for r in compiled.rules} == {expected_s}


@pytest.mark.parametrize("scale", ["0", "-2", "fast", "nan", "inf"])
def test_bad_deadline_scale_names_the_variable(monkeypatch: pytest.MonkeyPatch, scale: str) -> None:
    monkeypatch.setenv("OUTGUARD_DEADLINE_SCALE", scale)
    with pytest.raises(RuleError, match="OUTGUARD_DEADLINE_SCALE"):
        compile_policy(POLICY, load_ruleset())
