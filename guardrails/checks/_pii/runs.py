"""Trigger windows: runs of consecutive whitespace-delimited chunks that contain a trigger (a digit,
an '@'...), optionally widened by a margin of whole chunks.

One regex scan per trigger finds each run whole: it starts at the trigger itself (so the regex engine's
fast first-character search does the skipping), runs to the end of its chunk and on through following
chunks that hold a trigger too. Only the start of the run's first chunk is found in Python, by one
match on the reversed text. Python sees one match per window, and every
chunk is read a bounded number of times, so the scan stays linear even on one huge chunk.
"""

from __future__ import annotations

import functools
import re

from guardrails.checks._pii.windows import Margins, Window


@functools.cache
def run_pattern(trigger: str) -> re.Pattern[str]:
    return re.compile(rf"(?:{trigger})\S*(?:\s+\S*?(?:{trigger})\S*)*")


def run_windows(text: str, trigger: str) -> list[Window]:
    """Windows over the runs of chunks that contain `trigger`; each starts at its first chunk's start."""
    out: list[Window] = []
    margins: Margins | None = None
    for m in run_pattern(trigger).finditer(text):
        start, end = m.span()
        if start and not text[start - 1].isspace():
            margins = margins or Margins(text)
            start = margins.left(start, 0)
        if out and start <= out[-1].end:  # a run's chunk began inside the previous run's last chunk
            out[-1] = Window(out[-1].start, max(end, out[-1].end))
        else:
            out.append(Window(start, end))
    return out


# presidio's IBAN pattern, with its flags, opens with two letters and two digits (not preceded by a letter or
# digit: not checked here, a wider net), then takes at most eight more groups, each after at most one space:
# nine chunks in all. Python's case-insensitive [A-Z] accepts every letter regex's does (and 'İ').
_IBAN_START = re.compile(r"[A-Z]{2}[0-9]{2}", re.IGNORECASE)
_IBAN_REACH = re.compile(r"\S*(?:\s+\S+){0,8}")


def iban_windows(text: str, digit_windows: list[Window]) -> list[Window]:
    """Windows where presidio's IBAN pattern can match. An IBAN's first chunk holds digits, so only digit
    windows are searched for a start; a window that has one reaches eight chunks further. Windows that
    touch are joined."""
    out: list[Window] = []
    for w in digit_windows:
        if not _IBAN_START.search(text, w.start, w.end):
            continue
        end = _IBAN_REACH.match(text, w.end).end()  # type: ignore[union-attr]
        if out and (w.start <= out[-1].end or text[out[-1].end : w.start].isspace()):
            out[-1] = Window(out[-1].start, max(end, out[-1].end))
        else:
            out.append(Window(w.start, end))
    return out
