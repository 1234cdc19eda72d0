"""outguard: validate, repair, regenerate, review or block LLM outputs.

    from guardrails import Engine
    report = Engine.from_policy("default").validate(output)

Importing this package imports neither torch, presidio nor FastAPI; checks that need them load when a
policy uses them.
"""

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
