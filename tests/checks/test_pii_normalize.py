"""_pii.normalize: the linear suspect-chunk test answers exactly what the backtracking pattern did."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.checks._pii import normalize as n

_ALPHABET = "ab1@ \n\t-." + "\u200b\u00ad" + "\u0430\u043e\u0435\u0391\u039f" + "é日"  # Cyrillic and Greek look-alikes


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_suspect_matches_the_pattern(text: str) -> None:
    assert n.suspect(text) == (n._SUSPECT.search(text) is not None)


def test_a_long_chunk_with_one_invisible_character_is_linear() -> None:
    # 200 KB: the backtracking pattern took minutes on this; a regression fails by the test's timeout.
    text = "x" * 200_000 + "\u200b"
    t0 = time.perf_counter()
    assert n.suspect(text)
    assert n.suspect("x" * 200_000 + "\u0430") and not n.suspect("ж" * 200_000)
    assert time.perf_counter() - t0 < 30
