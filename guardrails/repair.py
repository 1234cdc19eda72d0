"""Apply fixes as edits: non-overlapping, inside the finding that proposed them, in one pass."""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from guardrails.findings import Action, Edit, Finding, Fix


@dataclass(frozen=True, slots=True)
class ChosenFix:
    finding: Finding
    fix: Fix


def edit_inside(edit: Edit, finding: Finding) -> bool:
    """An edit may touch only text its finding covers (insertions may sit on the span's edges)."""
    return finding.span.start <= edit.start and edit.end <= finding.span.end


class _TakenEdits:
    """Non-overlapping edits kept sorted by (start, end), so a conflict test looks only at neighbours."""

    def __init__(self) -> None:
        self._keys: list[tuple[int, int]] = []

    def conflicts(self, edit: Edit) -> bool:
        # Taken edits do not overlap, so the last one starting before `edit` (the one reaching furthest,
        # since an insertion sorts before a replacement at the same start) and those starting inside it
        # are the only candidates.
        lo = max(0, bisect.bisect_left(self._keys, (edit.start, -1)) - 1)
        hi = bisect.bisect_right(self._keys, (edit.end, sys.maxsize))
        s, e = edit.start, edit.end  # the rule of Edit.conflicts, on plain ints (hot path)
        return any((s == e == a == b) or (s < b and a < e) for a, b in self._keys[lo:hi])

    def add(self, edit: Edit) -> None:
        bisect.insort(self._keys, (edit.start, edit.end))


def choose_fixes(findings: Iterable[Finding], *, allow_unsafe: bool) -> list[ChosenFix]:
    """Greedy, strongest finding first: take each applicable fix whose edits conflict with none taken."""
    taken = _TakenEdits()
    chosen: list[ChosenFix] = []
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.span.start, f.code))
    for finding in ordered:
        fix = finding.fix
        if finding.action is not Action.REPAIR or fix is None or not fix.edits:
            continue
        if not fix.safe and not allow_unsafe:
            continue
        if not all(edit_inside(e, finding) for e in fix.edits):
            continue
        if any(taken.conflicts(e) for e in fix.edits):
            continue
        for e in fix.edits:
            taken.add(e)
        chosen.append(ChosenFix(finding, fix))
    return chosen


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (offsets into `text`) in one left-to-right pass."""
    parts: list[str] = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < pos:
            raise ValueError(f"edits overlap at offset {edit.start}")
        parts.append(text[pos : edit.start])
        parts.append(edit.replacement)
        pos = edit.end
    parts.append(text[pos:])
    return "".join(parts)
