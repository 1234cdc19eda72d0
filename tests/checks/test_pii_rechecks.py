"""Why `pii` re-checks the whole text after a repair, and what a local re-check of it would have to keep.

The engine can re-run a `rechecks = "local"` check only around a repair's edits (windows reaching 3 x its
lookbehind past each edit). For `pii` the detection is local: a hit is a presidio pattern match (short) plus
context words read from the 120 characters before it and the 40 after (`_pii/context.py`), all within its
lookbehind of 128. The parity property below holds that claim to account. But pseudonym numbering reads the
whole text (the second test), and the bundled `email-address` rule uses it; and measured, windowed PII
re-checks cost more than the whole one (each rule scans its own window document instead of sharing one scan),
so `PiiCheck.rechecks` stays "whole" (see the module's comment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.checks._pii.redact import Mode
from guardrails.checks.base import Deadline, RunContext
from guardrails.checks.pii import PiiCheck, PiiParams
from guardrails.context import Context
from guardrails.document import Document
from guardrails.engine import Engine
from guardrails.findings import Action
from guardrails.rules.compile import compile_policy
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import RuleOverride

ROOT = Path(__file__).resolve().parents[2]
RULESET = load_ruleset()


# Rules only reported keep their hits through the repair, so the local re-check must find them again next to the
# redactions with the same spans and scores (context words included); thresholds at 0 keep the low scores that
# only a context word lifts.
_REPORTED = ("phone-number", "government-id-number", "bank-account-number", "ip-address")


def _engines() -> tuple[Engine, Engine]:
    """The bundled `pii` policy (some rules only reported) with every rule's detection re-checked locally
    (pseudonyms switched to tags, which number nothing), and the same policy re-checked on the whole text."""
    policy, path = RULESET.policy("pii")
    overrides = {
        rule_id: RuleOverride(action=Action.WARN, params={"threshold": 0.0, "thresholds": {}}) for rule_id in _REPORTED
    }
    engine = Engine(compile_policy(policy.model_copy(update={"overrides": overrides}), RULESET, path))
    for compiled in engine.rules:
        check = compiled.check
        if isinstance(check, PiiCheck):
            if check.params.mode is Mode.PSEUDONYM:
                check.params = check.params.model_copy(update={"mode": Mode.TAG})
            check.rechecks = "local"
    local = Engine(engine.compiled)
    whole = Engine(engine.compiled)
    whole._has_local = False
    return local, whole


LOCAL, WHOLE = _engines()


def _comparable(engine: Engine, text: str) -> dict[str, Any]:
    report = engine.validate(text).model_dump(mode="json")
    for key in ("elapsed_ms", "timings"):
        report.pop(key)
    return report


def _texts() -> list[str]:
    # A reported phone number lifted by a context word ~100 characters before it, next to a redaction.
    texts = ["phone " + "and the " * 12 + "(425) 882-9090 jane.doe@example.com", "jane.doe@example.com (425) 882-9090"]
    for loaded in RULESET.rules.values():
        if loaded.rule.check == "pii":
            texts += [ex.text for ex in (*loaded.rule.examples.match, *loaded.rule.examples.no_match)]
    for path in sorted((ROOT / "fixtures").rglob("*")):
        if path.is_file() and path.suffix in {".txt", ".json", ".html", ".md", ".jsonl"}:
            texts.append(path.read_text(encoding="utf-8", errors="replace")[:20_000])
    return texts


FILLER = "The order ships from our warehouse on Monday and the team will follow up with the details. " * 6


def test_pii_detection_rechecked_locally_equals_the_whole_recheck_on_examples_and_fixtures() -> None:
    for text in _texts():
        # Far from the edges, so the windows around a redaction cover only part of the text.
        padded = f"{FILLER}\n{text}\n{FILLER}"
        assert _comparable(LOCAL, padded) == _comparable(WHOLE, padded), text[:200]


VALUES = st.sampled_from(
    [
        "jane.doe@example.com",
        "(425) 882-9090",
        "+44 20 7946 0958",
        "4012888888881881",
        "078-05-1120",
        "192.168.0.1",
        "IL150120690000003111111",
        "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
        "phone:",
        "phone" + " and the" * 12,  # a context word ~100 characters (but < 5 keywords) before the next value
        "ssn",
        "card number",
        "call me",
        "e-mail",
        "routing number 021000021",
        "account 12345678901",
        "x",
    ]
)
GLUE = st.sampled_from([" ", ", ", "\n", "", "; ", " and ", ": ", "  "])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(VALUES, GLUE), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=len(FILLER)),
)
def test_several_pii_values_next_to_each_other_recheck_locally_as_on_the_whole_text(
    parts: list[tuple[str, str]], cut: int
) -> None:
    middle = "".join(value + glue for value, glue in parts)
    text = FILLER[:cut] + middle + FILLER + middle + FILLER[cut:]
    assert _comparable(LOCAL, text) == _comparable(WHOLE, text)


def test_pseudonym_numbering_reads_the_whole_text() -> None:
    """A window around an edit would miss the placeholder an earlier round left far away, and reuse its number
    for another value: `pseudonym` is not local, so neither is the `email-address` rule."""
    check = PiiCheck(PiiParams(entities=["EMAIL_ADDRESS"], outranked_by=[], mode=Mode.PSEUDONYM))
    ctx = RunContext(Context(), Deadline(None))
    tail = "write to max@example.org"
    text = f"Ask <EMAIL_ADDRESS_1> first. {FILLER}{tail}"

    def labels(doc_text: str) -> list[str]:
        return [h.fix.edits[0].replacement for h in check.run(Document(doc_text), ctx) if h.fix is not None]

    assert labels(text) == ["<EMAIL_ADDRESS_2>"]
    assert labels(text[-len(tail) :]) == ["<EMAIL_ADDRESS_1>"]
    assert PiiCheck.rechecks == "whole"
