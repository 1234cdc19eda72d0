"""Bundled rules: every example passes, the README reference is fresh, every policy compiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails import Engine, load_ruleset
from guardrails.docs import END, START, rule_reference
from guardrails.examples import missing_model, run_examples

RULESET = load_ruleset()
README = Path(__file__).resolve().parents[1] / "docs" / "rules.md"


@pytest.mark.parametrize("rule_id", sorted(RULESET.rules))
def test_rule_examples(rule_id: str) -> None:
    loaded = RULESET.rules[rule_id]
    assert loaded.rule.examples.match, f"{rule_id} has no examples that must match"
    assert loaded.rule.examples.no_match, f"{rule_id} has no examples that must not match"
    needs = loaded.rule.examples.needs_model
    assert needs is None or loaded.rule.params.get("model") == needs, "needs_model names another model"
    why = missing_model(loaded)
    if why is not None:
        pytest.skip(why)  # only rules marked `needs_model`; a model rule without the mark fails here
    count, failures = run_examples(loaded)
    assert failures == [], "\n".join(f"{f.kind} {f.text!r}: {f.problem}" for f in failures)
    assert count >= 2


@pytest.mark.parametrize("policy", sorted(RULESET.policies))
def test_policy_compiles(policy: str) -> None:
    engine = Engine.from_policy(policy, ruleset=RULESET)
    assert engine.rules, f"policy {policy} selects no rule"


def test_readme_rule_reference_is_fresh() -> None:
    text = README.read_text(encoding="utf-8")
    block = text[text.index(START) : text.index(END) + len(END)]
    assert block == rule_reference(RULESET), "docs/rules.md rule reference is stale: run `guardrails rules docs`"
