"""Issue 14/19: outputs shaped so that "safe" repair drops a value the text holds, after the lossless check
got a C-speed fast path (session 8).

An attacker who steers part of the output wants a field or an element to vanish while the verdict stays
`repaired` (no regeneration, no review): an empty string whose closing quote and bracket were lost read as
"nothing begun yet", or a key written twice so that the text keeps both values while the parsed value keeps
one. The first failed before the fix (a lone quote at the end was dropped as a safe fix); the second guards
the fast path, which compares texts, against the value that json.loads keeps.
"""

from __future__ import annotations

import json

import pytest

from guardrails.findings import Verdict
from tests.checks._json_helpers import JSON_ENGINE, UNSAFE_ENGINE


@pytest.mark.parametrize(
    "text",
    [
        '{"approvers": ["ana", "',  # was ["ana", ""]: the empty approver is a value too
        '[null, null, -2.25, "',  # found by the 100,000-example property
        "{'tags': ['x', '",
    ],
)
def test_a_lone_quote_at_the_end_is_never_dropped_silently(text: str) -> None:
    report = JSON_ENGINE.validate(text)
    assert report.verdict is not Verdict.REPAIRED, report.output
    unsafe = UNSAFE_ENGINE.validate(text)
    assert any("lone quote" in a.fix_title and not a.safe for a in unsafe.edits)


@pytest.mark.parametrize(
    "text",
    [
        "{'role': 'viewer', 'note': 'x', 'role': 'admin',}",  # single quotes and a trailing comma to repair
        "{'role': 'viewer', 'role': 'admin'",  # truncated: closing it is otherwise lossless
    ],
)
def test_a_key_written_twice_never_passes_the_fast_check(text: str) -> None:
    report = JSON_ENGINE.validate(text)
    assert report.verdict is not Verdict.REPAIRED, report.output
    delivered = UNSAFE_ENGINE.validate(text)
    assert json.loads(delivered.output)["role"] == "admin"  # what json.loads keeps: the edit says what is lost
    assert any("not in the repaired value" in a.fix_title or "dropped" in a.fix_title for a in delivered.edits)
