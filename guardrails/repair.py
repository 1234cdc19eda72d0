"""Apply fixes as edits: non-overlapping, inside the finding that proposed them, in one pass.

Redactions (fixes marked `redacts`) are chosen first and never dropped for overlapping each other: fixes
whose edits overlap merge into one fix whose edits cover the union of their spans, so no character of
any detected value is released. The replacement of a merged edit is the one of the finding with the
longest span (the value that holds the others: an IBAN, not the card-shaped run inside it; then the
higher severity). Other fixes keep the greedy rule, strongest first, and may not cut into a value that
is being (or could not be) redacted.
"""

from __future__ import annotations

import bisect
import dataclasses
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from guardrails.document import Document
from guardrails.findings import Action, Edit, Finding, FindingStatus, Fix

if TYPE_CHECKING:
    from guardrails.checks.base import Hit


@dataclass(frozen=True, slots=True)
class ChosenFix:
    finding: Finding
    fix: Fix
    merged: tuple[Finding, ...] = ()
    """Redaction findings whose fixes were folded into `fix` (it covers their spans too)."""


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


def _applicable(finding: Finding, allow_unsafe: bool) -> bool:
    fix = finding.fix
    if finding.action is not Action.REPAIR or fix is None or not fix.edits:
        return False
    if not fix.safe and not allow_unsafe:
        return False
    return all(edit_inside(e, finding) for e in fix.edits)


def _strength(finding: Finding) -> tuple[int, int, int]:
    return (finding.span.end - finding.span.start, finding.severity.rank, -finding.span.start)


def _redaction_groups(findings: list[Finding]) -> list[list[Finding]]:
    """Findings whose edits overlap, directly or through others, in groups (by start)."""
    items = sorted(((e, f) for f in findings for e in f.fix.edits), key=lambda p: (p[0].start, p[0].end))  # type: ignore[union-attr]
    parent = {id(f): id(f) for f in findings}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    reach: tuple[Edit, Finding] | None = None  # the edit reaching furthest so far, and its finding
    for edit, finding in items:
        if reach is not None and reach[0].conflicts(edit):
            parent[root(id(finding))] = root(id(reach[1]))
        if reach is None or edit.end > reach[0].end or (reach[0].start == reach[0].end == edit.start == edit.end):
            reach = (edit, finding)
    groups: dict[int, list[Finding]] = {}
    for f in findings:
        groups.setdefault(root(id(f)), []).append(f)
    return sorted(groups.values(), key=lambda g: min(f.span.start for f in g))


def _merge(group: list[Finding]) -> ChosenFix:
    """One fix covering every edit of the group: overlapping edits become one, replaced as the strongest says."""
    primary = max(group, key=_strength)
    if len(group) == 1:
        return ChosenFix(primary, primary.fix)  # type: ignore[arg-type]
    owned = sorted(
        ((e, f) for f in group for e in f.fix.edits),  # type: ignore[union-attr]
        key=lambda p: (p[0].start, p[0].end),
    )
    clusters: list[list[tuple[Edit, Finding]]] = []
    end = -1
    for edit, finding in owned:
        last = clusters[-1] if clusters else None
        if last is not None and (edit.start < end or any(e.conflicts(edit) for e, _ in last)):
            last.append((edit, finding))
            end = max(end, edit.end)
        else:
            clusters.append([(edit, finding)])
            end = edit.end
    edits = []
    for cluster in clusters:
        edit, owner = max(cluster, key=lambda p: (p[1] is primary, p[0].end - p[0].start, *_strength(p[1])))
        edits.append(
            Edit(
                start=min(e.start for e, _ in cluster),
                end=max(e.end for e, _ in cluster),
                replacement=edit.replacement,
                code=edit.code or owner.code,
            )
        )
    fix = Fix(title=primary.fix.title, edits=edits, safe=all(f.fix.safe for f in group), redacts=True)  # type: ignore[union-attr]
    return ChosenFix(primary, fix, tuple(f for f in group if f is not primary))


