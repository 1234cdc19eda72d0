"""Normalised views of a text and their offset maps.

A view is `text` (what checks match on) plus `span(start, end)`: the smallest span of the original that
covers view characters [start, end), including characters the view dropped inside it. Views compose: a
step that rewrites a view's text yields a `MappedText` over that text, and `Composed` maps through both.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Protocol


class TextView(Protocol):
    @property
    def original(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def changed(self) -> bool:
        """False when `text` is the original itself (offsets are identical)."""
        ...

    def span(self, start: int, end: int) -> tuple[int, int]: ...


@dataclass(frozen=True, slots=True)
class MappedText:
    """`text` with a dense map: `source[i]` is the original offset of view character i, and
    `source[len(text)]` is len(original). None when offsets are identical (the step changed characters one for
    one, or nothing)."""

    original: str
    text: str
    source: tuple[int, ...] | None = None

    @classmethod
    def identity(cls, text: str) -> MappedText:
        return cls(text, text, None)

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def span(self, start: int, end: int) -> tuple[int, int]:
        src = self.source
        if src is None:
            return start, end
        if end <= start:
            return src[start], src[start]
        o_start, o_end = src[start], src[end - 1] + 1
        # Combining accents the view dropped after the last character belong to it ("cafe\u0301"): a mask
        # or a redaction must take them along.
        limit = src[end]
        while o_end < limit and unicodedata.combining(self.original[o_end]):
            o_end += 1
        return o_start, o_end


@dataclass(frozen=True, slots=True)
class Composed:
    """`outer` rewrites `inner.text`; spans map through outer, then inner, to inner's original."""

    inner: TextView
    outer: MappedText

    @property
    def original(self) -> str:
        return self.inner.original

    @property
    def text(self) -> str:
        return self.outer.text

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def span(self, start: int, end: int) -> tuple[int, int]:
        s, e = self.outer.span(start, end)
        return self.inner.span(s, e)


def compose(inner: TextView, outer: MappedText) -> TextView:
    """`outer` over `inner`, skipping a step that changed nothing."""
    if not outer.changed:
        return inner
    return Composed(inner, outer)


def build(original: str, pieces: list[tuple[int, str]]) -> MappedText:
    """A MappedText from (original offset, replacement) per original character, in order; a replacement may
    be empty (the character is dropped) or longer than one character (all map to it)."""
    chars: list[str] = []
    source: list[int] = []
    for i, out in pieces:
        chars.append(out)
        source.extend([i] * len(out))
    text = "".join(chars)
    if text == original and len(source) == len(original):
        return MappedText.identity(original)
    source.append(len(original))
    return MappedText(original, text, tuple(source))


def sources(view: TextView) -> list[int]:
    """The original offset of each view character, plus len(original) at the end (a dense map)."""
    if isinstance(view, MappedText):
        return list(view.source) if view.source is not None else list(range(len(view.text) + 1))
    n = len(view.text)
    out = [view.span(i, i + 1)[0] for i in range(n)]
    out.append(len(view.original))
    return out
