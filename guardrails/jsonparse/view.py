"""The shared JSON view of an output: where the JSON is, its value, its syntax error and repairs.

Built once per validation through `Document.view` (key from `view_key`) and read by every JSON check.

How the JSON is found (documented in the README):
1. The whole text (surrounding whitespace allowed) parses: that is the JSON. One C-speed `json.loads`.
2. Else markdown code fences (```json, ```, ```jsonc ...): bodies that parse are the candidates.
3. Else (only when JSON is expected, see below) every `{` or `[` from which a JSON value parses.
   `pick` chooses among candidates: `largest` (default: the biggest value, first on ties), `first`, `last`.
4. No candidate parses: the JSON is taken to start at the first fence body, else at the first `{`/`[`, and
   the tolerant parser repairs it (every repair an edit, verified by the strict parser).

When JSON is not expected (`expect_json: false` and no schema in the Context), only text that starts like
JSON (first non-blank character `{` or `[`, or a fence) is looked at, so prose is never reported.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from json import JSONDecodeError
from typing import Any, Literal

from guardrails.document import Document
from guardrails.jsonparse.locate import Located, locate, pointer_at, pointer_from_path
from guardrails.jsonparse.lossless import compare
from guardrails.jsonparse.strict import NonFiniteNumber, loads, raw_decode, skip_ws
from guardrails.jsonparse.tolerant import Repair, RepairResult, TextEdit, repair_region
from guardrails.jsonparse.tolerant import apply as _apply_repairs

Pick = Literal["largest", "first", "last"]

# The info string after the language stops at a bracket: "```json {...} ```" on one line holds its body.
# The body is every character up to the next three backticks, read greedily and possessively: a lazy `.*?`
# tried the closing fence at each character and took 0.7 ms on a 4 KB fenced answer (3 us this way).
_FENCE = re.compile(r"`{3,}[ \t]*([\w+.-]*)[^\n`{[]*\n?((?:[^`]++|`(?!``))*+)(?:`{3,}|\Z)", re.S)
_JSON_LANGS = {"", "json", "jsonc", "json5", "jsonl", "js", "javascript"}
_OPENERS = re.compile(r"[\[{]")
_DATA = re.compile(r'[\[\]{}"]')
_FENCE_ONLY_BEFORE = re.compile(r"\s*`{3,}[\w+.-]*[^\n`]*\s*")
_FENCE_ONLY_AFTER = re.compile(r"\s*`{3,}\s*")
# A side of the text that ends (before) or starts (after) with a bare JSON literal or number next to the
# JSON ('true {"a": 1}', 'null{]', '{...} 42'): another value, not prose; dropping it is not safe.
_BARE_VALUE = re.compile(
    r"(?<![\w.-])(?:true|false|null|-?\d+(?:\.\d+)?)[\s,:`]*\Z|\A[\s,`]*(?:true|false|null|-?\d+(?:\.\d+)?)(?![\w.])"
)
MAX_FAILED_STARTS = 32
"""Bounded search: at most this many `{`/`[` that do not start a value are tried (keeps it linear)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    start: int
    end: int
    value: Any
    fenced: bool
    ambiguous: bool = False
    repairs: tuple[Repair, ...] = ()
    """For a value found beside others that parses only after repair: the repairs (it is never picked
    alone, only kept in the reading that takes every value as one array)."""


