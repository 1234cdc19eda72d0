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

import regex

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


# presidio's IBAN pattern, with its flags, opens with two letters and two digits not preceded by a letter or
# digit, then takes at most eight more groups, each after at most one space: nine chunks in all.
_IBAN_START = regex.compile(r"(?<![A-Z0-9])[A-Z]{2}[0-9]{2}", regex.IGNORECASE | regex.MULTILINE | regex.DOTALL)
_IBAN_REACH = re.compile(r"\S*(?:\s+\S+){0,8}")


def iban_windows(text: str) -> list[Window]:
    """Windows where presidio's IBAN pattern can match: from the chunk of each possible IBAN start through
    the eight chunks after it; windows that touch are joined."""
    out: list[Window] = []
    margins: Margins | None = None
    for m in _IBAN_START.finditer(text):
        start = m.start()
        if start and not text[start - 1].isspace():
            margins = margins or Margins(text)
            start = margins.left(start, 0)
        end = _IBAN_REACH.match(text, m.end()).end()  # type: ignore[union-attr]
        if out and (start <= out[-1].end or text[out[-1].end : start].isspace()):
            out[-1] = Window(out[-1].start, max(end, out[-1].end))
        else:
            out.append(Window(start, end))
    return out
