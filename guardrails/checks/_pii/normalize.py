# ruff: noqa: RUF002, RUF003 -- look-alike characters are the subject of this module
"""Undo tricks that hide PII from patterns: zero-width characters, compatibility forms (fullwidth
'＠', small '﹫', ligatures) and Latin look-alikes from other scripts, through the text layer's `pii`
profile (its invisible set and Unicode's confusables). Detection runs on the normalised text; every span
maps back to the original, so a repair removes the hidden characters too. What stays here is the gate:
most texts need no view at all, and deciding that must cost one linear scan.
"""

from __future__ import annotations

import re
import unicodedata

from guardrails.text import PII, MappedText, TextView
from guardrails.text import normalize as text_view
from guardrails.text.chars import INVISIBLE, LOOKALIKE_CHARS, CharSet, char_class

Normalized = TextView
"""What detection runs on: `text`, `span(start, end)` back to the original, and `changed`."""


_HOMOGLYPH_CHARS = char_class(LOOKALIKE_CHARS)
_INVISIBLE_CLASS = char_class(INVISIBLE)
# Only a chunk that mixes look-alikes with ASCII letters, digits or '@' is folded: a Russian or Greek
# word stays as written, "jоhn@exаmple.com" with Cyrillic о and а does not.
_SUSPECT = re.compile(
    f"[{_INVISIBLE_CLASS}]|[A-Za-z0-9@][^\\s]*[{_HOMOGLYPH_CHARS}]|[{_HOMOGLYPH_CHARS}][^\\s]*[A-Za-z0-9@]"
)
# A plain character-set search, so clean non-ASCII text (curly quotes, accents) skips _SUSPECT's backtracking.
_SUSPECT_CHARS = CharSet(INVISIBLE | LOOKALIKE_CHARS)
_MIXED = re.compile(r"[A-Za-z0-9@]")
_CHUNK_REST = re.compile(r"\S*")


def suspect(text: str) -> bool:
    """What `_SUSPECT.search(text)` answers, in linear time: searching _SUSPECT itself retries its `\\S*` from every
    letter of a long chunk, quadratic (20 KB of letters and one zero-width space took 4.5 s). Each chunk around a
    suspect character is looked at once."""
    checked_to = 0
    for i in _SUSPECT_CHARS.positions(text):
        if text[i] in INVISIBLE:
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


def normalize(text: str) -> Normalized:
    """The text layer's `pii` view when the text hides something; the common case (ASCII, or clean Unicode)
    costs one scan and returns the text itself."""
    if text.isascii() or (
        unicodedata.is_normalized("NFKC", text) and (not _SUSPECT_CHARS.search(text) or not suspect(text))
    ):
        return MappedText.identity(text)
    view = text_view(text, PII)
    return view if view.text != text else MappedText.identity(text)
