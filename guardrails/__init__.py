"""outguard: validate, repair, regenerate, review or block LLM outputs.

    from guardrails import Engine
    report = Engine.from_policy("default").validate(output)

Importing this package imports neither torch, presidio nor FastAPI; checks that need them load when a
policy uses them. The public names below load on first access (PEP 562): `import guardrails.cli` or
`from guardrails import Engine` pays only for what it uses, not for the Guard and its streaming
layers (every submodule import runs this file first).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardrails.context import Context, Source
    from guardrails.document import Document
    from guardrails.engine import Engine
    from guardrails.errors import OutguardError, Problem
    from guardrails.findings import (
        Action,
        AppliedEdit,
        Edit,
        Evidence,
        Finding,
        FindingStatus,
        Fix,
        RegenerationRequest,
        Report,
        Severity,
        Span,
        Verdict,
        report_json_schema,
    )
    from guardrails.guard import Budget, Guard, GuardResult, StreamValidator
    from guardrails.redaction import redact_report, sensitive_rule_ids
    from guardrails.rules import Policy, Rule, RuleError, load_ruleset

# Each public name and the module that defines it.
_EXPORTS = {
    "Context": "guardrails.context",
    "Source": "guardrails.context",
    "Document": "guardrails.document",
    "Engine": "guardrails.engine",
    "OutguardError": "guardrails.errors",
    "Problem": "guardrails.errors",
    **dict.fromkeys(
        (
            "Action",
            "AppliedEdit",
            "Edit",
            "Evidence",
            "Finding",
            "FindingStatus",
            "Fix",
            "RegenerationRequest",
            "Report",
            "Severity",
            "Span",
            "Verdict",
            "report_json_schema",
        ),
        "guardrails.findings",
    ),
    **dict.fromkeys(("Budget", "Guard", "GuardResult", "StreamValidator"), "guardrails.guard"),
    "redact_report": "guardrails.redaction",
    "sensitive_rule_ids": "guardrails.redaction",
    **dict.fromkeys(("Policy", "Rule", "RuleError", "load_ruleset"), "guardrails.rules"),
}

__all__ = [
    "Action",
    "AppliedEdit",
    "Budget",
    "Context",
    "Document",
    "Edit",
    "Engine",
    "Evidence",
    "Finding",
    "FindingStatus",
    "Fix",
    "Guard",
    "GuardResult",
    "OutguardError",
    "Policy",
    "Problem",
    "RegenerationRequest",
    "Report",
    "Rule",
    "RuleError",
    "Severity",
    "Source",
    "Span",
    "StreamValidator",
    "Verdict",
    "load_ruleset",
    "redact_report",
    "report_json_schema",
    "sensitive_rule_ids",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'guardrails' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
