"""The stream validator repairs what validate() repairs: merged redactions and superseded findings.

Both used to halt a stream that validate() would have delivered repaired: a redaction folded into a merged edit
(a card-shaped run inside an IBAN) and a finding superseded by another rule kept their own, dropped fixes.
"""

from __future__ import annotations

from pathlib import Path

from guardrails import Engine
from guardrails.findings import FindingStatus
from guardrails.guard import StreamValidator
from tests.guard.test_stream import LONG_CLEAN, chunks, consume, run
from tests.security.test_overlapping_redactions import IBAN_WITH_CARD


def test_iban_holding_a_card_run_streams_redacted_once_without_halting() -> None:
    eng = Engine.from_policy("pii")
    text = LONG_CLEAN + f"Pay to {IBAN_WITH_CARD} today. " + LONG_CLEAN
    for size in (1, 7, 64):
        v = StreamValidator(eng)
        events = run(v, chunks(text, size))
        assert not v.halted
        assert not any(e.type == "retract" for e in events)
        out = consume(events).text
        assert out == eng.validate(text).output
        assert "Pay to <IBAN_CODE> today." in out
        assert "1111" not in out
        findings = [e.finding for e in events if e.type == "finding" and e.finding is not None]
        redacted = [e.finding.fingerprint for e in events if e.type == "redaction" and e.finding is not None]
        assert len(redacted) == 1  # one merged edit
        # The IBAN is redacted by that edit; the card run inside it is reported as repaired by it too.
        assert all(f.fingerprint in redacted or f.status is FindingStatus.REPAIRED for f in findings)
        assert {f.code for f in findings} >= {"PII003", "PII004"}


PACK = """
pack: stream-supersede
rules:
  - id: long-ticket
    code: TST901
    check: regex
    params: {pattern: "TICKET-[0-9]{6}-[A-Z]{3}", replacement: "[ticket]"}
    severity: medium
    action: repair
    supersedes: [TST902]
    message: "ticket id {matched}"
    examples: {match: ["TICKET-123456-ABC"], no_match: ["TICKET"]}
  - id: six-digits
    code: TST902
    check: regex
    params: {pattern: "[0-9]{6}", replacement: "[number]"}
    severity: high
    action: repair
    message: "number {matched}"
    examples: {match: ["123456"], no_match: ["12345"]}
"""

POLICY = """
name: stream-supersede
version: "1"
rules: ["pack:stream-supersede"]
"""


def test_superseded_finding_does_not_halt_the_stream(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "pack.yaml").write_text(PACK, encoding="utf-8")
    (tmp_path / "policies" / "stream-supersede.yaml").write_text(POLICY, encoding="utf-8")
    eng = Engine.from_policy("stream-supersede", rules_dirs=[tmp_path])
    text = LONG_CLEAN + "Your case is TICKET-123456-ABC, keep it. " + LONG_CLEAN
    report = eng.validate(text)
    assert [f.code for f in report.findings] == ["TST901"]  # the high-severity six-digits finding is superseded
    v = StreamValidator(eng)
    events = run(v, chunks(text, 9))
    assert not v.halted
    assert consume(events).text == report.output
    assert "Your case is [ticket], keep it." in report.output
