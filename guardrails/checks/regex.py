"""`regex`: flag every match of a pattern (the `regex` module, with a timeout against catastrophic patterns).

With `anchors` (whole words, or punctuation like `[`, matched ignoring case and accents) the pattern
runs only in windows around places where an anchor occurs: most outputs contain none, and a pattern with
many alternatives then costs one Aho-Corasick pass over the shared folded text instead of a regex attempt
at every character. The anchored regex rules of one policy share that pass (see `bind`): one automaton over
all their anchors, run once per document, hands each rule its own occurrences. Every match must contain an
anchor and fit, with its lookarounds, within `anchor_window` characters either side of it; the rule's
examples guard that the anchors are complete.

Patterns come from rule files (trusted operator data, compiled once at load); each search still runs with
`timeout=` the check's remaining deadline, so a slow pattern is an ENG002 finding, not a hang. Patterns from
callers go through `_bounded_regex` instead, which also refuses those whose compile would blow up.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import ahocorasick
import regex
from pydantic import Field, field_validator

from guardrails.checks._foldscan import ScanSource, ScanUser, share_among
from guardrails.checks._multiscan import PatternSet, Scan
from guardrails.checks._textnorm import FoldedText, at_word_boundaries, fold
from guardrails.checks.base import Check, CheckParams, DeadlineExceeded, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix

_CHAR_CLASS = regex.compile(r"\[(?:\\.|[^\]\\])*\]")
_ANCHOR = regex.compile(r"(?<!\\)[$^]|\\[AZz]")
_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE, "u": regex.UNICODE}


class RegexParams(CheckParams):
    pattern: str = Field(description="A `regex`-module pattern")
    flags: str = Field(default="", description="Any of i (ignore case), m, s, x")
    group: int | str = Field(default=0, description="Capture group whose span is flagged")
    window: Literal["all", "head", "tail"] = Field(default="all", description="Search all text, or only its head/tail")
    window_chars: int = Field(default=300, ge=1, description="Size of the head/tail window")
    max_matches: int = Field(default=100, ge=1, description="Stop after this many hits in one output")
    anchors: list[str] = Field(
        default_factory=list, description="Run only near these whole words (any case/accents); each match has one"
    )
    anchor_window: int = Field(default=120, ge=1, description="Characters searched either side of an anchor")
    replacement: str | None = Field(default=None, description="When set, each match gets a fix replacing it")
    fix_safe: bool = Field(default=True, description="Mark the replacement fix safe (applied without allow_unsafe)")
    lookbehind: int = Field(
        default=200,
        ge=0,
        description="Longest match, for the stream validator's hold-back (with `boundary`: how far before the start"
        " of the unit still being written a match can start, and how far a look-behind reads before a match)",
    )
    boundary: Literal["token", "sentence", "paragraph"] | None = Field(
        default=None,
        description="For streaming: the match and its look-arounds never cross the end of this unit (a sentence ends"
        " at `.`, `!` or `?` before whitespace, or at a line break), so a stream settles the rule once the unit"
        " it sits in has ended, instead of `lookbehind` characters after it; only with `window: all`",
    )

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: str) -> str:
        bad = sorted(set(value) - set(_FLAGS))
        if bad:
            raise ValueError(f"unknown flag(s) {''.join(bad)!r}; use any of {''.join(_FLAGS)}")
        return value


class RegexCheck(Check[RegexParams], ScanSource):
    kind = "regex"
    streaming = True
    lookbehind = 200

    def __init__(self, params: RegexParams) -> None:
        super().__init__(params)
        # A head/tail window or a text anchor (^, $, \A, \Z) judges the whole text, not a prefix.
        self.streaming = params.window == "all" and not _ANCHOR.search(_CHAR_CLASS.sub("", params.pattern))
        self.lookbehind = params.lookbehind
        if params.boundary is not None and not self.streaming:
            raise ValueError(
                "key 'params.boundary': only a rule that can judge a prefix (window: all, no ^, $, \\A or \\Z"
                " in the pattern) is streamed; drop the boundary"
            )
        self.boundary = params.boundary
        # A match depends only on the text within `lookbehind` characters of it, unless the rule looks at a
        # window of the text or at its ends (exactly when it cannot judge a prefix). With a boundary, the
        # lookbehind counts from the unit's start and no longer bounds a match's reach: re-check it whole.
        self.rechecks = "local" if self.streaming and self.boundary is None else "whole"
        flags = 0
        for f in params.flags:
            flags |= _FLAGS[f]
        try:
            self.compiled = regex.compile(params.pattern, flags)
        except regex.error as exc:
            raise ValueError(f"key 'params.pattern': invalid regular expression: {exc}") from exc
        self.anchor_keys: tuple[str, ...] = ()
        for anchor in params.anchors:
            key = fold(anchor)
            if not key:
                raise ValueError(f"key 'params.anchors': anchor {anchor!r} is empty after folding")
            self.anchor_keys += (key,)
        self._group: _AnchorGroup | None = None
        self._slot = 0
        if self.anchor_keys:
            self._group = _AnchorGroup([self])
        self._multi: _MultiScan | None = None
        self._mslot = 0
        self._evidence = Evidence(pattern=params.pattern)  # frozen: one shared by every hit

    @property
    def multiscanned(self) -> bool:
        """True when the policy's one Hyperscan pass decides whether this pattern runs at all."""
        return self._multi is not None and self._multi.patterns.scanned[self._mslot]

    def bind(self, siblings: Sequence[Check]) -> None:
        """Share one anchor pass with the other anchored regex checks of the policy, and that pass with the
        policy's ban lists (all of them look words up in the folded text)."""
        members: list[RegexCheck] = []
        for check in siblings:
            if isinstance(check, RegexCheck) and check.anchor_keys and all(check is not m for m in members):
                members.append(check)
        already = self._group is not None and self._group.members == tuple(members)
        if self in members and len(members) > 1 and not already:
            group = _AnchorGroup(members)
            for slot, member in enumerate(members):
                member._group, member._slot = group, slot
        self._bind_multiscan(siblings)
        share_among(siblings)

    def _bind_multiscan(self, siblings: Sequence[Check]) -> None:
        """One Hyperscan database over the patterns of every whole-text regex rule of the policy."""
        members: list[RegexCheck] = []
        for check in siblings:
            if isinstance(check, RegexCheck) and check.params.window == "all" and all(check is not m for m in members):
                members.append(check)
        if self not in members or (self._multi is not None and self._multi.members == tuple(members)):
            return
        multi = _MultiScan(members)
        for slot, member in enumerate(members):
            member._multi, member._mslot = multi, slot

    def scan_users(self) -> Sequence[ScanUser]:
        return () if self._group is None else (self._group,)

    def _windows(self, doc: Document, lo: int, hi: int) -> list[tuple[int, int]]:
        """Disjoint [start, end) ranges of the text around anchor occurrences, clipped to [lo, hi)."""
        if self._group is None:
            return [(lo, hi)]
        w = self.params.anchor_window
        windows: list[tuple[int, int]] = []
        for start, end in self._group.occurrences(doc)[self._slot]:
            a, b = max(lo, start - w), min(hi, end + w)
            if a >= b:
                continue
            if windows and a <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(windows[-1][1], b))
            else:
                windows.append((a, b))
        return windows

    def stream_steps(self, doc: Document, ctx: RunContext) -> Iterator[None]:
        """For the stream validator: build the views this rule shares with its siblings (the policy's prefilter
        scan, the folded text, the anchor pass) one per step, so no single call pays for all of them."""
        # A step only where something is built: the rules after the first find the views ready.
        if self._multi is not None and doc.cached(self._multi.view_key) is None:
            self._multi.scan(doc)
            yield
        if self._group is not None and doc.cached(self._group.view_key) is None:
            if doc.cached("folded") is None:
                doc.view("folded", lambda d: FoldedText.of(d.text))
                yield
            self._group.occurrences(doc)
            yield

    def run(self, doc: Document, ctx: RunContext) -> Iterable[Hit]:
        # Not a generator itself: a pattern the policy's prefilter rules out costs one set lookup, no frame.
        if self._multi is not None:
            scan = self._multi.scan(doc)
            if scan is not None:
                if self._mslot not in scan.found:
                    return ()
                if self._group is None and scan.exact(self._mslot):
                    return self._guided(doc.text, scan, ctx)
        return self._matches(doc, ctx)

    def _guided(self, text: str, scan: Scan, ctx: RunContext) -> Iterator[Hit]:
        """finditer's matches, each searched for from where Hyperscan's exact scan says the next one can start
        (see _multiscan): the walk between matches, and past the last one, is skipped."""
        slot, search, end, limit = self._mslot, self.compiled.search, len(text), self.params.max_matches
        pos = n = 0
        try:
            while (start := scan.start_bound(slot, pos)) is not None:
                m = search(text, start, end, timeout=ctx.deadline.remaining())
                if m is None:
                    return
                if m.end() == m.start():
                    # Hyperscan found the pattern cannot match empty, `regex` disagrees: finditer's own stepping
                    # from here on (it finds this match first again).
                    yield from self._found(self.compiled.finditer(text, pos, end, timeout=ctx.deadline.remaining()), n)
                    return
                if n >= limit:
                    return
                pos = m.end()
                hit = self._hit(m)
                if hit is not None:
                    n += 1
                    yield hit
        except TimeoutError as exc:
            raise DeadlineExceeded(f"pattern {self.params.pattern[:60]!r} timed out") from exc

    def _found(self, matches: Iterator[regex.Match[str]], n: int) -> Iterator[Hit]:
        for m in matches:
            if n >= self.params.max_matches:
                return
            hit = self._hit(m)
            if hit is not None:
                n += 1
                yield hit

    def _matches(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        text = doc.text
        lo, hi = 0, len(text)
        if self.params.window == "head":
            hi = min(hi, self.params.window_chars)
        elif self.params.window == "tail":
            lo = max(0, hi - self.params.window_chars)
        n = 0
        try:
            for w_lo, w_hi in self._windows(doc, lo, hi):
                for m in self.compiled.finditer(text, w_lo, w_hi, timeout=ctx.deadline.remaining()):
                    if n >= self.params.max_matches:
                        return
                    hit = self._hit(m)
                    if hit is not None:
                        n += 1
                        yield hit
        except TimeoutError as exc:
            raise DeadlineExceeded(f"pattern {self.params.pattern[:60]!r} timed out") from exc

    def _hit(self, m: regex.Match[str]) -> Hit | None:
        start, end = m.span(self.params.group)
        if start < 0:
            return None  # the flagged group did not take part in this match
        fix = None
        if self.params.replacement is not None:
            fix = Fix(
                title=f"replace with {self.params.replacement!r}",
                edits=[Edit(start=start, end=end, replacement=m.expand(self.params.replacement))],
                safe=self.params.fix_safe,
            )
        return Hit(
            start,
            end,
            evidence=self._evidence,
            fix=fix,
            values={k: v for k, v in m.groupdict().items() if v is not None},
        )


class _MultiScan:
    """The policy's whole-text regex checks behind one PatternSet; its answer is kept as a document view."""

    _ids = itertools.count()

    def __init__(self, members: Sequence[RegexCheck]) -> None:
        self.members = tuple(members)
        self.view_key = f"regex-multiscan:{next(self._ids)}"
        self.patterns = PatternSet([(m.params.pattern, m.compiled.flags) for m in members])

    def scan(self, doc: Document) -> Scan | None:
        """The policy's one scan of this document (None: not scanned, every pattern may match)."""
        found = doc.cached(self.view_key)
        if found is None:
            found = doc.view(self.view_key, self._scan)
        return found or None

    def _scan(self, doc: Document) -> Scan | bool:
        # False for "not scanned": a cached None would read as "not built yet".
        return self.patterns.scan(doc.text) or False


class _AnchorGroup(ScanUser):
    """One Aho-Corasick automaton over the anchors of several regex checks: a single pass over the document's
    folded text finds the whole-word anchor occurrences of every member, kept as a document view."""

    _ids = itertools.count()

    def __init__(self, members: Sequence[RegexCheck]) -> None:
        self.view_key = f"regex-anchors:{next(self._ids)}"
        slots: dict[str, list[int]] = {}
        for slot, member in enumerate(members):
            for key in member.anchor_keys:
                if slot not in slots.setdefault(key, []):
                    slots[key].append(slot)
        self._keys = {key: (len(key), tuple(key_slots)) for key, key_slots in slots.items()}
        self.automaton = ahocorasick.Automaton()
        for key, payload in self._keys.items():
            self.automaton.add_word(key, payload)
        self.automaton.make_automaton()
        self.members = tuple(members)
        self.size = len(members)

    def folded_keys(self) -> dict[str, tuple[int, tuple[int, ...]]]:
        return self._keys

    def occurrences(self, doc: Document) -> list[list[tuple[int, int]]]:
        """Per member, the original-text spans of its anchors, in the automaton's order (by end offset)."""
        return doc.view(self.view_key, self._scan)

    def _scan(self, doc: Document) -> list[list[tuple[int, int]]]:
        folded = doc.view("folded", lambda d: FoldedText.of(d.text))
        text = folded.text
        out: list[list[tuple[int, int]]] = [[] for _ in range(self.size)]
        shared = self.shared
        raw = shared[0].hits(doc, shared[1]) if shared is not None else self.automaton.iter(text)
        for end_idx, (length, slots) in raw:
            start = end_idx - length + 1
            if not at_word_boundaries(text, start, end_idx + 1):
                continue
            span = folded.span(start, end_idx + 1)
            for slot in slots:
                out[slot].append(span)
        return out


CHECK = RegexCheck
