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
# A plain character-class search, so clean non-ASCII text (curly quotes, accents) skips _SUSPECT's backtracking.
_SUSPECT_CHAR = re.compile(f"[{_INVISIBLE_CLASS}{_HOMOGLYPH_CHARS}]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_MIXED = re.compile(r"[A-Za-z0-9@]")
_CHUNK_REST = re.compile(r"\S*")


def suspect(text: str) -> bool:
    """What `_SUSPECT.search(text)` answers, in linear time: searching _SUSPECT itself retries its `\\S*` from every
    letter of a long chunk, quadratic (20 KB of letters and one zero-width space took 4.5 s). Each chunk around a
    suspect character is looked at once."""
    checked_to = 0
    for m in _SUSPECT_CHAR.finditer(text):
        i = m.start()
        if text[i] in _INVISIBLE:
            return True
        if i < checked_to:
            continue  # a homoglyph in a chunk already found clean
        left = i
        while left > checked_to and not text[left - 1].isspace():  # re's \s for str patterns is str.isspace()
            left -= 1
        right = _CHUNK_REST.match(text, i).end()  # type: ignore[union-attr]
        if _MIXED.search(text, left, right) is not None:
            return True
        checked_to = right
    return False


def _fold_segment(segment: str, mixed: bool) -> list[str]:
    """Folded form of each character of a non-ASCII segment ("" for invisible ones)."""
    out = []
    for ch in segment:
        if ch in _INVISIBLE:
            out.append("")
            continue
        folded = unicodedata.normalize("NFKC", ch)
        out.append(folded.translate(_HOMOGLYPHS) if mixed else folded)
    return out


def normalize(text: str) -> Normalized:
    """Fold the text when it hides something; the common case (ASCII, or clean Unicode) costs one scan.

    Only non-ASCII segments are visited; homoglyphs are folded only inside a chunk that also holds
    ASCII letters, digits or '@' (a Russian word stays Russian, "jоhn@exаmple.com" does not).
    """
    if text.isascii() or (
        unicodedata.is_normalized("NFKC", text) and (not _SUSPECT_CHAR.search(text) or not suspect(text))
    ):
        return Normalized(text, None, len(text))
    reversed_text: str | None = None
    parts: list[str] = []
    origin: list[int] = []
    pos = 0
    n = len(text)
    for m in _NON_ASCII.finditer(text):
        start, end = m.span()
        parts.append(text[pos:start])
        origin.extend(range(pos, start))
        if reversed_text is None:
            reversed_text = text[::-1]
        left = n - _CHUNK_REST.match(reversed_text, n - start).end()  # type: ignore[union-attr]
        right = _CHUNK_REST.match(text, end).end()  # type: ignore[union-attr]
        mixed = _MIXED.search(text, left, start) is not None or _MIXED.search(text, end, right) is not None
        for i, folded in enumerate(_fold_segment(m.group(), mixed), start):
            parts.append(folded)
            origin.extend([i] * len(folded))
        pos = end
    parts.append(text[pos:])
    origin.extend(range(pos, n))
    folded_text = "".join(parts)
    if folded_text == text:
        return Normalized(text, None, n)
    return Normalized(folded_text, tuple(origin), n)
