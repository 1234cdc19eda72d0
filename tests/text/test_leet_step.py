"""leet_step visits only the words around its hints: the same view as reading every word of the text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.text.chars import LEET
from guardrails.text.steps import _LEET_HINT, leet_step
from guardrails.text.view import MappedText

_WORD = re.compile(r"(?:[^\W_]|[@$])*[^\W\d_](?:[^\W_]|[@$])*")


def every_word(text: str) -> MappedText:
    """The step as it was first written: every word of the text, judged one by one."""
    chars = list(text)
    changed = False
    for m in _WORD.finditer(text):
        word = m.group()
        if _LEET_HINT.search(word) is not None and sum(c.isalpha() for c in word) >= 2:
            chars[m.start() : m.end()] = word.translate(LEET)
            changed = True
    return MappedText(text, "".join(chars)) if changed else MappedText.identity(text)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab1@$3 _0x5\u00e94\u01307.\nQ-\u017f\u0663s", max_size=60))
def test_equal_to_reading_every_word(text: str) -> None:
    assert leet_step(text) == every_word(text)


def test_examples() -> None:
    assert (
        leet_step("sh1t and @ss, but 1990, B2B and @602Angel stay").text
        == "shit and ass, but 1990, B2B and @602Angel stay"
    )
    assert leet_step("mail ana.12@mail3.example.com").text == "mail ana.i2amaile.example.com"
    assert leet_step("nothing here") == MappedText.identity("nothing here")
