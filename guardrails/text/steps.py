"""The steps a profile composes. Each reads a text and returns a `MappedText` over it (identity when it
changes nothing), so offsets compose exactly.

- `chars_step`: per-character folding (invisible and control characters, NFKC/NFKD, accents, case, quotes)
  for profiles that do not start from the fast `fold` view; ASCII runs cost one C call each.
- `confusables_step`: letters from other scripts that look like Latin ones (Unicode's confusables), folded
  inside words that mix them with Latin letters or digits, or, in mostly Latin text, inside words made only of
  look-alikes. Other words in other scripts are left alone, so Russian stays Russian.
- `spacing_step`: words spelled out letter by letter ("f u c k", "f.u.c.k"; three letters or more, so "e.g."
  stays) joined.
- `skeleton_step`: letters and digits only, look-alikes and leet characters read as letters wherever they
  stand: for
  matching random tokens (canaries) however they are spaced, punctuated or spelled.
- `leet_step`: leetspeak digits and symbols next to a letter, inside words that hold two letters or more
  ("sh1t", "@ss"), read as letters; "1990", "B2B" and "@602Angel" stay.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import regex

from guardrails.text.chars import INVISIBLE, LEET, LOOKALIKE_CHARS, LOOKALIKES, PUNCT, CharSet
from guardrails.text.view import MappedText, build

_KEEP_CONTROLS = frozenset("\t\n\r")
# What chars_step must visit one by one: non-ASCII characters and the ASCII controls it drops.
_SPECIAL = re.compile(r"[^\t\n\r\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class CharOptions:
    """A profile's per-character options (hashable: fold_one caches per character and options)."""

    invisible: bool
    form: str | None
    accents: bool
    case: bool
    punct: bool


@lru_cache(maxsize=65536)
def fold_one(ch: str, opts: CharOptions) -> str:
    """One character under a profile's per-character options ('' when dropped; may be longer than one)."""
    invisible, form, accents, case, punct = opts.invisible, opts.form, opts.accents, opts.case, opts.punct
    if invisible and (ch in INVISIBLE or (unicodedata.category(ch) == "Cc" and ch not in _KEEP_CONTROLS)):
        return ""
    if ch.isascii():
        return ch.lower() if case else ch
    out = PUNCT.get(ch, ch) if punct else ch
    if case:
        out = out.casefold()
    if form == "NFKC":
        out = unicodedata.normalize("NFKC", out)
    if accents or form == "NFKD":
        out = unicodedata.normalize("NFKD", out)
    if accents:
        # Mn, not just combining classes: what the toxicity models were fed before the layer existed.
        out = unicodedata.normalize("NFC", "".join(c for c in out if unicodedata.category(c) != "Mn"))
    if case and out.casefold() != out:  # a compatibility form may decompose to a capital ("\u210c" is "H")
        return fold_one("".join(c if c.isascii() else c.casefold() for c in out.casefold()), opts)
    if invisible:
        out = "".join(c for c in out if c not in INVISIBLE)
    return out


def chars_step(text: str, opts: CharOptions) -> MappedText:
    case = opts.case
    if _SPECIAL.search(text) is None:
        lowered = text.lower() if case else text
        return MappedText(text, lowered)
    parts: list[str] = []
    source: list[int] = []
    pos = 0
    for m in _SPECIAL.finditer(text):
        start, end = m.span()
        run = text[pos:start]
        parts.append(run.lower() if case else run)
        source.extend(range(pos, start))
        for i in range(start, end):
            out = fold_one(text[i], opts)
            parts.append(out)
            source.extend([i] * len(out))
        pos = end
    tail = text[pos:]
    parts.append(tail.lower() if case else tail)
    source.extend(range(pos, len(text) + 1))
    folded = "".join(parts)
    if folded == text and len(source) == len(text) + 1:
        return MappedText.identity(text)
    return MappedText(text, folded, tuple(source))


