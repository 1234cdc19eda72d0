"""The shared character tables: one invisible set that holds every format character, and the look-alike
table as Unicode's confusables data (through confusable-homoglyphs) gives it today."""

from __future__ import annotations

import itertools
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.text import EVASION, FOLD, PII, SKELETON, TOXICITY, normalize, sources
from guardrails.text.chars import INVISIBLE, LOOKALIKES


def test_every_format_character_is_invisible() -> None:
    missing = [f"U+{c:04X}" for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    missing = [c for c in missing if chr(int(c[2:], 16)) not in INVISIBLE]
    assert missing == [], f"add to guardrails/text/chars.py INVISIBLE: {missing}"


def test_the_lookalike_table_is_generated_from_unicode_confusables() -> None:
    pytest.importorskip("confusable_homoglyphs")
    from guardrails.text._gen_confusables import build

    fresh = {ord(k): v for k, v in build().items()}
    assert fresh == LOOKALIKES, "stale: run python -m guardrails.text._gen_confusables"


def test_every_lookalike_maps_to_one_ascii_letter_or_digit() -> None:
    # The look-alike step replaces characters one for one: offsets stay put.
    assert all(len(v) == 1 and v.isascii() and v.isalnum() for v in LOOKALIKES.values())
    assert not any(chr(k).isascii() for k in LOOKALIKES)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_unicode_text_maps_back(text: str) -> None:
    for profile in (FOLD, EVASION, TOXICITY, PII, SKELETON):
        view = normalize(text, profile)
        src = sources(view)
        assert src[-1] == len(text) and all(a <= b for a, b in itertools.pairwise(src))
        assert normalize(view.text, profile).text == view.text


def test_every_character_that_folds_to_a_space_joins_whitespace_runs() -> None:
    from guardrails.text.fold import SPACERS, fold_char

    spacers = [
        f"\\u{c:04x}"
        for c in range(0x80, 0x10000)
        if not chr(c).isspace() and chr(c) not in SPACERS and fold_char(chr(c)).isspace()
    ]
    assert spacers == [], f"add to guardrails/text/fold.py SPACERS: {spacers}"
