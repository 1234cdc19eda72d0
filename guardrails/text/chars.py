"""The character tables every normalised view shares: one invisible set, one look-alike table, one
table of typographic variants. A check that folds text uses these, never a copy (issue 20: four copies
had drifted apart, so an evasion one check caught another missed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from guardrails.text._confusables import LATIN_LOOKALIKES


def _ranges(*spans: tuple[int, int]) -> frozenset[str]:
    return frozenset(chr(c) for lo, hi in spans for c in range(lo, hi + 1))


INVISIBLE: frozenset[str] = _ranges(
    # Every format character (category Cf, Unicode 14; tests/text/test_chars.py checks the set is complete):
    # soft hyphen, zero-width space/joiners, direction marks and isolates, word joiner, BOM, tag characters...
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
    # ...and characters of other categories that render as nothing: the combining grapheme joiner, Hangul
    # fillers, Khmer inherent vowels, Mongolian variation selectors, variation selectors.
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180D),
    (0x180F, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)
"""Characters that carry no letters: a view drops them, so "b\\u200bad" reads "bad"."""

PUNCT: dict[str, str] = {
    # Typographic variants models emit that NFKD leaves alone.
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u02bc": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u00a0": " ",
    "\u2007": " ",
    "\u202f": " ",
    "\u3000": " ",
    "\u2028": " ",
    "\u2029": " ",
    "\u0131": "i",
}

LOOKALIKES: dict[int, str] = LATIN_LOOKALIKES
"""Code point -> the ASCII letter or digit it is confusable with (Unicode's confusables; a str.translate table)."""

LOOKALIKE_CHARS: frozenset[str] = frozenset(map(chr, LATIN_LOOKALIKES))


def char_class(chars: frozenset[str] | str) -> str:
    """The inside of a regex character class holding `chars`, as ranges: `re` tests characters outside the
    Basic Multilingual Plane against each literal of a class in turn, so hundreds of astral look-alikes listed
    one by one cost ~40 us per search of a short text; as ranges they cost almost nothing."""
    points = sorted({ord(c) for c in chars})
    parts: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        lo, hi = re.escape(chr(points[i])), re.escape(chr(points[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(parts)


class CharSet:
    """Finds the characters of a set in a text fast. `re` tests a character against a class's astral (beyond
    U+FFFF) ranges one by one, so the ~200 ranges of astral look-alikes cost ~500 us per KB searched; here the
    class holds the Basic Multilingual Plane part and a single astral range, and astral hits are checked
    against the set."""

    def __init__(self, chars: frozenset[str]) -> None:
        self.chars = chars
        self.bmp = frozenset(c for c in chars if c <= "\uffff")
        self.astral = chars - self.bmp
        extra = "\U00010000-\U0010ffff" if self.astral else ""
        self._candidates = re.compile(f"[{char_class(self.bmp)}{extra}]")

    def positions(self, text: str, start: int = 0) -> Iterator[int]:
        for m in self._candidates.finditer(text, start):
            i = m.start()
            if text[i] <= "\uffff" or text[i] in self.astral:
                yield i

    def search(self, text: str) -> bool:
        return next(self.positions(text), None) is not None


LEET: dict[int, str] = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
"""Leetspeak digits and symbols -> the letters they stand for inside words ("sh1t", "@ss", "b!tch" is not here:
"!" ends sentences too often)."""
