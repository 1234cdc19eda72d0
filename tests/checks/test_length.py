from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks._helpers import build, hits


def test_chars_span_is_the_part_beyond_the_limit() -> None:
    [hit] = hits(build("length", max_chars=5), "abcdefgh")
    assert (hit.start, hit.end) == (5, 8)
    assert hit.values == {"unit": "characters", "limit": 5, "count": 8}
    assert hit.evidence.score == 8 and hit.evidence.threshold == 5


def test_words_lines_sentences() -> None:
    text = "One two. Three four!\nFive six? seven\neight"
    check = build("length", max_words=3, max_lines=2, max_sentences=2)
    got = {h.values["unit"]: (text[h.start : h.end], h.values["count"]) for h in hits(check, text)}
    assert got == {
        "lines": ("\neight", 3),
        "words": (" four!\nFive six? seven\neight", 8),
        "sentences": ("\nFive six? seven\neight", 4),
    }


def test_within_limits_is_silent() -> None:
    assert hits(build("length", max_chars=100, max_words=10, max_lines=3, max_sentences=2), "Hi there. Bye.") == []


def test_non_english_words_and_sentences() -> None:
    text = "Привет мир. Ça va très bien! 你好。世界。"
    [w] = hits(build("length", max_words=4), text)
    assert text[w.start :].startswith(" très") and w.values["count"] == 8
    [s] = hits(build("length", max_sentences=2), text)
    assert s.values["count"] == 4 and text[s.start : s.end] == " 你好。世界。"


def test_truncate_fix_is_unsafe_and_inside_the_span() -> None:
    [hit] = hits(build("length", max_words=2, truncate=True), "one two three four")
    assert hit.fix is not None and not hit.fix.safe
    [edit] = hit.fix.edits
    assert (edit.start, edit.end, edit.replacement) == (hit.start, hit.end, "")


def test_zero_limits_flag_everything() -> None:
    [hit] = hits(build("length", max_lines=0), "a")
    assert (hit.start, hit.end) == (0, 1)


def test_needs_a_limit() -> None:
    with pytest.raises(ValueError, match="at least one"):
        build("length")


def test_megabyte_output() -> None:
    text = "word. " * 200_000
    got = {h.values["unit"]: h.values["count"] for h in hits(build("length", max_words=10, max_sentences=10), text)}
    assert got == {"words": 200_000, "sentences": 200_000}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(0, 20))
def test_spans_inside_and_prefix_monotone(text: str, limit: int) -> None:
    check = build("length", max_chars=limit, max_words=limit, max_lines=limit, max_sentences=limit)
    units = set()
    for hit in hits(check, text):
        assert 0 <= hit.start <= hit.end == len(text)
        units.add(hit.values["unit"])
    # Streaming honesty: whatever a prefix exceeds, the whole text exceeds too.
    prefix_units = {h.values["unit"] for h in hits(check, text[: len(text) // 2])}
    assert prefix_units <= units
