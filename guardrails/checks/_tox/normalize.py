"""Undo the tricks that hide a word from a classifier, keeping a map back to the original offsets.

Zero-width and other format characters are dropped, compatibility forms (fullwidth, ligatures, math
alphabets) are folded by NFKC, accents are stripped, and letters from other scripts that look like
Latin ones (Cyrillic a U+0430, Greek o U+03BF, per Unicode's confusables data) are folded to Latin inside words
that mix scripts, or that sit in Latin text and consist only of look-alikes. Other words in other
scripts are left alone, so Russian stays Russian.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import regex

_WORD = regex.compile(r"[\p{L}\p{M}\p{N}\p{Cf}]+")
_KEEP_CONTROL = {"\n", "\t", "\r"}


@dataclass(frozen=True, slots=True)
class Normalized:
    text: str
    source: list[int]
    """source[i] = offset in the original text of normalised character i; source[len(text)] = len(original)."""
    changed: bool

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) covering normalised [start, end)."""
        if end <= start:
            s = self.source[start]
            return s, s
        return self.source[start], self.source[end - 1] + 1


@lru_cache(maxsize=1)
def _latin_lookalikes() -> dict[str, str]:
    """Non-ASCII character -> ASCII letter or digit it is confusable with (Unicode confusables data)."""
    try:
        data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - a dependency of the toxicity extra
        return {}
    out: dict[str, str] = {}
    for char, entries in data.items():
        if len(char) != 1 or char.isascii():
            continue
        for entry in entries:
            c = entry.get("c", "")
            if len(c) == 1 and c.isascii() and c.isalnum():
                out[char] = c
                break
    return out


def _script_is_latin(ch: str) -> bool:
    return ch.isascii() or "LATIN" in unicodedata.name(ch, "")


def _fold_char(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat == "Cf" or (cat == "Cc" and ch not in _KEEP_CONTROL):
        return ""
    if ch.isascii():
        return ch
    out = []
    for c in unicodedata.normalize("NFKD", ch):
        if unicodedata.category(c) == "Mn":
            continue  # accents: "fück" scores as "fuck"
        out.append(c)
    return unicodedata.normalize("NFC", "".join(out))


def normalize(text: str, *, fold_homoglyphs: bool = True) -> Normalized:
    letters = [c for c in text if c.isalpha()]
    mostly_latin = sum(_script_is_latin(c) for c in letters) * 2 >= len(letters)
    lookalikes = _latin_lookalikes() if fold_homoglyphs else {}
    fold_word = [False] * len(text)
    if lookalikes:
        for m in _WORD.finditer(text):
            word = m.group()
            word_letters = [c for c in word if c.isalpha()]
            has_latin = any(_script_is_latin(c) for c in word_letters)
            has_other = any(not _script_is_latin(c) for c in word_letters)
            # A word mixing scripts is folded; a word wholly in another script only when it sits in
            # Latin text and every letter has a Latin look-alike (so a Russian word stays Russian).
            spoof = mostly_latin and all(_script_is_latin(c) or c in lookalikes for c in word_letters)
            if has_other and (has_latin or spoof):
                for i in range(m.start(), m.end()):
                    fold_word[i] = True
    chars: list[str] = []
    source: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        if fold_word[i]:
            folded = "".join(lookalikes.get(c, c) for c in folded)
        for c in folded:
            chars.append(c)
            source.append(i)
    source.append(len(text))
    out = "".join(chars)
    return Normalized(out, source, out != text)
