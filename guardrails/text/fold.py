"""The `fold` profile, fast: case, accents, compatibility forms, typographic quotes and dashes, invisible
characters and whitespace runs, with a sparse map from folded offsets back to the original.

ASCII text (the common case) folds with one `str.lower` call and an identity offset map; other text costs
one dictionary lookup per non-ASCII character, never a Python loop over every character. The general
profiles (`guardrails.text.profiles`) start from this view and add the steps that cost more.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from dataclasses import dataclass

from guardrails.text.chars import INVISIBLE as _INVISIBLE
from guardrails.text.chars import PUNCT as _PUNCT
from guardrails.text.chars import char_class

_ASCII_WS = str.maketrans("\t\n\r\f\v", "     ")


def _spaces(s: str) -> str:
    """ASCII whitespace to spaces, length-preserving. str.replace runs in C; translate with a table does not."""
    if "\n" in s:
        s = s.replace("\n", " ")
    if "\t" in s:
        s = s.replace("\t", " ")
    if "\r" in s:
        s = s.replace("\r", " ")
    if "\f" in s or "\v" in s:
        s = s.replace("\f", " ").replace("\v", " ")
    return s


# What the fold changes in length: runs of whitespace (one space, so "bad  word" and "bad\n\nword" match
# "bad word") and non-ASCII characters; everything else folds one character to one. Two simple patterns
# scan several times faster than one alternation of both.
# Spacing accents and other characters that fold to a space ("\u00b8" is " \u0327"): they open or join a run.
# tests/text/test_chars.py checks the list is complete.
SPACERS = (
    "\u00a8\u00af\u00b4\u00b8\u02d8\u02d9\u02da\u02db\u02dc\u02dd\u0384\u0385\u1fbd\u1fbf\u1fc0\u1fc1\u1fcd"
    "\u1fce\u1fcf\u1fdd\u1fde\u1fdf\u1fed\u1fee\u1ffd\u1ffe\u2017\u203e\u309b\u309c\ufc5e\ufc5f\ufc60\ufc61"
    "\ufc62\ufc63\ufe49\ufe4a\ufe4b\ufe4c\ufe70\ufe72\ufe74\ufe76\ufe78\ufe7a\ufe7c\ufe7e\uffe3"
)
# Invisible characters and combining marks (which fold to nothing after a space) join the run. The astral
# invisible characters (tags, ...) sit in a class of their own: `re` tests a class's astral ranges one by one
# for every character, which made the whole scan ~100x slower on non-ASCII text.
_BMP_INVISIBLE = frozenset(c for c in _INVISIBLE if c <= "\uffff")
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_RUN_CHARS = f"\\s{SPACERS}{_COMBINING}" + char_class(_BMP_INVISIBLE)
_WS_RUN = re.compile(f"[\\s{SPACERS}](?:[{_RUN_CHARS}]|[{char_class(_INVISIBLE - _BMP_INVISIBLE)}])+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# _WS_RUN for ASCII text (no invisible characters), capturing so that split keeps the runs: scans twice as fast.
_ASCII_WS_SPLIT = re.compile(r"(\s\s+)")
# The same once all ASCII whitespace but \x1c-\x1f became spaces; "   *", not "  +", so that the literal prefix
# `re` searches for is two spaces, not one (words are one space apart): three to four times faster.
_SPACE_RUN_SPLIT = re.compile("(   *)")
_fold_cache: dict[str, str] = {}


def fold_char(ch: str) -> str:
    """The folded form of one character: '' for marks and invisible characters, may be longer than one."""
    cached = _fold_cache.get(ch)
    if cached is not None:
        return cached
    if ch in _INVISIBLE:
        out = ""
    elif ch in _PUNCT:
        out = _PUNCT[ch]
    elif ch.isspace():
        out = " "
    else:
        decomposed = unicodedata.normalize("NFKD", ch.casefold())
        if decomposed.casefold() != decomposed:  # "\u210c" (script H) decomposes to a capital: fold again
            decomposed = unicodedata.normalize("NFKD", decomposed.casefold())
        out = "".join(c for c in decomposed if not unicodedata.combining(c) and c not in _INVISIBLE)
        out = "".join(_PUNCT.get(c, c) for c in out).translate(_ASCII_WS)
    if len(_fold_cache) < 100_000:
        _fold_cache[ch] = out
    return out


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def at_word_boundaries(folded: str, start: int, end: int) -> bool:
    """True unless [start, end) begins or ends inside a longer word of `folded`."""
    # Two word characters side by side: a two-character slice that is all alphanumeric (one C call tests both),
    # or holds an underscore (rare) and passes the per-character test. Runs for every raw automaton hit.
    if start > 0:
        pair = folded[start - 1 : start + 1]
        if pair.isalnum() or ("_" in pair and is_word_char(pair[0]) and is_word_char(pair[1])):
            return False
    if end < len(folded):
        pair = folded[end - 1 : end + 1]
        if pair.isalnum() or ("_" in pair and is_word_char(pair[0]) and is_word_char(pair[1])):
            return False
    return True


def fold(text: str) -> str:
    """Fold a term or a text without keeping the offset map (for building dictionaries)."""
    return FoldedText.of(text).text


def _specials(original: str) -> list[tuple[int, int]]:
    """Sorted, disjoint [start, end) ranges that fold to a different length: whitespace runs, non-ASCII."""
    runs = [m.span() for m in _WS_RUN.finditer(original)]
    if original.isascii():
        return runs
    out: list[tuple[int, int]] = []
    k = 0
    for m in _NON_ASCII.finditer(original):
        i = m.start()
        while k < len(runs) and runs[k][1] <= i:
            out.append(runs[k])
            k += 1
        if k < len(runs) and runs[k][0] <= i:
            continue  # a non-ASCII space inside a whitespace run
        out.append((i, i + 1))
    out.extend(runs[k:])
    return out


@dataclass(frozen=True, slots=True)
class FoldedText:
    """Folded text plus a sparse map back to the original.

    The map is a list of segments: `norm_starts[k]` is where segment k starts in the folded text and
    `orig_starts[k]` where it starts in the original; `identity[k]` says whether the segment is an ASCII
    run (one original character per folded one) or a folded non-ASCII character or whitespace run.
    """

    original: str
    text: str
    norm_starts: tuple[int, ...] = ()
    orig_starts: tuple[int, ...] = ()
    identity: tuple[bool, ...] = ()

    @property
    def changed(self) -> bool:
        return self.text != self.original

    @classmethod
    def of(cls, original: str) -> FoldedText:
        if original.isascii():
            return cls._of_ascii(original)
        specials = _specials(original)
        if not specials:
            return cls(original, _spaces(original.lower()))
        pieces: list[str] = []
        norm_starts: list[int] = []
        orig_starts: list[int] = []
        identity: list[bool] = []
        pos = 0  # in original
        npos = 0  # in folded
        for i, end in specials:
            if i > pos:
                run = _spaces(original[pos:i].lower())
                norm_starts.append(npos)
                orig_starts.append(pos)
                identity.append(True)
                pieces.append(run)
                npos += len(run)
            folded = " " if end - i > 1 else fold_char(original[i])
            if folded:
                norm_starts.append(npos)
                orig_starts.append(i)
                identity.append(False)
                pieces.append(folded)
                npos += len(folded)
            pos = end
        if pos < len(original):
            norm_starts.append(npos)
            orig_starts.append(pos)
            identity.append(True)
            pieces.append(_spaces(original[pos:].lower()))
        return cls(original, "".join(pieces), tuple(norm_starts), tuple(orig_starts), tuple(identity))

    @classmethod
    def _of_ascii(cls, original: str) -> FoldedText:
        """ASCII text only changes length where a whitespace run folds to one space. That space maps to the
        run's first character through the identity segment before it, so the map needs one identity segment
        per run, starting just after the space."""
        lowered = original.lower()
        if "\x1c" in lowered or "\x1d" in lowered or "\x1e" in lowered or "\x1f" in lowered:
            # Separators: whitespace to `\s` (so they join runs) that _spaces keeps as they are.
            parts = _ASCII_WS_SPLIT.split(lowered)
        else:
            # Then the only whitespace left once \t\n\r\f\v are spaces is the space itself, and the runs are
            # runs of spaces at the same offsets: a pattern with a two-space literal prefix, which `re` finds by
            # substring search instead of testing \s at every character.
            parts = _SPACE_RUN_SPLIT.split(_spaces(lowered))
        if len(parts) == 1:
            return cls(original, _spaces(lowered))
        # parts alternate text and runs: [text, run, text, ..., run, text]. Segment k + 1 starts after run k,
        # in the original after the whole run, in the folded text after its one space. Running sums over the
        # part lengths (in C, no Python loop over the runs) give both.
        lengths = list(map(len, parts))
        orig_ends = list(itertools.accumulate(lengths))
        lengths[1::2] = itertools.repeat(1, len(parts) // 2)
        norm_ends = list(itertools.accumulate(lengths))
        text = _spaces(" ".join(parts[0::2]))
        norm_starts = (0, *norm_ends[1::2])
        return cls(original, text, norm_starts, (0, *orig_ends[1::2]), (True,) * len(norm_starts))

    def _to_original(self, p: int) -> int:
        """Original offset of the character at folded offset p (0 <= p < len(text))."""
        if not self.norm_starts:
            return p
        k = bisect.bisect_right(self.norm_starts, p) - 1
        if self.identity[k]:
            return self.orig_starts[k] + (p - self.norm_starts[k])
        return self.orig_starts[k]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded span [start, end) to the original, covering trailing marks and invisible characters."""
        if not self.norm_starts:
            return start, end
        if end <= start:
            o = self._to_original(start) if start < len(self.text) else len(self.original)
            return o, o
        o_start = self._to_original(start)
        o_end = self._to_original(end - 1) + 1
        n = len(self.original)
        # Characters the fold dropped (combining accents after a base letter) belong to the match.
        while o_end < n and not fold_char(self.original[o_end]) and not self.original[o_end].isascii():
            o_end += 1
        return o_start, o_end
