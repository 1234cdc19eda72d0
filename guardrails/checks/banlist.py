"""`banlist`: flag terms from a list, whole-word, ignoring case, accents and zero-width characters, and (the
`evasion` profile, the default) look-alike letters, letter-by-letter spacing and leetspeak.

One Aho-Corasick automaton (pyahocorasick) holds every term, so thousands of terms cost one pass over
the text. Text is read through the text layer (`guardrails.text`): the `fold` view, shared with the
policy's other ban lists and regex anchors, and, only where it differs, the `evasion` view. Both map back
to the original, so spans point into the output as written. Terms come inline (`terms`) or from a UTF-8
file, one per line, `#` comments (`file`, relative to the rule file's directory).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ahocorasick
from pydantic import Field, model_validator

from guardrails.checks._foldscan import ScanSource, ScanUser, share_among
from guardrails.checks.base import Check, CheckParams, Hit, RunContext, read_rule_file, resolve_rule_path
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix
from guardrails.text import EVASION, FOLD, TextView, at_word_boundaries, fold, fold_char, view

MAX_TERM_FILE_BYTES = 20_000_000


class BanlistParams(CheckParams):
    terms: list[str] = Field(default_factory=list, description="Terms inline")
    file: str | None = Field(default=None, description="UTF-8 file, one term a line, # comments; relative to the rule")
    whole_word: bool = Field(default=True, description="Only match terms not inside a longer word (off for CJK lists)")
    normalize: Literal["fold", "evasion"] = Field(
        default="evasion",
        description="Text layer profile: `fold` (case, accents, compatibility forms, invisible characters) or"
        " `evasion` (also look-alike letters, letter-by-letter spacing and leetspeak)",
    )
    mask: str | None = Field(default=None, max_length=1, description="Repair: replace each letter with this character")
    replacement: str | None = Field(default=None, description="Repair: replace each match with this text")
    fix_safe: bool = Field(
        default=True, description="Mark the mask or replacement fix safe (applied without allow_unsafe)"
    )
    max_matches: int = Field(default=100, ge=1, description="Stop after this many hits in one output")

    @model_validator(mode="after")
    def _some_terms(self) -> BanlistParams:
        if not self.terms and not self.file:
            raise ValueError("give `terms` or `file`")
        if self.mask is not None and self.replacement is not None:
            raise ValueError("give `mask` or `replacement`, not both")
        return self


@dataclass(frozen=True, slots=True)
class _Term:
    original: str
    length: int  # folded length


def _read_terms(path: Path) -> list[str]:
    try:
        raw = read_rule_file(path, "params.file", MAX_TERM_FILE_BYTES).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"key 'params.file': {path} is not UTF-8 (byte {exc.start})") from exc
    # A line starting with # is a comment; terms themselves may contain #.
    return [line.strip() for line in raw.splitlines() if line.strip() and not line.lstrip().startswith("#")]


class BanlistCheck(Check[BanlistParams], ScanUser, ScanSource):
    """Streaming: a hit can only grow or vanish while its word is still being written, so the stream
    validator must hold back the longest term plus one character."""

    kind = "banlist"
    streaming = True
    lookbehind = 0  # set per instance from the longest term

    def __init__(self, params: BanlistParams) -> None:
        super().__init__(params)
        terms = list(params.terms)
        if params.file:
            terms.extend(_read_terms(resolve_rule_path(params.file)))
        self._keys: dict[str, _Term] = {}
        longest = 0
        for term in terms:
            key = fold(term).strip()  # whitespace runs fold to one space, as in the text
            if not key:
                continue
            longest = max(longest, len(term))
            if key not in self._keys:
                self._keys[key] = _Term(term, len(key))
        if not self._keys:
            raise ValueError("key 'params.terms': no usable term (all empty after folding)")
        self.automaton = ahocorasick.Automaton()
        for key, entry in self._keys.items():
            self.automaton.add_word(key, entry)
        self.automaton.make_automaton()
        self.term_count = len(self.automaton)
        # A term spelled out letter by letter is twice as long in the output.
        self.lookbehind = (2 * longest if params.normalize == "evasion" else longest) + 1

    def folded_keys(self) -> Mapping[str, _Term]:
        return self._keys

    def scan_users(self) -> Sequence[ScanUser]:
        return (self,)

    def bind(self, siblings: Sequence[Check]) -> None:
        """Share one pass over the folded text with the policy's other ban lists and regex anchors."""
        share_among(siblings)

    def _matches(self, folded: str, raw: Iterable[tuple[int, _Term]]) -> list[tuple[int, int, _Term]]:
        """Leftmost-longest, non-overlapping, whole-word matches in the folded text, of the automaton's `raw` hits."""
        whole = self.params.whole_word
        found: list[tuple[int, int, _Term]] = []
        for end_idx, term in raw:
            start, end = end_idx - term.length + 1, end_idx + 1
            if whole and not at_word_boundaries(folded, start, end):
                continue
            found.append((start, end, term))
        if len(found) < 2:
            return found
        found.sort(key=lambda m: (m[0], -m[1]))
        chosen: list[tuple[int, int, _Term]] = []
        last_end = -1
        for m in found:
            if m[0] >= last_end:
                chosen.append(m)
                last_end = m[1]
        return chosen

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        folded = view(doc, FOLD)
        shared = self.shared
        raw = shared[0].hits(doc, shared[1]) if shared is not None else self.automaton.iter(folded.text)
        found = self._spans(folded, raw)
        if self.params.normalize == "evasion":
            evasive = view(doc, EVASION)
            if evasive is not folded:  # the same object when no look-alike, spacing or leet is in the text
                found = _merge(found, self._spans(evasive, self.automaton.iter(evasive.text)))
        for n, (start, end, term) in enumerate(found):
            if n >= self.params.max_matches:
                break
            if n % 64 == 63:
                ctx.deadline.check()
            yield Hit(
                start,
                end,
                values={"term": term.original},
                evidence=Evidence(pattern=term.original, details={"terms": self.term_count}),
                fix=self._fix(doc.text, start, end),
            )

    def _spans(self, v: TextView, raw: Iterable[tuple[int, _Term]]) -> list[tuple[int, int, _Term]]:
        """The matches in view `v`, as spans of the original."""
        return [(*v.span(fs, fe), term) for fs, fe, term in self._matches(v.text, raw)]

    def _fix(self, text: str, start: int, end: int) -> Fix | None:
        if self.params.mask is not None:
            # Letters become the mask; accents and invisible characters inside the term go with them.
            masked = "".join(
                self.params.mask if c.isalnum() else c for c in text[start:end] if fold_char(c) or c.isascii()
            )
            return Fix(
                title="mask banned term",
                edits=[Edit(start=start, end=end, replacement=masked)],
                safe=self.params.fix_safe,
            )
        if self.params.replacement is not None:
            return Fix(
                title=f"replace with {self.params.replacement!r}",
                edits=[Edit(start=start, end=end, replacement=self.params.replacement)],
                safe=self.params.fix_safe,
            )
        return None


def _merge(first: list[tuple[int, int, _Term]], more: list[tuple[int, int, _Term]]) -> list[tuple[int, int, _Term]]:
    """`first` plus the matches of `more` that overlap none of them, in order of the original."""
    if not more:
        return first
    taken = [(s, e) for s, e, _ in first]
    extra = [m for m in more if not any(m[0] < e and s < m[1] for s, e in taken)]
    return sorted(first + extra, key=lambda m: (m[0], -m[1]))


CHECK = BanlistCheck
