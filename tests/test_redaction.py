"""Report redaction: no value a sensitive finding detected survives anywhere in the serialized report."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails import Engine, Report, redact_report, sensitive_rule_ids
from guardrails.findings import (
    Action,
    AppliedEdit,
    Edit,
    Evidence,
    Finding,
    FindingStatus,
    Fix,
    RegenerationItem,
    RegenerationRequest,
    Severity,
    Span,
    Verdict,
)
from guardrails.redaction import detected_values, mask, redact_text

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_emails = st.builds(
    lambda user, host, tld: f"{user}@{host}.{tld}",
    st.text(_LOWER + "._0123456789", min_size=3, max_size=12).filter(lambda s: s[0].isalnum()),
    st.text(_LOWER, min_size=3, max_size=10),
    st.sampled_from(["com", "org", "example", "de"]),
)
_phones = st.builds(
    lambda a, b, c: f"+1 {a:03d}-{b:03d}-{c:04d}",
    st.integers(200, 999),
    st.integers(100, 999),
    st.integers(0, 9999),
)
_cards = st.lists(st.integers(0, 9999), min_size=4, max_size=4).map(lambda g: " ".join(f"{n:04d}" for n in g))
_values = st.one_of(_emails, _phones, _cards)
_filler = st.text(_LOWER + " ,.:;!?\n", max_size=30)


def _finding(i: int, value: str, start: int, *, status: FindingStatus, check: str = "pii") -> Finding:
    end = start + len(value)
    return Finding(
        code=f"PII{i % 900 + 100:03d}",
        rule_id=f"rule-{i}",
        check=check,
        severity=Severity.HIGH,
        action=Action.REPAIR,
        # Messages, evidence and details that quote the value, as a careless check would.
        message=f"found {value} here",
        span=Span(start=start, end=end),
        evidence=Evidence(matched=value, pattern=f"literal {value}", details={"raw": value, value: [value]}),
        fix=Fix(title=f"mask {value}", edits=[Edit(start=start, end=end, replacement=f"<{value}>")]),
        fingerprint=f"{i:020x}",
        status=status,
    )


@st.composite
def _reports(draw: st.DrawFn) -> tuple[Report, list[str]]:
    values = draw(st.lists(_values, min_size=1, max_size=5))
    parts: list[str] = []
    findings: list[Finding] = []
    at = 0
    for i, value in enumerate(values):
        gap = draw(_filler)
        parts += [gap, value]
        at += len(gap)
        status = draw(st.sampled_from([FindingStatus.OPEN, FindingStatus.REPAIRED, FindingStatus.SUPPRESSED]))
        findings.append(_finding(i, value, at, status=status))
        at += len(value)
    original = "".join([*parts, draw(_filler)])
    # The delivered text repeats some values (unrepaired), and a residual finding points at one of them.
    output = draw(_filler) + values[0] + " / " + original
    residual = [_finding(99, values[0], output.index(values[0]), status=FindingStatus.OPEN)]
    report = Report(
        verdict=Verdict.REVIEW,
        output=output,
        original=original,
        findings=findings,
        residual=residual,
        edits=[
            AppliedEdit(round=1, edit=f.fix.edits[0], fix_title=f.fix.title, safe=True)
            for f in findings
            if f.fix is not None
        ],
        regeneration=RegenerationRequest(
            reasons=[
                RegenerationItem(code=f.code, rule_id=f.rule_id, message=f.message, instruction=f"drop {v}", excerpt=v)
                for f, v in zip(findings, values, strict=True)
            ]
        ),
        policy="pii",
        policy_version="1",
        elapsed_ms=1.5,
    )
    return report, values


@settings(max_examples=150, deadline=None)
@given(_reports())
def test_no_detected_value_survives_anywhere_in_the_dump(case: tuple[Report, list[str]]) -> None:
    report, values = case
    redacted = report.redacted()
    dumped = redacted.model_dump_json(by_alias=True)
    assert redacted.masked
    for value in values:
        assert value not in dumped, value
    # Lengths kept: spans still index the redacted texts, and the structure is the same.
    assert len(redacted.original) == len(report.original)
    assert len(redacted.output) == len(report.output)
    assert [f.span for f in redacted.findings] == [f.span for f in report.findings]
    assert [f.code for f in redacted.findings] == [f.code for f in report.findings]
    assert [f.fingerprint for f in redacted.findings] == [f.fingerprint for f in report.findings]
    # Redacting twice changes nothing more.
    assert redacted.redacted() == redacted


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4), st.text(max_size=60))
def test_redact_text_leaves_no_value_with_a_letter_or_digit(values: list[str], text: str) -> None:
    # Arbitrary values, including ones that masking other values could join into being.
    text = "".join(f"{text[: i * 3]}{v}" for i, v in enumerate(values)) + text
    out = redact_text(text, values)
    assert len(out) == len(text)
    for v in values:
        if any(ch.isalnum() for ch in v):
            assert v not in out


def test_mask_keeps_length_and_separators() -> None:
    assert mask("jane.doe@example.com") == "****.***@*******.***"
    assert mask("+1 415-555-2671") == "+* ***-***-****"


def test_non_sensitive_findings_keep_their_text_and_the_report_says_it_was_redacted() -> None:
    f = _finding(1, "hello", 0, status=FindingStatus.OPEN, check="banlist")
    report = Report(
        verdict=Verdict.BLOCK, output="hello", original="hello", findings=[f], policy="p", policy_version="1",
        elapsed_ms=0.0,
    )  # fmt: skip
    assert detected_values(report) == []
    out = redact_report(report)
    assert out.masked and out.original == "hello"
    # A rule the operator tags `sensitive` is redacted like PII.
    assert "hello" not in redact_report(report, {"rule-1"}).model_dump_json()


def test_a_real_pii_report_redacted_but_the_in_process_report_kept_whole() -> None:
    engine = Engine.from_policy("pii")
    text = "Write to jane.doe@example.com or call +1 415-555-2671, card 4111 1111 1111 1111."
    report = engine.validate(text)
    assert report.original == text and not report.masked
    dumped = report.redacted(sensitive_rule_ids(engine.rules)).model_dump_json()
    for value in ("jane.doe@example.com", "415-555-2671", "4111 1111 1111 1111"):
        assert value not in dumped
    assert json.loads(dumped)["masked"] is True
