"""Undo the tricks that hide a word from a classifier, keeping a map back to the original offsets.

Zero-width and other format characters are dropped, compatibility forms (fullwidth, ligatures, math
alphabets) are folded by NFKC, accents are stripped, and letters from other scripts that look like
Latin ones (Cyrillic a U+0430, Greek o U+03BF, per Unicode's confusables data) are folded to Latin inside words
that mix scripts, or that sit in Latin text and consist only of look-alikes. Other words in other
scripts are left alone, so Russian stays Russian. Optionally (`fold_spelling`) leetspeak digits inside
words are read as letters and words spelled out letter by letter are joined.
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


def normalize(text: str, *, fold_homoglyphs: bool = True, fold_spelling: bool = True) -> Normalized:
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
    if fold_spelling:
        out, source = _unspell(out, source)
    return Normalized(out, source, out != text)


# Spelling tricks: leetspeak inside words that also have letters ("b1tch", "1d10t"), and words
# spelled out letter by letter ("i d i o t", "i.d.i.o.t"; three letters or more, so "e.g." stays).
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = regex.compile(r"[\p{L}\p{N}@$]*\p{L}[\p{L}\p{N}@$]*")
_LEET_CHARS = frozenset("013457@$")
_SPELLED = regex.compile(r"(?<![\p{L}\p{N}])\p{L}(?:[ .*_-]\p{L}){2,}(?![\p{L}\p{N}])")


def _unspell(text: str, source: list[int]) -> tuple[str, list[int]]:
    chars = list(text)
    for m in _LEET_WORD.finditer(text):
        word = m.group()
        if _LEET_CHARS.intersection(word) and sum(c.isalpha() for c in word) >= 2:
            chars[m.start() : m.end()] = word.translate(_LEET)
    text = "".join(chars)
    drop: set[int] = set()
    for m in _SPELLED.finditer(text):
        drop.update(range(m.start() + 1, m.end(), 2))  # the separators sit at every other position
    if not drop:
        return text, source
    keep = [i for i in range(len(text)) if i not in drop]
    return "".join(text[i] for i in keep), [source[i] for i in keep] + [source[-1]]
