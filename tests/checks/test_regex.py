from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.checks.base import DeadlineExceeded
from tests.checks._helpers import build, hits, spans

PATTERN = r"\b(?:studies|research)\s+(?:shows?|suggests?)\b|\[(?:your|insert)[^\]\n]{0,20}\]"


def test_anchors_give_the_same_matches_as_a_full_scan() -> None:
    full = build("regex", pattern=PATTERN, flags="i")
    anchored = build("regex", pattern=PATTERN, flags="i", anchors=["studies", "research", "["])
    text = "Intro. STUDIES SHOW x. Research suggests y. Sign: [Your Name]. Résearch shows z."
    assert spans(anchored, text) == spans(full, text) == ["STUDIES SHOW", "Research suggests", "[Your Name]"]


def test_anchors_are_whole_words_and_accent_insensitive() -> None:
    check = build("regex", pattern=r"caf[eé]\s+noir", flags="i", anchors=["CAFÉ"])
    assert spans(check, "un café noir, un cafe noir, un cafeteria noir") == ["café noir", "cafe noir"]


def test_no_anchor_no_scan() -> None:
    check = build("regex", pattern=r"(a|aa)+$", anchors=["zebra"])
    t0 = time.perf_counter()
    assert hits(check, "a" * 50_000 + "b", deadline=5) == []
    assert time.perf_counter() - t0 < 1


def test_catastrophic_pattern_times_out_as_deadline() -> None:
    check = build("regex", pattern=r"(a|aa)+$")
    with pytest.raises(DeadlineExceeded):
        hits(check, "a" * 5000 + "b", deadline=0.05)


def test_empty_anchor_is_rejected() -> None:
    with pytest.raises(ValueError, match="anchors"):
        build("regex", pattern="x", anchors=["\u200b"])


def test_head_window_with_anchors() -> None:
    check = build("regex", pattern=r"sorry", flags="i", window="head", window_chars=20, anchors=["sorry"])
    assert spans(check, "Sorry, no. " + "x " * 50 + "sorry again") == ["Sorry"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("studies research show [your] \u00e9\u200bSTUDIES\n.")), max_size=200))
def test_anchored_equals_full_scan(text: str) -> None:
    full = build("regex", pattern=PATTERN, flags="i")
    anchored = build("regex", pattern=PATTERN, flags="i", anchors=["studies", "research", "["], anchor_window=60)
    assert spans(anchored, text) == spans(full, text)


@pytest.mark.parametrize(
    ("pattern", "window", "streaming"),
    [
        ("foo", "all", True),
        ("^foo", "all", False),
        ("done$", "all", False),
        (r"\Astart", "all", False),
        ("[^a-z]+", "all", True),
        (r"\$5", "all", True),
        ("foo", "head", False),
        ("foo", "tail", False),
    ],
)
def test_streaming_only_for_patterns_that_can_judge_a_prefix(pattern: str, window: str, streaming: bool) -> None:
    from guardrails.checks.regex import RegexCheck, RegexParams

    assert RegexCheck(RegexParams(pattern=pattern, window=window)).streaming is streaming  # type: ignore[arg-type]