_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_LOOKALIKE = CharSet(LOOKALIKE_CHARS)


def _is_latin(ch: str) -> bool:
    return ch.isascii() or "LATIN" in unicodedata.name(ch, "")


def confusables_step(text: str, *, lower: bool) -> MappedText:
    if text.isascii() or not _LOOKALIKE.search(text):
        return MappedText.identity(text)
    chars = list(text)
    # Folding a mixed word adds Latin letters, which may make the text mostly Latin and so a spoofed word
    # foldable: repeat to the fixed point, so that the view is idempotent (each round folds at least one word).
    while _fold_round(chars, lower):
        pass
    out = "".join(chars)
    return MappedText(text, out) if out != text else MappedText.identity(text)


def _fold_round(chars: list[str], lower: bool) -> bool:
    text = "".join(chars)
    letters = [c for c in text if c.isalpha()]
    mostly_latin = sum(map(_is_latin, letters)) * 2 >= len(letters)
    changed = False
    for m in _WORD.finditer(text):
        word = m.group()
        if not _LOOKALIKE.search(word):
            continue
        # Mixed: a Latin letter or a digit that is not itself a look-alike beside the look-alikes.
        mixed = any((_is_latin(c) and c not in LOOKALIKE_CHARS) or c.isdigit() for c in word)
        spoof = mostly_latin and all(_is_latin(c) or c in LOOKALIKE_CHARS for c in word if c.isalpha())
        if not (mixed or spoof):
            continue
        folded = word.translate(LOOKALIKES)
        if lower:
            folded = folded.lower()
        if folded != word:
            chars[m.start() : m.end()] = folded  # one character for one: the table maps to single characters
            changed = True
    return changed


_LEET_CHARS = "013457@$"
# A word: letters, digits, "@" and "$" (not "_": "user_15" is two words), with a letter somewhere.
_LEET_WORD = re.compile(r"(?:[^\W_]|[@$])*[^\W\d_](?:[^\W_]|[@$])*")
# A quick test that some word mixes a letter with a leet character; most text has none. Opening with the leet
# characters' class lets `re` skip to candidates in C (4 us on 800 characters; the `regex` module took 130).
_LEET_HINT = re.compile(r"[013457@$](?:(?<=[^\W\d_][013457@$])|(?=[^\W\d_]))")


_LEET_RUN = re.compile(r"(?:[^\W_]|[@$])+")


def _marks(chars: str) -> bytes:
    """A bytes.translate table for ASCII: 1 for each of `chars`, 0 for the rest."""
    table = bytearray(256)
    for c in chars:
        table[ord(c)] = 1
    return bytes(table)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# On ASCII text the hints are found with whole-text bit operations instead of `re` trying each leet character
# (a JSON answer's digits) or each separator: ~10 and ~18 us on 1.3 KB, a few us this way. Each class is a byte
# string of 0s and 1s read as one big-endian integer, so shifting it 8 bits left puts each character's mark on
# the character before it. For ASCII, `[^\W\d_]` is a letter and `[^\W_]` a letter or digit. (bytes.find on the
# class string is not fast: so few distinct bytes defeat its skips.)
_LETTER_MARKS = _marks(_LETTERS)
_LEET_MARKS = _marks(_LEET_CHARS)
_UNIT_MARKS = _marks(_LETTERS + "0123456789@$")
_SEPARATOR_MARKS = _marks(" .*_-")


def _leet_hints(text: str) -> list[int]:
    """Where _LEET_HINT matches: a leet character with a letter before or after it, in order."""
    if not text.isascii():
        return [m.start() for m in _LEET_HINT.finditer(text)]
    data = text.encode("ascii")
    letters = int.from_bytes(data.translate(_LETTER_MARKS), "big")
    hints = int.from_bytes(data.translate(_LEET_MARKS), "big") & ((letters >> 8) | (letters << 8))
    if not hints:
        return []
    marked = hints.to_bytes(len(data), "big")
    out: list[int] = []
    i = marked.find(1)
    while i != -1:
        out.append(i)
        i = marked.find(1, i + 1)
    return out


