"""Cut text into the units a toxicity model scores: sentences, and windows of sentences too long for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import regex

# A sentence ends at terminal punctuation followed by space, or at a line break.
_BOUNDARY = regex.compile(r"[.!?\u2026\u3002\uff01\uff1f]+[\"')\]\u00bb\u201d\u2019]*(?=\s)|\n")
_HAS_TEXT = regex.compile(r"[\p{L}\p{N}]")


@dataclass(frozen=True, slots=True)
class Unit:
    start: int
    end: int
    window: bool = False
    """True when the unit is a window of a sentence longer than the model's input limit."""


def sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence, trimmed of surrounding whitespace; spans without letters or digits dropped."""
    out = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        out.append((start, m.end()))
        start = m.end()
    out.append((start, len(text)))
    spans = []
    for raw_start, raw_end in out:
        s, e = raw_start, raw_end
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s and _HAS_TEXT.search(text, s, e):
            spans.append((s, e))
    return spans


def windows(token_spans: list[tuple[int, int]], max_tokens: int, offset: int, end: int) -> list[tuple[int, int]]:
    """Overlapping windows of at most max_tokens tokens (half overlap) covering every token."""
    if len(token_spans) <= max_tokens:
        return [(offset, end)]
    step = max(1, max_tokens // 2)
    out = []
    i = 0
    while True:
        chunk = token_spans[i : i + max_tokens]
        out.append((offset + chunk[0][0], offset + chunk[-1][1]))
        if i + max_tokens >= len(token_spans):
            return out
        i += step


def units(
    text: str, token_spans: Callable[[str], list[tuple[int, int]]], max_tokens: int, check: Callable[[], None]
) -> list[Unit]:
    """Sentences of `text`; a sentence over max_tokens becomes overlapping windows, so nothing is truncated."""
    out = []
    for s, e in sentences(text):
        check()
        spans = token_spans(text[s:e])
        if len(spans) <= max_tokens:
            out.append(Unit(s, e))
        else:
            out.extend(Unit(ws, we, window=True) for ws, we in windows(spans, max_tokens, s, e))
    return out
