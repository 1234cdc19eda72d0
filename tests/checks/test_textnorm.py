from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.checks._textnorm import FoldedText, at_word_boundaries, fold, is_word_char


def test_ascii_is_lowercased_with_identity_offsets() -> None:
    f = FoldedText.of("Hello\tWORLD")
    assert f.text == "hello world"
    assert f.span(6, 11) == (6, 11)


def test_accents_case_quotes_and_invisible_characters_fold() -> None:
    assert fold("CAFÉ") == "cafe"
    assert fold("cafe\u0301") == "cafe"
    assert fold("I\u2019m") == "i'm"
    assert fold("b\u200bad") == "bad"
    assert fold("Straße") == "strasse"
    assert fold("ﬁne") == "fine"


def test_spans_map_back_to_the_original() -> None:
    original = "x Ca\u200bfe\u0301 y"
    f = FoldedText.of(original)
    start = f.text.index("cafe")
    s, e = f.span(start, start + 4)
    assert original[s:e] == "Ca\u200bfe\u0301"


def test_expanding_characters_map_to_the_whole_original_character() -> None:
    original = "die Straße hier"
    f = FoldedText.of(original)
    start = f.text.index("strasse")
    s, e = f.span(start, start + len("strasse"))
    assert original[s:e] == "Straße"


@given(st.text(max_size=200), st.data())
def test_every_folded_span_maps_inside_the_original(text: str, data: st.DataObject) -> None:
    f = FoldedText.of(text)
    n = len(f.text)
    start = data.draw(st.integers(0, n))
    end = data.draw(st.integers(start, n))
    s, e = f.span(start, end)
    assert 0 <= s <= e <= len(text)


def test_whitespace_runs_fold_to_one_space_with_offsets() -> None:
    original = "Héllo \u00a0\n\t wörld  end"
    f = FoldedText.of(original)
    assert f.text == "hello world end"
    start = f.text.index("world")
    s, e = f.span(start, start + len("world end"))
    assert original[s:e] == "wörld  end"


# Not U+0301 alone: a combining mark with no letter, between two spaces, folds away and leaves two spaces.
@given(st.text(alphabet=st.sampled_from(list(" \n\t\u00a0\u2003ab\u00e9\u200b\u00df\ufb01")), max_size=60))
def test_folding_a_folded_text_changes_nothing(text: str) -> None:
    once = fold(text)
    assert fold(once) == once


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab Z\t\n\r\x0b\x0c\x1c\x1f.-_9")), max_size=60))
def test_ascii_fold_maps_like_the_general_fold(text: str) -> None:
    # A trailing non-ASCII character sends the text down the general path; its prefix must fold and map alike.
    fast, general = FoldedText.of(text), FoldedText.of(text + "\u00e9")
    assert general.text == fast.text + "e"
    for a in range(len(fast.text) + 1):
        for b in range(a, len(fast.text) + 1):
            assert fast.span(a, b) == general.span(a, b)


def _ascii_fold_by_loop(original: str) -> FoldedText:
    """The ASCII fold as first written: one Python step per whitespace run (the reference for the faster one)."""
    lowered = original.lower()
    pieces: list[str] = []
    norm_starts, orig_starts = [0], [0]
    pos = removed = 0
    for m in re.finditer(r"\s\s+", lowered):
        start, end = m.span()
        pieces.append(lowered[pos:start])
        norm_starts.append(start - removed + 1)
        orig_starts.append(end)
        removed += end - start - 1
        pos = end
    spaced = lowered.translate(str.maketrans("\t\n\r\f\v", "     "))
    if not pieces:
        return FoldedText(original, spaced)
    pieces.append(lowered[pos:])
    text = " ".join(pieces).translate(str.maketrans("\t\n\r\f\v", "     "))
    return FoldedText(original, text, tuple(norm_starts), tuple(orig_starts), (True,) * len(norm_starts))


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ. \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")), max_size=80))
def test_ascii_fold_equals_the_run_by_run_fold(text: str) -> None:
    # The fold splits on runs and sums lengths in C, and looks for runs of spaces when no \x1c-\x1f is left.
    assert FoldedText.of(text) == _ascii_fold_by_loop(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("a_9 .\u00e9\u00b2-\u0663")), min_size=1, max_size=12), st.data())
def test_word_boundaries_test_each_side_like_the_per_character_rule(text: str, data: st.DataObject) -> None:
    # The test looks at two-character slices; the rule is per character: a word character on both sides.
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    inside_before = start > 0 and is_word_char(text[start - 1]) and is_word_char(text[start])
    inside_after = end < len(text) and is_word_char(text[end]) and is_word_char(text[end - 1])
    assert at_word_boundaries(text, start, end) == (not inside_before and not inside_after)
