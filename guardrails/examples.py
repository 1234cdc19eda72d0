"""Run every rule's own examples: `match` examples must produce its code, `no_match` must not."""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.engine import Engine
from guardrails.rules.compile import CompiledPolicy, CompiledRule, build_check
from guardrails.rules.loader import LoadedRule, RuleSet
from guardrails.rules.model import Policy, RepairSettings


@dataclass(frozen=True)
class ExampleFailure:
    rule_id: str
    code: str
    kind: str  # "match" or "no_match"
    text: str
    problem: str


def _single_rule_engine(loaded: LoadedRule) -> Engine:
    rule = loaded.rule
    policy = Policy(
        name="examples", rules=[rule.id], include_preview=True, repair=RepairSettings(enabled=False), deadline_ms=10_000
    )
    check = build_check(rule, str(loaded.file))
    return Engine(CompiledPolicy(policy, (CompiledRule(rule, check, 10.0, loaded.pack),), "examples"))


def run_examples(loaded: LoadedRule) -> tuple[int, list[ExampleFailure]]:
    """Returns (number of examples run, failures)."""
    rule = loaded.rule
    engine = _single_rule_engine(loaded)
    failures: list[ExampleFailure] = []
    count = 0
    for kind, examples in (("match", rule.examples.match), ("no_match", rule.examples.no_match)):
        for ex in examples:
            count += 1
            report = engine.validate(ex.text, ex.context)
            if report.degraded:
                failures.append(
                    ExampleFailure(rule.id, rule.code, kind, ex.text, f"check degraded: {report.degraded[0].detail}")
                )
                continue
            hits = [f for f in report.findings if f.code == rule.code]
            if kind == "match" and not hits:
                failures.append(ExampleFailure(rule.id, rule.code, kind, ex.text, "expected a finding, got none"))
            elif (
                kind == "match"
                and ex.matched is not None
                and not any(ex.text[f.span.start : f.span.end] == ex.matched for f in hits)
            ):
                got = [ex.text[f.span.start : f.span.end] for f in hits]
                failures.append(
                    ExampleFailure(rule.id, rule.code, kind, ex.text, f"expected span {ex.matched!r}, got {got!r}")
                )
            elif kind == "no_match" and hits:
                got = [ex.text[f.span.start : f.span.end] for f in hits]
                failures.append(ExampleFailure(rule.id, rule.code, kind, ex.text, f"expected no finding, got {got!r}"))
    return count, failures


def run_all_examples(ruleset: RuleSet) -> tuple[int, list[ExampleFailure]]:
    total, failures = 0, []
    for loaded in sorted(ruleset.rules.values(), key=lambda r: r.rule.code):
        n, f = run_examples(loaded)
        total += n
        failures.extend(f)
    return total, failures
