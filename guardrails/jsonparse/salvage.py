"""Schema-guided repair: when the schema is known, rank candidate repairs by whether they validate.

The tolerant parser makes one guess per damage; some damage has several readings, and only the schema can
tell them apart:

- a truncated value closes at the last complete member of an open container (innermost first, then each
  parent), instead of closing a cut-off string or number (`"Pet` may have been "Peter");
- several top-level values (`{...}{...}`, `{...}, {...}`, two fences) become one array of all of them;
- a `}`/`]` that ends the value early, before more members (`{"a": 1}, "b": 2}`), is dropped;
- the tolerant parser's own guess (a `(...)` read as an array...).

`rank` keeps the view as it is when its repair is safe and the value validates. Otherwise: a single candidate
that validates and keeps every value of the text (a truncated one: every complete member) is delivered as a
safe repair; when several rivals validate, or none, every repair stays unsafe and the view says what was
ambiguous (`JsonView.ambiguity`), so the regeneration request names it next to the schema. Candidates that
close a truncated value at different depths are not rivals: the one keeping the most members wins.

Candidates are built by blanking characters (a stray closer, a cut-off tail) with spaces, which keeps every
offset, and running the same tolerant parser: each candidate is a list of edits of the original text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from guardrails.jsonparse.lossless import compare
from guardrails.jsonparse.strict import skip_ws
from guardrails.jsonparse.tolerant import Repair, TextEdit, repair_region
from guardrails.jsonparse.view import JsonView, around

_GUESSES = re.compile(r"cut off|mid-token|may be cut|no value")

_NONE_VALID = "no reading of the JSON that keeps every value satisfies the schema"

Accepts = Callable[[Any], bool]
"""True when a value satisfies the schema (no exception for a plain mismatch)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One reading of damaged JSON: the value and the edits of the original text that produce it."""

    label: str
    value: Any
    repairs: list[Repair]
    start: int
    end: int
    keeps_all: bool
    """Every value token of the text survives (container kinds may change); for a truncated value, every
    complete member."""
    rivals: bool = True
    """False for truncation cuts: each keeps less than the one before, the first that validates wins."""


def rank(view: JsonView, accepts: Accepts, *, deadline: Any = None) -> JsonView:
    """The view, with its repairs replaced by the single schema-valid candidate, or marked ambiguous."""
    if not view.present or view.too_deep:
        return view
    primary_safe = view.ok and all(r.safe for r in view.repairs) and view.candidates <= 1
    if primary_safe and _accepts(accepts, view.value):
        return view
    found = candidates(view, deadline=deadline)
    if not found:
        if view.ok and not primary_safe and not _accepts(accepts, view.value):
            return _ambiguous(view, _NONE_VALID)
        return view
    cuts = [c for c in found if not c.rivals]
    rivals = [c for c in found if c.rivals]
    valid = [c for c in rivals if c.keeps_all and _accepts(accepts, c.value)]
    first_cut = next((c for c in cuts if _accepts(accepts, c.value)), None)
    if first_cut is not None:
        valid.append(first_cut)
    if len(valid) == 1:
        return _choose(view, valid[0])
    if valid:
        labels = "; ".join(c.label for c in valid)
        return _ambiguous(view, f"{len(valid)} readings of the JSON satisfy the schema ({labels})")
    if view.ok and primary_safe:
        return view  # the schema rule reports what is wrong with the value; no repair can help
    if view.parts:
        n = len(view.parts)
        return _ambiguous(view, f"{n} top-level JSON values where the schema wants one: which is meant is a guess")
    return _ambiguous(view, _NONE_VALID)


def candidates(view: JsonView, *, deadline: Any = None) -> list[Candidate]:
    """Every reading this module knows for the view's damage (the tolerant parser's own one included)."""
    text = view.text
    out: list[Candidate] = []
    if view.ok and view.raw_repairs:
        lost = compare(text, view.start, view.end, view.value, same_kinds=False)
        keeps = lost is None and all(r.safe for r in view.raw_repairs)
        out.append(Candidate("the repair as read", view.value, view.raw_repairs, view.start, view.end, keeps))
    if view.parts:
        out.extend(_array_of_all(view))
    if view.cuts:
        for cut in view.cuts:
            c = _reparse(text, view.start, [(cut, len(text))], f"closed after offset {cut}", deadline, rivals=False)
            if c is not None:
                out.append(c)
    if view.strict and view.end < len(text) and text[view.end - 1] in "}]":
        # '{"a": 1}, "b": 2}': a closer ended the value early; without it the members after rejoin it.
        after = skip_ws(text, view.end)
        if after < len(text) and text[after] == ",":
            c = _reparse(
                text,
                view.start,
                [(view.end - 1, view.end)],
                f"dropped the {text[view.end - 1]!r} at offset {view.end - 1}",
                deadline,
            )
            if c is not None:
                out.append(c)
    return out


def _reparse(
    text: str, start: int, blanks: list[tuple[int, int]], label: str, deadline: Any, *, rivals: bool = True
) -> Candidate | None:
    """The tolerant parse of `text` with some spans blanked out; None when it does not give whole JSON."""
    chars = list(text)
    for b0, b1 in blanks:
        chars[b0:b1] = " " * (b1 - b0)
    blanked = "".join(chars)
    result = repair_region(blanked, start, deadline=deadline)
    if not result.ok:
        return None
    tail = blanked[result.end :].strip()
    if tail:
        return None  # part of the text is left over: this reading does not cover it
    repairs = list(result.repairs)
    for b0, b1 in blanks:
        gaps = _uncovered(b0, b1, repairs)
        if gaps is None:
            return None
        repairs.extend(
            Repair("text-around-json" if rivals else "truncated-json", g0, g1, (TextEdit(g0, g1, ""),), True, label)
            for g0, g1 in gaps
        )
    if skip_ws(text, result.end) < len(text) and not any(b1 >= len(text) for _, b1 in blanks):
        return None
    loss = compare(blanked, start, result.end, result.value, same_kinds=False, repaired=result.repaired)
    # Closing after a complete member is what this candidate is for; any other guess keeps it unsafe.
    keeps = loss is None and all(
        r.safe or (r.issue == "truncated-json" and not _GUESSES.search(r.note)) for r in result.repairs
    )
    return Candidate(label, result.value, repairs, start, max(result.end, *(b1 for _, b1 in blanks)), keeps, rivals)


def _uncovered(b0: int, b1: int, repairs: list[Repair]) -> list[tuple[int, int]] | None:
    """Parts of a blanked span no edit replaces; None when an insertion lands strictly inside it."""
    edits = sorted(
        (e for r in repairs for e in r.edits if (e.end > b0 and e.start < b1) or b0 < e.start < b1),
        key=lambda e: e.start,
    )
    gaps = []
    pos = b0
    for e in edits:
        if e.start == e.end and b0 < e.start < b1:
            return None
        if e.start > pos:
            gaps.append((pos, min(e.start, b1)))
        pos = max(pos, e.end)
    if pos < b1:
        gaps.append((pos, b1))
    return gaps


def _array_of_all(view: JsonView) -> list[Candidate]:
    """Several top-level values as one array: '[' before the first, ',' between, ']' after the last."""
    parts = view.parts
    text = view.text
    edits = [TextEdit(0, parts[0][0], "[")]
    for (_, e0), (s1, _) in itertools.pairwise(parts):
        edits.append(TextEdit(e0, s1, ","))
    edits.append(TextEdit(parts[-1][1], len(text), "]"))
    values = [v for _, _, v in view.part_values]
    label = f"the {len(parts)} top-level values as one array"
    repair = Repair("text-around-json", 0, len(text), tuple(edits), True, f"wrapped {label}")
    return [Candidate(label, values, [repair], 0, len(text), not view.parts_ambiguous)]


def _accepts(accepts: Accepts, value: Any) -> bool:
    try:
        return bool(accepts(value))
    except (ValueError, TypeError, RecursionError):
        return False


def _choose(view: JsonView, c: Candidate) -> JsonView:
    """The view delivering candidate `c`: its repairs become the view's, safe (the schema confirmed it)."""
    note = f"; the schema confirms this reading ({c.label})"
    repairs = [
        Repair(r.issue, r.start, r.end, r.edits, True, r.note + note if i == 0 else r.note)
        for i, r in enumerate(c.repairs)
    ]
    if c.start > 0 or c.end < len(view.text):  # prose or fences around it go as they would for any JSON
        repairs += [r for r in around(view.text, c.start, c.end, others=False) if r.end <= c.start or r.start >= c.end]
    view.repairs = sorted(repairs, key=lambda r: (r.start, r.end))
    view.ok, view.value, view.loss, view.ambiguity = True, c.value, None, None
    view.start, view.end = c.start, c.end
    view.schema_confirmed = True
    view.set_edits([e for r in view.repairs for e in r.edits])
    return view


def _ambiguous(view: JsonView, why: str) -> JsonView:
    view.ambiguity = why
    view.repairs = [
        r
        if r.issue == "markdown-fence"
        else Repair(r.issue, r.start, r.end, r.edits, False, f"{r.note} (unsafe: {why})")
        for r in view.repairs
    ]
    return view


__all__ = ["Accepts", "Candidate", "candidates", "rank"]
