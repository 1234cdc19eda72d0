"""Candidate windows: the few stretches of an output where a recognizer group can match at all.

A window is a run of consecutive whitespace-delimited chunks that contain the group's trigger (a
digit, an '@'...; found in `runs`), widened by a margin of chunks where a match may span a trigger-free
chunk (an IBAN's letter group). Windows start and end on whitespace, so word-boundary and look-around
assertions see the same neighbours as in the full text. All windows of a group are joined into one
compact text with a separator no pattern can match across, so each recognizer runs once per
document, over a small fraction of it. Phone numbers get phonenumbers' own candidates as windows,
pruned per region (`phones`): a region runs only where some string its matcher would parse there can
be a valid number as that region reads it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from guardrails.checks._pii import phones

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


_MARGINS = {k: re.compile(r"\S*(?:\s+\S+){0," + str(k) + "}") for k in range(MARGIN + 1)}


class Margins:
    """Chunk-aligned widening of spans, scanning forward in the text and backward in its reverse."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._reversed: str | None = None

    @property
    def reversed(self) -> str:
        if self._reversed is None:
            self._reversed = self.text[::-1]
        return self._reversed

    def right(self, end: int, chunks: int) -> int:
        """End of the chunk containing `end`, then `chunks` more chunks."""
        m = _MARGINS[chunks].match(self.text, end)
        return m.end() if m else end

    def left(self, start: int, chunks: int) -> int:
        """Start of the chunk containing `start`, then `chunks` more chunks back."""
        n = len(self.text)
        m = _MARGINS[chunks].match(self.reversed, n - start)
        return n - m.end() if m else start


def merge(windows: Iterable[Window]) -> list[Window]:
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: w.start):
        if out and w.start <= out[-1].end:
            if w.end > out[-1].end:
                out[-1] = Window(out[-1].start, w.end)
        else:
            out.append(w)
    return out


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
# Which regions' phonenumbers matcher must see which candidate run: see `phones` (exact pruning).

PHONE_CANDIDATE = phones.PHONE_CANDIDATE
PhoneRun = phones.PhoneRun
phone_runs = phones.phone_runs
regions_to_try = phones.regions_to_try
distinct_dialling_regions = phones.distinct_dialling_regions
fewest_phone_digits = phones.fewest_phone_digits
may_be_national = phones.may_be_national
