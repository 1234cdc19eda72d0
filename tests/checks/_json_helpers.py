"""Shared helpers for the JSON check tests."""

from __future__ import annotations

from typing import Any

from guardrails import Engine
from guardrails.findings import Report
from guardrails.rules.compile import compile_policy
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import Policy, RepairSettings

_RULESET = load_ruleset()


def engine(**policy: Any) -> Engine:
    """The bundled json policy with some fields changed (e.g. repair=RepairSettings(allow_unsafe=True)).

    Deadlines are generous by default: the machine is shared, and a GC pause must not fail a test
    (deadline behaviour has its own test).
    """
    base, path = _RULESET.policy("json")
    return Engine(compile_policy(base.model_copy(update={"deadline_ms": 10_000, **policy}), _RULESET, path))


JSON_ENGINE = engine()


def codes(report: Report) -> list[str]:
    return sorted(f.code for f in report.findings)


UNSAFE_ENGINE = engine(repair=RepairSettings(allow_unsafe=True, max_rounds=3))
NO_REPAIR_ENGINE = engine(repair=RepairSettings(enabled=False))
__all__ = ["JSON_ENGINE", "NO_REPAIR_ENGINE", "UNSAFE_ENGINE", "Policy", "codes", "engine"]