@dataclass(slots=True)
class JsonView:
    text: str
    present: bool = False
    """Some JSON (valid or broken) was found."""
    strict: bool = False
    """The JSON parsed as it stands (no syntax repair needed; text around it may still be)."""
    ok: bool = False
    """`value` is available: parsed as-is, or after the repairs."""
    value: Any = None
    start: int = 0
    end: int = 0
    error: str | None = None
    error_pos: int | None = None
    too_deep: bool = False
    repairs: list[Repair] = field(default_factory=list)
    candidates: int = 0
    whole: bool = False
    """The whole text (modulo whitespace) is exactly this JSON."""
    repaired: str | None = None
    """For broken JSON: text[start:end] after the syntax repairs (what `value` was parsed from)."""
    loss: str | None = None
    """What the repair would drop, merge or move (see guardrails.jsonparse.lossless); None when lossless."""
    ambiguity: str | None = None
    """Schema-guided repair (guardrails.jsonparse.salvage) found several readings, or none, that satisfy
    the schema: what a regeneration must resolve."""
    schema_confirmed: bool = False
    """The repairs are the one reading the schema accepts (salvage)."""
    cuts: tuple[int, ...] = ()
    """A truncated value: where it could close at a complete member instead (see RepairResult.cuts)."""
    parts: list[tuple[int, int]] = field(default_factory=list)
    """Several top-level values (expect_json): each one's span, in order."""
    part_values: list[tuple[int, int, Any]] = field(default_factory=list)
    parts_ambiguous: bool = False
    """Besides the values, something else in the text opens a bracket and does not parse."""
    raw_repairs: list[Repair] = field(default_factory=list)
    """The tolerant parser's repairs of broken JSON, before the lossless check judged the whole."""
    _edits: list[TextEdit] = field(default_factory=list)

    def set_edits(self, edits: list[TextEdit]) -> None:
        """Install the edits `value` was parsed through (for locate) and the repaired text they give."""
        self._edits = sorted(edits, key=lambda e: (e.start, e.end))
        inside = [e for e in self._edits if e.start >= self.start and e.end <= self.end]
        self.repaired = _apply(self.text, self.start, self.end, inside)
        self.strict = False

    def locate(self, path: list[str | int] | tuple[str | int, ...]) -> Located | None:
        """Span in the original text of the value at `path` (computed now, not at parse time)."""
        if not self.ok:
            return None
        if self.repaired is None:
            return locate(self.text, self.start, path)
        found = locate(self.repaired, 0, path)
        if found is None:
            return None
        key = None if found.key_start is None else self._original(found.key_start, False)
        return Located(self._original(found.start, False), self._original(found.end, True), key)

    def pointer_at(self, offset: int) -> str | None:
        """JSON pointer of the innermost value containing a character offset (JSON parsed as-is only)."""
        if not self.strict:
            return None
        path = pointer_at(self.text, self.start, offset)
        return None if path is None else pointer_from_path(path)

    def _original(self, pos: int, is_end: bool) -> int:
        """Map an offset in `repaired` back to the original text (edits shift everything after them)."""
        shift = 0
        for e in self._edits:
            rep_start = e.start - self.start + shift
            if pos < rep_start or (pos == rep_start and not is_end):
                break
            rep_end = rep_start + len(e.replacement)
            if pos <= rep_end:
                return e.end if is_end else e.start
            shift += len(e.replacement) - (e.end - e.start)
        return min(len(self.text), max(0, pos + self.start - shift))


def view_key(expect_json: bool, pick: Pick, max_depth: int) -> str:
    return f"json\x1f{int(expect_json)}\x1f{pick}\x1f{max_depth}"


def document_view(
    doc: Document, *, expect_json: bool = False, pick: Pick = "largest", max_depth: int = 512, deadline: Any = None
) -> JsonView:
    """The JSON view of a document, shared with every other check that asks with the same settings.

    For checks outside the JSON pack that read values in JSON outputs (facts, PII in fields...): with the
    defaults they get the view the bundled JSON rules use in the default policy, parsed at most once.
    """
    key = view_key(expect_json, pick, max_depth)
    return doc.view(
        key, lambda d: build_view(d.text, expect_json=expect_json, pick=pick, max_depth=max_depth, deadline=deadline)
    )


