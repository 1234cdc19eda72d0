"""The leet and spacing steps' hints on ASCII text (bit operations over the whole text) find what their
patterns find."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.text.steps import _LEET_HINT, _SPELLED_HINT, _leet_hints, _spelled_hint, leet_step, spacing_step

# Letters, every leet character, digits that are not leet, every separator, and other ASCII around them.
ASCII = "aZq0134578269@$ .*_-\n\t,;:!/#%&()'\"\x00\x7f"


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=ASCII, max_size=80))
def test_leet_hints_on_ascii_are_the_patterns_matches(text: str) -> None:
    assert _leet_hints(text) == [m.start() for m in _LEET_HINT.finditer(text)]


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=ASCII, max_size=80))
def test_spelled_hint_on_ascii_is_the_patterns_search(text: str) -> None:
    assert _spelled_hint(text) == (_SPELLED_HINT.search(f" {text} ") is not None)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=ASCII + "\u00e9\u0663\u017f", max_size=60))
def test_other_text_takes_the_patterns(text: str) -> None:
    assert _leet_hints(text) == [m.start() for m in _LEET_HINT.finditer(text)]
    assert _spelled_hint(text) == (_SPELLED_HINT.search(f" {text} ") is not None)


def test_examples() -> None:
    assert _leet_hints("sh1t, 1990 and ana.12@mail3.example.com") == [2, 21, 26]
    assert _spelled_hint("a b c") and _spelled_hint("f.u.c.k") and not _spelled_hint("eg. this")
    assert spacing_step("e.g. this").text == "e.g. this"
    assert spacing_step("say f u c k now").text == "say fuck now"
    assert leet_step("h3ll0 there").text == "hello there"
    assert _leet_hints("") == [] and not _spelled_hint("")
