from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.findings import Action, Edit, Finding, Fix, Severity, Span
from guardrails.repair import apply_edits, carry_over, choose_fixes, exposed_redactions


def _finding(
    start: int,
    end: int,
    edits: list[tuple[int, int, str]],
    severity: Severity = Severity.LOW,
    *,
    redacts: bool = False,
    code: str = "TST001",
) -> Finding:
    return Finding(
        code=code,
        rule_id="r",
        check="c",
        severity=severity,
        action=Action.REPAIR,
        message="m",
        span=Span(start=start, end=end),
        fingerprint="f",
        fix=Fix(title="t", edits=[Edit(start=a, end=b, replacement=r) for a, b, r in edits], redacts=redacts),
    )


def test_overlapping_fixes_keep_the_stronger() -> None:
    weak = _finding(0, 5, [(0, 5, "a")])
    strong = _finding(3, 8, [(3, 8, "b")], Severity.HIGH)
    assert [c.finding for c in choose_fixes([weak, strong], allow_unsafe=False)] == [strong]


def test_two_insertions_at_one_point_conflict() -> None:
    a, b = _finding(2, 2, [(2, 2, "x")]), _finding(2, 2, [(2, 2, "y")])
    assert len(choose_fixes([a, b], allow_unsafe=False)) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)), max_size=25))
def test_chosen_edits_never_overlap_and_apply(raw: list[tuple[int, int]]) -> None:
    text = "x" * 70
    findings = [_finding(s, s + n, [(s, s + n, "#")]) for s, n in raw]
    chosen = choose_fixes(findings, allow_unsafe=False)
    edits = [e for c in chosen for e in c.fix.edits]
    for i, a in enumerate(edits):
        for b in edits[i + 1 :]:
            assert not a.conflicts(b)
    # Greedy is maximal: every refused fix conflicts with something chosen.
    for f in findings:
        if f not in [c.finding for c in chosen]:
            assert any(e.conflicts(t) for e in f.fix.edits for t in edits)  # type: ignore[union-attr]
    apply_edits(text, edits)


# -- redactions merge --------------------------------------------------------------------------


def _redaction(
    start: int, end: int, replacement: str, severity: Severity = Severity.HIGH, code: str = "PII"
) -> Finding:
    return _finding(start, end, [(start, end, replacement)], severity, redacts=True, code=code)


def test_nested_redactions_merge_into_the_containing_value() -> None:
    iban = _redaction(0, 27, "<IBAN_CODE>", Severity.HIGH, "PII004")
    card = _redaction(5, 24, "*" * 19, Severity.CRITICAL, "PII003")
    chosen = choose_fixes([card, iban], allow_unsafe=False)
    assert len(chosen) == 1
    assert chosen[0].finding is iban and chosen[0].merged == (card,)
    assert [(e.start, e.end, e.replacement, e.code) for e in chosen[0].fix.edits] == [(0, 27, "<IBAN_CODE>", "PII004")]
    assert chosen[0].fix.redacts


def test_partly_overlapping_redactions_cover_the_union() -> None:
    a, b, c = (
        _redaction(0, 10, "<A>", code="A"),
        _redaction(8, 14, "<B>", code="B"),
        _redaction(13, 30, "<C>", code="C"),
    )
    (chosen,) = choose_fixes([a, b, c], allow_unsafe=False)
    assert [(e.start, e.end, e.replacement) for e in chosen.fix.edits] == [(0, 30, "<C>")]  # the longest names it
    assert sorted(f.code for f in chosen.merged) == ["A", "B"]


def test_adjacent_redactions_stay_apart() -> None:
    chosen = choose_fixes([_redaction(0, 5, "<A>"), _redaction(5, 9, "<B>")], allow_unsafe=False)
    assert sorted((e.start, e.end) for c in chosen for e in c.fix.edits) == [(0, 5), (5, 9)]


def test_a_stronger_plain_fix_cannot_cut_into_a_redaction() -> None:
    pii = _redaction(4, 12, "<X>", Severity.LOW)
    syntax = _finding(0, 6, [(0, 6, "")], Severity.CRITICAL)
    assert [c.finding for c in choose_fixes([syntax, pii], allow_unsafe=False)] == [pii]


def test_a_plain_fix_cannot_cut_into_a_value_whose_redaction_is_refused() -> None:
    pii = _finding(4, 12, [(4, 12, "<X>")], redacts=True)
    pii = pii.model_copy(update={"fix": pii.fix.model_copy(update={"safe": False})})  # type: ignore[union-attr]
    syntax = _finding(0, 6, [(0, 6, "")], Severity.CRITICAL)
    assert choose_fixes([syntax, pii], allow_unsafe=False) == []


def test_plain_overlapping_fixes_keep_the_greedy_rule() -> None:
    weak, strong = _finding(0, 5, [(0, 5, "a")]), _finding(3, 8, [(3, 8, "b")], Severity.HIGH)
    assert [c.finding for c in choose_fixes([weak, strong], allow_unsafe=False)] == [strong]


def test_exposed_redactions_and_carry_over() -> None:
    text = "ab DE95 4111 1111 1111 1111 00 cd"
    iban = _redaction(3, 30, "<IBAN_CODE>")
    cut = [Edit(start=8, end=27, replacement="*")]  # the card's edit alone
    assert exposed_redactions([iban], cut) == [iban]
    assert exposed_redactions([iban], [Edit(start=3, end=30, replacement="x")]) == []
    assert exposed_redactions([iban], [Edit(start=0, end=2, replacement="x")]) == []
    after = apply_edits(text, cut)
    moved = carry_over(iban, cut, after)
    assert after[moved.span.start : moved.span.end] == "DE95 * 00"
    assert moved.fix is None and moved.span.line == 1 and moved.span.column == 4


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 8), st.booleans()), max_size=25))
def test_redactions_cover_every_detected_character(raw: list[tuple[int, int, bool]]) -> None:
    findings = [
        _redaction(s, s + n, "#") if red else _finding(s, s + n, [(s, s + n, "-")], Severity.CRITICAL)
        for s, n, red in raw
    ]
    edits = [e for c in choose_fixes(findings, allow_unsafe=False) for e in c.fix.edits]
    for i, a in enumerate(edits):
        for b in edits[i + 1 :]:
            assert not a.conflicts(b)
    for f in findings:
        if f.fix is not None and f.fix.redacts:
            assert all(any(e.start <= i < e.end for e in edits) for i in range(f.span.start, f.span.end))
    assert exposed_redactions(findings, edits) == []
    apply_edits("x" * 70, edits)
