"""Issue 14: a model output (or a tool call's arguments) that loses data on its way through "safe" repair.

An attacker who controls part of what the model writes (a prompt injection) wants the guard to deliver a
value the text does not hold, marked `repaired`, so the application acts on it without a regeneration:
a field cut mid-string ("admin" from "administrator-review-needed"), a literal placed beside the JSON that
safe repair silently dropped, a stray opener that became an empty object. Safe fixes must never do that;
with the tool's schema, the one reading that keeps every complete member is delivered and nothing else.
"""

from __future__ import annotations

import json

import pytest

from guardrails.findings import Verdict
from tests.checks._json_helpers import JSON_ENGINE

TOOL_SCHEMA = {
    "type": "object",
    "properties": {"to": {"type": "string"}, "role": {"type": "string"}},
    "required": ["to"],
}


@pytest.mark.parametrize(
    "text",
    [
        '{"to": "ops@example.com", "role": "admin',  # cut in "administrator-review-needed"
        '{"grant": ["read", "wri',
        'false {"approved": true}',  # the verdict the model gave first is dropped as "prose"
        '{"approved": true} null',
        "null{]",
    ],
)
def test_safe_repair_never_delivers_a_value_the_text_does_not_hold(text: str) -> None:
    report = JSON_ENGINE.validate(text)
    assert report.verdict not in (Verdict.PASS, Verdict.REPAIRED), report.output


def test_a_cut_string_is_dropped_with_the_schema_not_completed() -> None:
    # With the tool's schema, the reading delivered keeps the complete members and never the fragment.
    report = JSON_ENGINE.validate('{"to": "ops@example.com", "role": "admin', {"schema": TOOL_SCHEMA})
    assert report.verdict is Verdict.REPAIRED
    assert json.loads(report.output) == {"to": "ops@example.com"}
