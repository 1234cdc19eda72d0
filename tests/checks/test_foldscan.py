from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.checks._foldscan import FoldedScan
from tests.checks._helpers import build, hits


def _checks() -> list[Any]:
    """Ban lists and anchored regex checks whose keys overlap: shared keys, keys inside keys, suffixes."""
    return [
        build("banlist", terms=["darn", "darn it", "it", "café"]),
        build("regex", pattern=r"darn\W+\w+", flags="i", anchors=["darn"], anchor_window=20),
        build("banlist", terms=["arn", "sorry", "rn i"], whole_word=False),
        build("regex", pattern=r"(?:sorry|it)\b", flags="i", anchors=["sorry", "it", "café"], anchor_window=10),
        build("regex", pattern=r"\[\w+\]", anchors=["["], anchor_window=30),
    ]


def _found(checks: list[Any], text: str) -> list[list[tuple[int, int, dict[str, Any]]]]:
    return [[(h.start, h.end, h.values) for h in hits(c, text)] for c in checks]


WORDS = ["darn", "Darn", "it", "IT", "sorry", "cafe\u0301", "caf\u00e9", "[x]", "darnit", "barn", "a", "\u200b", "_"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), max_size=25),
    st.lists(st.sampled_from([" ", "  ", "\n", ", ", ""]), min_size=25, max_size=25),
    st.permutations(range(5)),
)
def test_checks_that_share_one_pass_find_what_each_finds_alone(
    words: list[str], gaps: list[str], order: list[int]
) -> None:
    text = "".join(w + g for w, g in zip(words, gaps, strict=False))
    alone = _found(_checks(), text)
    bound = _checks()
    for i in order:  # whichever check binds last, all of them end on one pass
        bound[i].bind(bound)
    users = [bound[0], bound[1]._group, bound[2]]
    assert all(u.shared is not None and u.shared[0] is users[0].shared[0] for u in users)
    assert _found(bound, text) == alone


def test_one_check_keeps_its_own_automaton() -> None:
    check = build("banlist", terms=["darn"])
    check.bind([check])
    assert check.shared is None  # type: ignore[attr-defined]
    FoldedScan.share([check])  # type: ignore[list-item]
    assert check.shared is None  # type: ignore[attr-defined]
    assert [(h.start, h.end) for h in hits(check, "Darn it")] == [(0, 4)]