def build_view(
    text: str, *, expect_json: bool, pick: Pick = "largest", max_depth: int = 512, deadline: Any = None
) -> JsonView:
    """Find, parse (and if needed repair) the JSON of an output, by the rules in this module's docstring."""
    view = JsonView(text)
    lead = skip_ws(text, 0)
    if lead == len(text):
        return view
    try:
        view.value = loads(text)
    except RecursionError:
        view.present, view.too_deep, view.start, view.end = True, True, lead, len(text)
        view.error, view.error_pos = "nesting deeper than the parser's limit", lead
        return view
    except (JSONDecodeError, NonFiniteNumber):
        pass
    else:
        view.present = view.strict = view.ok = view.whole = True
        view.start, view.end, view.candidates = lead, len(text.rstrip(" \t\n\r")), 1
        # Nesting within the C parser's limit can still be past ours; counting brackets (C speed) tells
        # when the value is worth measuring at all.
        if text.count("[") + text.count("{") > max_depth and _depth(view.value, max_depth) > max_depth:
            view.too_deep = True
            view.error, view.error_pos = f"nesting deeper than {max_depth} levels", lead
        return view
    # `in` first: the regex engine walks every character of a fence-less text (0.2 ms on 4 KB), `in` is C.
    fences = [m for m in _FENCE.finditer(text) if m.group(1).lower() in _JSON_LANGS] if "```" in text else []
    if not expect_json and text[lead] not in "{[(" and not fences:
        return view
    candidates = _fenced_candidates(text, fences)
    fixed: list[Candidate] = []
    broken: tuple[int, int] | None = None
    result: RepairResult | None = None
    if candidates and expect_json:
        fixed = _fixed_fences(text, fences, candidates, deadline, max_depth)
    if not candidates:
        broken = _broken_fence(text, fences)
        if broken is None:
            candidates, fixed, broken, result = _scanned_candidates(text, lead, expect_json, deadline, max_depth)
    view.candidates = len(candidates)
    if candidates:
        chosen = _pick(candidates, pick)
        view.present = view.strict = view.ok = True
        view.value, view.start, view.end = chosen.value, chosen.start, chosen.end
        several = len(candidates) + len(fixed) > 1
        view.repairs = around(text, chosen.start, chosen.end, others=several or chosen.ambiguous)
        if several:
            # Schema-guided repair reads the values that parse as they stand; one that needs repair makes
            # the "all of them" reading a guess there.
            view.parts = [(c.start, c.end) for c in candidates]
            view.part_values = [(c.start, c.end, c.value) for c in candidates]
            view.parts_ambiguous = chosen.ambiguous or bool(fixed)
            every = sorted([*candidates, *fixed], key=lambda c: c.start)
            if not chosen.ambiguous and _one_answer(text, every):
                # Objects one after another (JSON Lines, '{...}{...}'), or values side by side or in fences
                # ('{...}[...]') read as one answer in parts: the unsafe fix keeps them all, in one array,
                # rather than the largest alone (a part that needed repair keeps its repairs). Which was meant
                # is a guess: never safe.
                view.repairs = [_records(text, every)]
                view.value = [c.value for c in every]
                view.start, view.end = 0, len(text)
                view.set_edits(list(view.repairs[0].edits))
        if not expect_json and _has_prose(view.repairs):
            return JsonView(text)  # "{a} said..." is prose that happens to start with a brace
        return view
    if broken is None:
        return view
    start, region_end = broken
    view.present, view.start = True, start
    try:
        raw_decode(text, start)
    except JSONDecodeError as exc:
        view.error, view.error_pos = exc.msg, exc.pos
    except NonFiniteNumber as exc:
        view.error = str(exc)
    except RecursionError:
        view.error, view.error_pos, view.too_deep = "nesting deeper than the parser's limit", start, True
    if result is None or result.start != start:
        result = repair_region(text, start, region_end, deadline=deadline, max_depth=max_depth)
    if view.error_pos is None:  # NaN/Infinity: the C decoder does not say where; the repair does
        where = [r.start for r in result.repairs if r.issue == "non-finite-number"]
        view.error_pos = where[0] if where else start
    view.too_deep = view.too_deep or result.too_deep
    view.end = result.end
    view.cuts = result.cuts
    if not result.ok:
        if not expect_json and not result.too_deep and not _framed(text, start):
            return JsonView(text)  # unrepairable and not even ending like JSON: treat as prose
        if view.error is None:
            view.error, view.error_pos = result.problem, result.problem_pos
        return view
    view.ok, view.value, view.repaired = True, result.value, result.repaired
    view.raw_repairs = result.repairs
    view._edits = sorted((e for r in result.repairs for e in r.edits), key=lambda e: (e.start, e.end))
    # Broken JSON is a guess: dropping text that also opens a bracket is not safe.
    dropped = text[:start] + text[result.end :]
    view.repairs = result.repairs + around(text, start, result.end, others=bool(_OPENERS.search(dropped)))
    # Safe means lossless: a guess that drops, merges or moves a value of the text is never applied
    # silently. Every repair of the JSON turns unsafe and says what the whole repair would lose.
    loss = compare(text, start, result.end, result.value, repaired=result.repaired)
    if loss is not None:
        view.loss = loss.what
        view.repairs = [_unsafe(r, loss.what) for r in view.repairs]
    elif any(not r.safe for r in result.repairs):
        # The repair is judged whole: a safe part applied alone changes the text the next round reads
        # ('{"a":n' closed to '{"a":n}' makes the cut-off 'n' look like a complete bare word).
        guess = next(r.note for r in result.repairs if not r.safe)
        view.repairs = [r if r.issue == "markdown-fence" else _unsafe(r, f"goes with: {guess}") for r in view.repairs]
    if not expect_json and _has_prose(view.repairs):
        return JsonView(text)
    return view


