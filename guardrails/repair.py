"""Apply fixes as edits: non-overlapping, inside the finding that proposed them, in one pass."""

from __future__ import annotations

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


def choose_fixes(findings: Iterable[Finding], *, allow_unsafe: bool) -> list[ChosenFix]:
    """Greedy, strongest finding first: take each applicable fix whose edits conflict with none taken."""
    taken: list[Edit] = []
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
        if any(e.conflicts(t) for e in fix.edits for t in taken):
            continue
        taken.extend(fix.edits)
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
