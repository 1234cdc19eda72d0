"""One text layer: normalised views of a text with exact offset maps back to the original.

Every check that normalises text reads it through a `Profile` (`FOLD`, `EVASION`, `TOXICITY`, `PII`,
`FACTS`, `SKELETON`, or its own), so the same invisible characters, the same look-alike table and the same leetspeak
reading apply everywhere, and a span found in a view maps back to the characters the model wrote.
See docs/text-layer.md.
"""

from __future__ import annotations

from guardrails.text.chars import INVISIBLE, LEET, LOOKALIKES, PUNCT
from guardrails.text.fold import FoldedText, at_word_boundaries, fold, fold_char, is_word_char
from guardrails.text.profiles import EVASION, FACTS, FOLD, PII, SKELETON, TOXICITY, Profile, normalize, view
from guardrails.text.view import Composed, MappedText, TextView, compose, sources
from guardrails.text.words import STOPWORDS

__all__ = [
    "EVASION",
    "FACTS",
    "FOLD",
    "INVISIBLE",
    "LEET",
    "LOOKALIKES",
    "PII",
    "PUNCT",
    "SKELETON",
    "STOPWORDS",
    "TOXICITY",
    "Composed",
    "FoldedText",
    "MappedText",
    "Profile",
    "TextView",
    "at_word_boundaries",
    "compose",
    "fold",
    "fold_char",
    "is_word_char",
    "normalize",
    "sources",
    "view",
]
