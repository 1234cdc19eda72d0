# ruff: noqa: RUF001 -- fullwidth plus and brackets are phone number leads
"""Candidate windows: the few stretches of an output where a recognizer group can match at all.

A window is a run of whitespace-delimited chunks that contain the group's trigger, widened by a
margin of chunks on each side (matches may span a digit-free chunk such as "ext." or an IBAN's
letter group) and merged when they touch. Windows start and end on whitespace, so word-boundary and
look-around assertions see the same neighbours as in the full text. All windows of a group are
joined into one compact text with a separator no pattern can match across, so each recognizer runs
once per document, over a small fraction of it.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata

_CHUNK = re.compile(r"\S+")
# Newline, paragraph separator and ';' stop every presidio pattern and phonenumbers' candidates
# (none of them allows a newline inside a match), and read as whitespace to look-arounds.
SEPARATOR = "\n\u2029;\n"
MARGIN = 2


@dataclass(frozen=True, slots=True)
class Window:
    start: int
    end: int


@dataclass(frozen=True)
class Compact:
    """Windows of a text joined by SEPARATOR, with the map back to the text's offsets."""

    text: str
    starts: tuple[int, ...]  # offset of each window in `text`
    windows: tuple[Window, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int] | None:
        """Map a span of the compact text back to the original; None if it straddles a separator."""
        i = bisect.bisect_right(self.starts, start) - 1
        if i < 0:
            return None
        w = self.windows[i]
        base = self.starts[i]
        if end - base > w.end - w.start:
            return None
        return w.start + start - base, w.start + end - base


def chunk_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _CHUNK.finditer(text)]


class Chunks:
    """Whitespace-delimited chunks of a text, for widening spans to chunk boundaries."""

    def __init__(self, text: str) -> None:
        self.spans = chunk_spans(text)
        self.starts = [s for s, _ in self.spans]

    def index_at(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self.starts, offset) - 1)

    def widen(self, start: int, end: int, left: int, right: int) -> Window:
        if not self.spans:
            return Window(start, end)
        i = self.index_at(start)
        j = self.index_at(max(start, end - 1))
        lo = self.spans[max(0, i - left)][0]
        hi = self.spans[min(len(self.spans) - 1, j + right)][1]
        return Window(min(lo, start), max(hi, end))


def merge(windows: Iterable[Window]) -> list[Window]:
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: w.start):
        if out and w.start <= out[-1].end:
            if w.end > out[-1].end:
                out[-1] = Window(out[-1].start, w.end)
        else:
            out.append(w)
    return out


def trigger_windows(text: str, chunks: Chunks, pattern: re.Pattern[str], margin: int = MARGIN) -> list[Window]:
    """Windows around every chunk that contains `pattern`."""
    found: list[Window] = []
    for i, (s, e) in enumerate(chunks.spans):
        if pattern.search(text, s, e):
            lo = chunks.spans[max(0, i - margin)][0]
            hi = chunks.spans[min(len(chunks.spans) - 1, i + margin)][1]
            found.append(Window(lo, hi))
    return merge(found)


def compact(text: str, windows: Sequence[Window]) -> Compact:
    parts: list[str] = []
    starts: list[int] = []
    pos = 0
    for w in windows:
        starts.append(pos)
        parts.append(text[w.start : w.end])
        pos += (w.end - w.start) + len(SEPARATOR)
    return Compact(SEPARATOR.join(parts), tuple(starts), tuple(windows))


# -- phone numbers ------------------------------------------------------------------------------

_PUNCT = re.escape(phonenumbers.phonenumberutil._VALID_PUNCTUATION)
# A digit run as phonenumbers' matcher sees it: digits joined by its own valid punctuation (space,
# dot, dash, slash, brackets, NBSP, zero-width...), after optional leading '+' or brackets.
PHONE_RUN = re.compile(r"[+＋(\[（［]*\d(?:[" + _PUNCT + r"\t]*\d)*")
_PLUS = re.compile(r"[+＋]")
# An international dialling prefix (00 in most of the world, 011 in North America) opening a digit group.
_IDD = re.compile(r"(?<!\d)0(?:0|11)")


@functools.cache
def min_national_length(region: str) -> int:
    """Fewest national digits a *valid* number of `region` has (local-only lengths are not valid)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return 1
    return min(meta.general_desc.possible_length or (1,))


def phone_regions_for_run(run: str, regions: Sequence[str]) -> list[str]:
    """Regions whose matcher could report a number inside this run.

    A national number of region R parses to at least `min_national_length(R)` digits, and needs no
    more digits than the run has; a number written internationally ('+', or an IDD such as 00 or
    011) is validated against its own country whatever the preferred region, so every region runs.
    """
    digits = sum(c.isdigit() for c in run)
    if _PLUS.search(run) or _IDD.search(run):
        return list(regions)
    return [r for r in regions if digits >= min_national_length(r)]