def choose_fixes(findings: Iterable[Finding], *, allow_unsafe: bool) -> list[ChosenFix]:
    """Redactions first, overlapping ones merged; then greedy, strongest finding first: take each applicable
    fix whose edits conflict with none taken and cut into no value a redaction finding covers."""
    findings = list(findings)
    taken = _TakenEdits()
    redactions = [f for f in findings if f.fix is not None and f.fix.redacts and f.action is Action.REPAIR]
    chosen = [_merge(g) for g in _redaction_groups([f for f in redactions if _applicable(f, allow_unsafe)])]
    for c in chosen:
        for e in c.fix.edits:
            taken.add(e)
    # A value whose redaction cannot apply (an unsafe fix the policy refuses) must not be cut in two either:
    # what is left of it would no longer be detected, and the rest of it would be released.
    guarded = _TakenEdits()
    for f in redactions:
        if not _applicable(f, allow_unsafe):
            guarded.add(Edit(start=f.span.start, end=f.span.end, replacement=""))
    ordered = sorted(
        (f for f in findings if not (f.fix is not None and f.fix.redacts)),
        key=lambda f: (-f.severity.rank, f.span.start, f.code),
    )
    for finding in ordered:
        if not _applicable(finding, allow_unsafe):
            continue
        fix = finding.fix
        assert fix is not None
        if any(taken.conflicts(e) or guarded.conflicts(e) for e in fix.edits):
            continue
        for e in fix.edits:
            taken.add(e)
        chosen.append(ChosenFix(finding, fix))
    return chosen


def exposed_redactions(findings: Iterable[Finding], edits: Iterable[Edit]) -> list[Finding]:
    """Open redaction findings that `edits` cut into without covering whole: part of their value would be
    released while the rest is no longer recognisable. choose_fixes never produces this; the engine checks."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    exposed = []
    for f in findings:
        if f.fix is None or not f.fix.redacts or f.action is not Action.REPAIR or f.status is not FindingStatus.OPEN:
            continue
        s, t = f.span.start, f.span.end
        touching = [e for e in ordered if e.start < t and s < e.end]
        if not touching:
            continue
        pos = s
        for e in touching:
            if e.start > pos:
                break
            pos = max(pos, e.end)
        if pos < t:
            exposed.append(f)
    return exposed


def carry_over(finding: Finding, edits: Iterable[Edit], text_after: str) -> Finding:
    """The finding on `text_after` (the text after `edits`): its span mapped through them (an end inside an
    edit moves to the replacement's end), and no fix (its edits index the old text)."""
    start, end = finding.span.start, finding.span.end
    new_start, new_end = start, end
    for e in edits:  # non-overlapping, so each shifts the span once
        delta = len(e.replacement) - (e.end - e.start)
        if e.end <= start:
            new_start += delta
        elif e.start < start:  # start inside the edit: the value starts where the replacement does
            new_start += e.start - start
        if e.end <= end:
            new_end += delta
        elif e.start < end:
            new_end += e.start + len(e.replacement) - end
    line, column = Document(text_after).line_col(new_start)
    span = finding.span.model_copy(
        update={"start": new_start, "end": max(new_start, new_end), "line": line, "column": column}
    )
    return finding.model_copy(update={"span": span, "fix": None})


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


def touched_regions(edits: Iterable[Edit]) -> list[tuple[int, int]]:
    """Where each of `edits` (non-overlapping, offsets into the text before them) put its replacement, as
    [start, end) offsets into the text after them."""
    regions = []
    shift = 0
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        start = e.start + shift
        regions.append((start, start + len(e.replacement)))
        shift += len(e.replacement) - (e.end - e.start)
    return regions


def shift_hit(hit: Hit, delta: int) -> Hit:
    """The hit `delta` characters further on, its fix's edits too (a hit of a check that re-checks locally
    holds no other offsets)."""
    if not delta:
        return hit
    fix = hit.fix
    if fix is not None:
        edits = [e.model_copy(update={"start": e.start + delta, "end": e.end + delta}) for e in fix.edits]
        fix = fix.model_copy(update={"edits": edits})
    return dataclasses.replace(hit, start=hit.start + delta, end=hit.end + delta, fix=fix)
