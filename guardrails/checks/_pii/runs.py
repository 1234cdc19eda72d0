"""Trigger windows: runs of consecutive whitespace-delimited chunks that contain a trigger (a digit,
an '@'...), optionally widened by a margin of whole chunks.

One regex scan per trigger finds each run whole: it starts at the trigger itself (so the regex engine's
fast first-character search does the skipping), runs to the end of its chunk and on through following
chunks that hold a trigger too. Only the start of the run's first chunk is found in Python, by one
`rfind` on a copy of the text whose whitespace is all ' '. Python sees one match per window, and every
chunk is read a bounded number of times, so the scan stays linear even on one huge chunk.
"""

from __future__ import annotations

import functools
import re

from guardrails.checks._pii.windows import Margins, Window

# What `\s` matches in a str pattern is what str.isspace() accepts (all of it below U+3001): map it to ' '.
_SPACES = str.maketrans({c: " " for c in map(chr, range(0x3001)) if c.isspace()})


@functools.cache
def run_pattern(trigger: str) -> re.Pattern[str]:
    return re.compile(rf"(?:{trigger})\S*(?:\s+\S*?(?:{trigger})\S*)*")


def run_windows(text: str, trigger: str) -> list[Window]:
    """Windows over the runs of chunks that contain `trigger`; each starts at its first chunk's start."""
    out: list[Window] = []
    spaced: str | None = None
    for m in run_pattern(trigger).finditer(text):
        start, end = m.span()
        if start and not text[start - 1].isspace():
            if spaced is None:
                spaced = text.translate(_SPACES)
            start = spaced.rfind(" ", 0, start) + 1
        if out and start <= out[-1].end:  # a run's chunk began inside the previous run's last chunk
            out[-1] = Window(out[-1].start, max(end, out[-1].end))
        else:
            out.append(Window(start, end))
    return out


def widen(text: str, windows: list[Window], margin: int) -> list[Window]:
    """Each window widened by `margin` whole chunks each side; windows that then touch (only whitespace
    between them) are joined, so no match is ever cut between two of them."""
    if not windows or not margin:
        return windows
    margins = Margins(text)
    out: list[Window] = []
    for w in windows:
        wide = margins.widen(w.start, w.end, margin, margin)
        if out and (wide.start <= out[-1].end or text[out[-1].end : wide.start].isspace()):
            out[-1] = Window(out[-1].start, max(wide.end, out[-1].end))
        else:
            out.append(wide)
    return out
