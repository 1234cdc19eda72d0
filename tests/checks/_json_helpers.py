"""Shared helpers for the JSON check tests."""

from __future__ import annotations

from typing import Any

from guardrails import Engine
from guardrails.findings import Report
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import Policy, RepairSettings
from guardrails.rules.compile import compile_policy

_RULESET = load_ruleset()
JSON_ENGINE = Engine.from_policy("json", ruleset=_RULESET)


def engine(**policy: Any) -> Engine:
    """The bundled json policy with some fields changed (e.g. repair=RepairSettings(allow_unsafe=True))."""
    base, path = _RULESET.policy("json")
    return Engine(compile_policy(base.model_copy(update=policy), _RULESET, path))


def codes(report: Report) -> list[str]:
    return sorted(f.code for f in report.findings)


UNSAFE_ENGINE = engine(repair=RepairSettings(allow_unsafe=True, max_rounds=3))
NO_REPAIR_ENGINE = engine(repair=RepairSettings(enabled=False))
__all__ = ["JSON_ENGINE", "NO_REPAIR_ENGINE", "UNSAFE_ENGINE", "Policy", "codes", "engine"]
