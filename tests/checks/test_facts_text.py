"""The value scanner's shortcuts give exactly what the plain patterns give (they exist only for speed)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.checks._facts.text import (
    _QUALIFIER_RE,
    _SENTENCE_END,
    _VALUE_RE,
    _value_matches,
    fold,
    qualifier,
    scan_values,
    sentence_bounds,
)

# Pieces that open, close or break values: digits (also non-ASCII ones), month names, currency words and
# symbols, units, multipliers, separators and several kinds of whitespace.
PIECES = [
    "5", "12", "2024", "1,299.99", ".5", "03/05/2024", "2024-03-05", "5.3.2024", "\u0663", "\uff11", "0",
    "march", "sept.", "may", "of", "5th", "usd", "dollars", "pound sterling", "$", "\u20ac", "us$", "c$",
    "kg", "mah", "gb", "w", "%", "k", "million", "-", "/", ".", ",", ";", "!", "?", "(", ")", "a", "model",
    "x1", "about", "more than", "no more than", "approx.", "~", "costs", "it", " ", "  ", "\n", "\t",
    "\u00a0", "\u2003", "\u2029",
]  # fmt: skip
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
OLD_SENTENCE_END = re.compile(r"[.!?;]+(?=\s|$)|\n")


def _spans(matches: object) -> list[tuple[str | None, tuple[int, int]]]:
    return [(m.lastgroup, m.span()) for m in matches]  # type: ignore[attr-defined]


@settings(max_examples=400, deadline=None)
@given(texts, st.integers(0, 40), st.integers(0, 40))
def test_digit_anchored_scan_finds_what_finditer_finds(text: str, a: int, b: int) -> None:
    lo, hi = sorted((min(a, len(text)), min(b, len(text))))
    assert _spans(_value_matches(text, 0, len(text))) == _spans(_VALUE_RE.finditer(text))
    assert _spans(_value_matches(text, lo, hi)) == _spans(_VALUE_RE.finditer(text, lo, hi))


def test_digit_anchored_scan_on_long_prose_and_far_prefixes() -> None:
    text = "the model g02476 pro costs $2,318.99. " + "words without digits " * 50 + "march\u00a0 \n  5, 2024"
    text += " pound sterling .5; usd5 and a2024-03-05 then " + " " * 300 + "9 kg"
    assert _spans(_value_matches(text, 0, len(text))) == _spans(_VALUE_RE.finditer(text))
    kinds = [v.kind for v in scan_values(text)]
    assert kinds.count("date") == 2 and kinds.count("money") >= 2 and kinds[-1] == "number"


@settings(max_examples=300, deadline=None)
@given(texts)
def test_sentence_pattern_means_what_the_plain_one_means(text: str) -> None:
    assert [m.span() for m in _SENTENCE_END.finditer(text)] == [m.span() for m in OLD_SENTENCE_END.finditer(text)]
    ends = sentence_bounds(text)
    assert ends == sorted(ends) and ends[-1] == len(text)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_qualifier_shortcut_agrees_with_the_pattern(text: str) -> None:
    folded = fold(text).text
    for start in range(len(folded) + 1):
        m = _QUALIFIER_RE.search(folded, max(0, start - 24), start)
        assert qualifier(folded, start) == (m.lastgroup or "" if m else "")


def test_qualifiers_are_read() -> None:
    assert qualifier("it costs about $5", 15) == "approx"
    assert qualifier("it costs no more than\u00a0 $5", 23) == "upper"
    assert qualifier("weighs more than 5 kg", 17) == "lower"
    assert qualifier("costs $5", 6) == ""
    assert qualifier("", 0) == ""
