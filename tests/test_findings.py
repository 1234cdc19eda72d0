from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from guardrails import Document, Edit, Fix, Span, Verdict
from guardrails.findings import Action, fingerprint
from guardrails.repair import apply_edits


def test_span_rejects_reversed_range() -> None:
    with pytest.raises(ValidationError, match="span end 1 is before start 2"):
        Span(start=2, end=1)


def test_fix_rejects_overlapping_edits() -> None:
    with pytest.raises(ValidationError, match="overlapping edits"):
        Fix(title="x", edits=[Edit(start=0, end=3, replacement=""), Edit(start=2, end=4, replacement="")])
    with pytest.raises(ValidationError, match="overlapping edits"):
        Fix(title="x", edits=[Edit(start=1, end=1, replacement="a"), Edit(start=1, end=1, replacement="b")])
    Fix(title="ok", edits=[Edit(start=0, end=2, replacement=""), Edit(start=2, end=2, replacement="x")])


def test_verdict_order_and_actions() -> None:
    assert [v.rank for v in Verdict] == [0, 1, 2, 3, 4]
    assert Verdict.strongest([Verdict.REVIEW, Verdict.REPAIRED]) is Verdict.REVIEW
    assert Verdict.strongest([]) is Verdict.PASS
    assert Verdict.for_action(Action.WARN) is Verdict.PASS
    assert not Verdict.REPAIRED.needs_action and Verdict.REVIEW.needs_action


def test_fingerprint_ignores_offsets_but_not_rule_or_anchor() -> None:
    assert fingerprint("r", "x", "/a") == fingerprint("r", "x", "/a")
    assert (
        len(
            {
                fingerprint("r", "x", "/a"),
                fingerprint("s", "x", "/a"),
                fingerprint("r", "x", "/b"),
                fingerprint("r", "y", "/a"),
            }
        )
        == 4
    )


@given(st.text(max_size=300), st.data())
def test_line_col_and_offset_round_trip(text: str, data: st.DataObject) -> None:
    doc = Document(text)
    offset = data.draw(st.integers(0, len(text)))
    line, col = doc.line_col(offset)
    assert doc.offset(line, col) == offset
    assert text[:offset].count("\n") + 1 == line


@given(
    st.text(max_size=100), st.lists(st.tuples(st.integers(0, 100), st.integers(0, 20), st.text(max_size=5)), max_size=6)
)
def test_apply_edits_matches_slicing(text: str, raw: list[tuple[int, int, str]]) -> None:
    edits: list[Edit] = []
    for raw_start, length, rep in raw:
        start = min(raw_start, len(text))
        e = Edit(start=start, end=min(len(text), start + length), replacement=rep)
        if not any(e.conflicts(o) for o in edits):
            edits.append(e)
    expected = text
    for e in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        expected = expected[: e.start] + e.replacement + expected[e.end :]
    assert apply_edits(text, edits) == expected
