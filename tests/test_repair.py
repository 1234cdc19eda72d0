from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.findings import Action, Edit, Finding, Fix, Severity, Span
from guardrails.repair import apply_edits, choose_fixes


def _finding(start: int, end: int, edits: list[tuple[int, int, str]], severity: Severity = Severity.LOW) -> Finding:
    return Finding(
        code="TST001",
        rule_id="r",
        check="c",
        severity=severity,
        action=Action.REPAIR,
        message="m",
        span=Span(start=start, end=end),
        fingerprint="f",
        fix=Fix(title="t", edits=[Edit(start=a, end=b, replacement=r) for a, b, r in edits]),
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
