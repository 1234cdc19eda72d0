# ruff: noqa: RUF001, RUF002, RUF003 -- look-alike characters are the subject of this module
"""Undo tricks that hide PII from patterns: zero-width characters, compatibility forms (fullwidth
'＠', small '﹫', ligatures) and Latin look-alikes from other scripts. Detection runs on the
normalised text; every span maps back to the original, so a repair removes the hidden characters too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Invisible characters that split a token without showing anything.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f")

# Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
        "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S",
        "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
        "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Normalized:
    """The text detection runs on, and for each of its characters the original offset."""

    text: str
    origin: tuple[int, ...] | None  # None: identical to the original
    original_length: int

    @property
    def changed(self) -> bool:
        return self.origin is not None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Original span covering normalised [start, end), hidden characters inside it included."""
        if self.origin is None:
            return start, end
        if start >= end:
            o = self.origin[start] if start < len(self.origin) else self.original_length
            return o, o
        return self.origin[start], self.origin[end - 1] + 1


_HOMOGLYPH_CHARS = "".join(chr(c) for c in _HOMOGLYPHS)
_INVISIBLE_CLASS = "".join(sorted(_INVISIBLE))
# Only a chunk that mixes look-alikes with ASCII letters, digits or '@' is folded: a Russian or Greek
# word stays as written, "jоhn@exаmple.com" with Cyrillic о and а does not.
_SUSPECT = re.compile(
    f"[{_INVISIBLE_CLASS}]|[A-Za-z0-9@][^\\s]*[{_HOMOGLYPH_CHARS}]|[{_HOMOGLYPH_CHARS}][^\\s]*[A-Za-z0-9@]"
)
_CHUNK = re.compile(r"\S+")
_MIXED = re.compile(r"[A-Za-z0-9@]")


def _fold_chunk(chunk: str, base: int, out: list[str], origin: list[int]) -> None:
    mixed = _MIXED.search(chunk) is not None
    for i, ch in enumerate(chunk):
        if ch.isascii():
            folded = ch
        elif ch in _INVISIBLE:
            continue
        else:
            folded = unicodedata.normalize("NFKC", ch)
            if mixed:
                folded = folded.translate(_HOMOGLYPHS)
        out.append(folded)
        origin.extend([base + i] * len(folded))


def normalize(text: str) -> Normalized:
    """Fold the text when it hides something; the common case (ASCII, or clean Unicode) costs one scan."""
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and not _SUSPECT.search(text)):
        return Normalized(text, None, len(text))
    out: list[str] = []
    origin: list[int] = []
    pos = 0
    for m in _CHUNK.finditer(text):
        for i in range(pos, m.start()):  # whitespace between chunks, NFKC-folded too
            folded = unicodedata.normalize("NFKC", text[i]) if not text[i].isascii() else text[i]
            out.append(folded)
            origin.extend([i] * len(folded))
        _fold_chunk(m.group(), m.start(), out, origin)
        pos = m.end()
    for i in range(pos, len(text)):
        out.append(text[i])
        origin.append(i)
    folded_text = "".join(out)
    if folded_text == text:
        return Normalized(text, None, len(text))
    return Normalized(folded_text, tuple(origin), len(text))