def _one_answer(text: str, parts: list[Candidate]) -> bool:
    """Several values that read as the parts of one answer: all objects, or containers side by side (only
    blanks or commas between) or each in its fence. Arrays alone ('[...][...]') are one array restated or
    continued, which nesting them in another array would not mean; '[1]' in prose after an object is prose."""
    if not all(isinstance(c.value, (dict, list)) and c.value for c in parts):
        return False
    if all(isinstance(c.value, dict) for c in parts):
        return True
    if all(isinstance(c.value, list) for c in parts):
        return False
    return all(
        (a.fenced and b.fenced) or not text[a.end : b.start].strip(" \t\n\r,") for a, b in itertools.pairwise(parts)
    )


def _ends_value(text: str, end: int) -> bool:
    """A repaired value ends at the end of the text or before a blank, a fence or another value."""
    return end >= len(text) or text[end] in " \t\n\r`{["


def _framed(text: str, start: int) -> bool:
    """Broken text reads as JSON when it also ends like the JSON it opened ({...} or [...], or a fence)."""
    tail = text.rstrip()
    closer = "}" if text[start] == "{" else "]"
    return tail.endswith((closer, "`"))


def _has_prose(repairs: list[Repair]) -> bool:
    return any(r.issue == "text-around-json" for r in repairs)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed value, without recursion; stops counting past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return deepest


def _fenced_candidates(text: str, fences: list[re.Match[str]]) -> list[Candidate]:
    out = []
    for m in fences:
        body_start = skip_ws(text, m.start(2), m.end(2))
        body_end = len(text[: m.end(2)].rstrip(" \t\n\r"))
        if body_start >= body_end or text[body_start] not in "{[":
            continue
        try:
            value, end = raw_decode(text, body_start)
        except (ValueError, RecursionError):
            continue
        if skip_ws(text, end, body_end) == body_end:
            out.append(Candidate(body_start, end, value, True))
    return out


def _fixed_fences(
    text: str, fences: list[re.Match[str]], strict: list[Candidate], deadline: Any, max_depth: int
) -> list[Candidate]:
    """Fence bodies that start like JSON, do not parse, but repair whole (beside fences that parse)."""
    taken = {c.start for c in strict}
    out = []
    for m in fences:
        body_start = skip_ws(text, m.start(2), m.end(2))
        body_end = m.end(2)
        if body_start in taken or body_start >= body_end or text[body_start] not in "{[":
            continue
        r = repair_region(text, body_start, body_end, deadline=deadline, max_depth=max_depth)
        if r.ok and skip_ws(text, r.end, body_end) == body_end:
            out.append(Candidate(body_start, r.end, r.value, True, repairs=tuple(r.repairs)))
    return out


def _broken_fence(text: str, fences: list[re.Match[str]]) -> tuple[int, int] | None:
    """The first fence whose body starts like JSON (none of them parsed)."""
    for m in fences:
        body_start = skip_ws(text, m.start(2), m.end(2))
        if body_start < m.end(2) and text[body_start] in "{[(":
            return body_start, m.end(2)
    return None


