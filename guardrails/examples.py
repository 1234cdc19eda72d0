"""Run every rule's own examples: `match` examples must produce its code, `no_match` must not.

Examples marked `needs_model: NAME` were written for a model's scores; when that model is not in the
store they are skipped, and the skip is reported with the pull command, never counted as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.engine import Engine
from guardrails.errors import OutguardError
from guardrails.models import ModelNotInstalled, ModelStore
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


class ExamplesNeedModel(OutguardError, LookupError):
    """The rule's examples need a model that is not in the store."""


def missing_model(loaded: LoadedRule) -> str | None:
    """Why the rule's examples cannot run here (their model is not pulled), or None when they can."""
    name = loaded.rule.examples.needs_model
    if name is None:
        return None
    store_dir = loaded.rule.params.get("store_dir")
    try:
        ModelStore(store_dir if isinstance(store_dir, str) else None).get(name)
    except ModelNotInstalled as exc:
        return f"{loaded.rule.code} {loaded.rule.id}: its examples need a model that is not pulled: {exc}"
    return None


def _single_rule_engine(loaded: LoadedRule) -> Engine:
    rule = loaded.rule
    policy = Policy(
        name="examples", rules=[rule.id], include_preview=True, repair=RepairSettings(enabled=False), deadline_ms=10_000
    )
    check = build_check(rule, str(loaded.file))
    return Engine(CompiledPolicy(policy, (CompiledRule(rule, check, 10.0, loaded.pack),), "examples"))


def run_examples(loaded: LoadedRule) -> tuple[int, list[ExampleFailure]]:
    """Returns (number of examples run, failures). Raises ExamplesNeedModel when their model is not pulled."""
    why = missing_model(loaded)
    if why is not None:
        raise ExamplesNeedModel(why)
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


def run_all_examples(ruleset: RuleSet, skipped: list[str] | None = None) -> tuple[int, list[ExampleFailure]]:
    """Runs every rule's examples; rules whose examples need a model not pulled go to `skipped` (why)."""
    total, failures = 0, []
    for loaded in sorted(ruleset.rules.values(), key=lambda r: r.rule.code):
        why = missing_model(loaded)
        if why is not None:
            if skipped is not None:
                skipped.append(why)
            continue
        n, f = run_examples(loaded)
        total += n
        failures.extend(f)
    return total, failures