def leet_step(text: str) -> MappedText:
    # Only the words holding a hint can change, and prose holds few (an e-mail address, "mp3"): each is found
    # from its hint, instead of visiting every word of the text in Python (~200 us on 1.3 KB of prose). A word
    # is a run of letters, digits, "@" and "$" (\w is str.isalnum() or "_" to `re`); the hint's neighbours are
    # letters, so inside the same run, and the word holds a letter.
    parts: list[str] = []
    copied = seen = 0
    for at in _leet_hints(text):
        if at < seen:
            continue  # in the word just handled
        start = at
        while start and (text[start - 1].isalnum() or text[start - 1] in "@$"):
            start -= 1
        seen = _LEET_RUN.match(text, at).end()  # type: ignore[union-attr]
        word = text[start:seen]
        # A leet character next to a letter ("h3ll0"), in a word of two letters or more; "@602Angel" and
        # "bsrWTMKw87" (a handle, a link's path) stay as written.
        if sum(c.isalpha() for c in word) >= 2:
            parts += (text[copied:start], word.translate(LEET))  # one character for one: offsets stay
            copied = seen
    if not parts:
        return MappedText.identity(text)
    parts.append(text[copied:])
    return MappedText(text, "".join(parts))


# Three or more single letters or digits each one separator apart, alone between words (two letters at least:
# "1 2 3" stays a list of numbers).
_UNIT = r"(?:[^\W_]|[@$])"  # a letter, a digit, "@" or "$"
_SPELLED = re.compile(rf"(?<![^\W_]){_UNIT}(?:[ .*_-]{_UNIT}){{2,}}(?![^\W_])")
# Two single characters in a row between separators, which every spelled-out word holds: opening with the
# separators' class, `re` rejects most positions at the next character (the full pattern is 2x slower).
_SPELLED_HINT = re.compile(rf"[ .*_-]{_UNIT}[ .*_-]{_UNIT}[ .*_-]")


def _spelled_hint(text: str) -> bool:
    """True when _SPELLED_HINT is found in the text with a space either side."""
    if not text.isascii():
        return _SPELLED_HINT.search(f" {text} ") is not None
    data = f" {text} ".encode("ascii")
    seps = int.from_bytes(data.translate(_SEPARATOR_MARKS), "big")
    units = int.from_bytes(data.translate(_UNIT_MARKS), "big")
    # separator, unit, separator, unit, separator at five characters in a row
    return bool(seps & (units << 8) & (seps << 16) & (units << 24) & (seps << 32))


def spacing_step(text: str) -> MappedText:
    if not _spelled_hint(text):
        return MappedText.identity(text)
    drop: set[int] = set()
    for m in _SPELLED.finditer(text):
        units = m.group()[0::2]
        if sum(c.isalpha() for c in units) >= 2:
            drop.update(range(m.start() + 1, m.end(), 2))  # the separators sit at every other position
    if not drop:
        return MappedText.identity(text)
    return build(text, [(i, "" if i in drop else c) for i, c in enumerate(text)])


_ALNUM_RUN = re.compile(r"[^\W_]+")


_SKELETON_TABLE = {**{k: v.lower() for k, v in LOOKALIKES.items()}, **LEET}


def skeleton_step(text: str) -> MappedText:
    # Look-alikes and leet characters are read as letters wherever they stand (a random token has no words to
    # judge by). Both tables map one character to one, so offsets in `leeted` are offsets in `text`.
    leeted = text.translate(_SKELETON_TABLE)
    parts: list[str] = []
    source: list[int] = []
    for m in _ALNUM_RUN.finditer(leeted):
        parts.append(m.group())
        source.extend(range(m.start(), m.end()))
    source.append(len(text))
    out = "".join(parts)
    if out == text:
        return MappedText.identity(text)
    return MappedText(text, out, tuple(source))