def _scanned_candidates(
    text: str, lead: int, expect_json: bool, deadline: Any, max_depth: int
) -> tuple[list[Candidate], list[Candidate], tuple[int, int] | None, RepairResult | None]:
    """Values that parse from a `{` or `[` in the text, values after them that parse once repaired, and
    where broken JSON starts when none parses.

    A `{`/`[` that does not parse starts the broken JSON when it is the first opener (or the text's first
    character): the inside of a broken object is never mistaken for "the JSON". Then scanning resumes
    inside it for complete values, in case the broken opener was prose ("{see below} ... {...}").
    """
    out: list[Candidate] = []
    fixed: list[Candidate] = []
    broken: tuple[int, int] | None = None
    repaired: RepairResult | None = None
    failures = 0
    failed = -1
    pos = lead
    n = len(text)
    if text[lead] == "(":
        broken = (lead, n)  # a Python tuple as the whole output; "(" elsewhere is prose
    while pos < n and failures < MAX_FAILED_STARTS:
        m = _OPENERS.search(text, pos)
        if m is None or (not expect_json and m.start() != lead):
            break
        at = m.start()
        try:
            value, end = raw_decode(text, at)
        except (ValueError, RecursionError):
            if out and expect_json and failed < 0:
                # '{"key":"value"}[1,2,3,True]': a value after a complete one that parses once repaired is a
                # second part of the answer (a bracket in prose after the JSON does not repair whole).
                r = repair_region(text, at, None, deadline=deadline, max_depth=max_depth)
                if r.ok and isinstance(r.value, (dict, list)) and r.value and _ends_value(text, r.end):
                    fixed.append(Candidate(at, r.end, r.value, False, repairs=tuple(r.repairs)))
                    pos = r.end
                    continue
            failures += 1
            if failed < 0:
                failed = at
            if broken is None and not out:
                broken = (at, n)
                repaired = repair_region(text, at, None, deadline=deadline, max_depth=max_depth)
                if repaired.ok:
                    if not expect_json:
                        break
                    pos = max(at + 1, repaired.end)  # look on for complete values after it
                    continue
            pos = at + 1
            if deadline is not None:
                deadline.check()
            continue
        out.append(Candidate(at, end, value, False))
        pos = end
        if not expect_json:
            break
    if failed >= 0 and out:
        # Something else in the text also starts like JSON but does not parse: dropping it is not safe.
        out = [Candidate(c.start, c.end, c.value, c.fenced, ambiguous=True) for c in out]
    return out, fixed, broken, repaired


def _pick(candidates: list[Candidate], pick: Pick) -> Candidate:
    if pick == "first":
        return candidates[0]
    if pick == "last":
        return candidates[-1]
    return max(candidates, key=lambda c: c.end - c.start)  # max keeps the first on ties


def _unsafe(r: Repair, what: str) -> Repair:
    return Repair(r.issue, r.start, r.end, r.edits, False, f"{r.note} (unsafe: {what})")


def around(text: str, start: int, end: int, *, others: bool) -> list[Repair]:
    """Fence markers or prose before/after the JSON: one repair per side deleting it (whitespace alone stays).

    Dropping prose is safe; dropping what may be data is not: another JSON value (`others`), or a side
    holding brackets or double quotes ('{"a": 1}, "b": 2}': the members after a stray '}').
    """
    before, after = text[:start], text[end:]
    out = []
    if before.strip():
        if _FENCE_ONLY_BEFORE.fullmatch(before):
            out.append(Repair("markdown-fence", 0, start, (TextEdit(0, start, ""),), True, "removed the opening fence"))
        else:
            data = _DATA.search(before) is not None or _BARE_VALUE.search(before) is not None
            note = "removed the text before the JSON" + (" (it may hold data)" if data else "")
            out.append(Repair("text-around-json", 0, start, (TextEdit(0, start, ""),), not (others or data), note))
    if after.strip():
        n = len(text)
        if _FENCE_ONLY_AFTER.fullmatch(after):
            out.append(Repair("markdown-fence", end, n, (TextEdit(end, n, ""),), True, "removed the closing fence"))
        else:
            data = _DATA.search(after) is not None or _BARE_VALUE.search(after) is not None
            note = "removed the text after the JSON" + (" (it may hold data)" if data else "")
            out.append(Repair("text-around-json", end, n, (TextEdit(end, n, ""),), not (others or data), note))
    return out


def _apply(text: str, start: int, end: int, edits: list[TextEdit]) -> str:
    return _apply_repairs(text, start, end, [Repair("", start, end, tuple(edits), True, "")])


def _records(text: str, candidates: list[Candidate]) -> Repair:
    edits = [TextEdit(0, candidates[0].start, "[")]
    edits += [TextEdit(a.end, b.start, ",") for a, b in itertools.pairwise(candidates)]
    edits += [e for c in candidates for r in c.repairs for e in r.edits]
    edits.append(TextEdit(candidates[-1].end, len(text), "]"))
    n = len(candidates)
    kinds = "objects" if all(isinstance(c.value, dict) for c in candidates) else "values"
    repaired = sum(1 for c in candidates if c.repairs)
    inside = f", {repaired} of them repaired" if repaired else ""
    note = f"{n} top-level {kinds} wrapped into one array{inside} (which one is the answer is a guess)"
    return Repair("text-around-json", 0, len(text), tuple(edits), False, note)
