from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from guardrails.checks._textnorm import FoldedText, fold


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
