"""Issue 20: one hostile corpus, caught equally by every check that claims normalisation.

The attacker controls what the model writes and hides a banned word, a slur, an e-mail address, a phone
number or a canary behind zero-width characters, look-alike letters from other scripts, fullwidth forms,
letter-by-letter spacing or leetspeak. Before the text layer, each check folded text its own way: the ban
list missed look-alikes, spacing and leetspeak that the toxicity check undid, and a canary written with a
Cyrillic "\u0430" leaked past the canary check that the PII check would have unmasked in an e-mail address.

Every row below names the rules that claim to see through its technique; each must find the payload, with a
span that covers exactly the characters the model wrote for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import cache

import pytest

from guardrails import Engine, Policy, load_ruleset
from guardrails.checks._tox.normalize import normalize as toxicity_view
from guardrails.rules.compile import compile_policy

CANARY = "CANARY-7f3a9c2e"
_HOMOGLYPHS = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "i": "\u0456"})
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})


def zero_width(s: str) -> str:
    return "\u200b".join(s)


def homoglyph(s: str) -> str:
    return s.translate(_HOMOGLYPHS)


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def spaced(s: str) -> str:
    """A space between letters and digits that stand side by side ("f u c k", "C A N A R Y-7 f 3...")."""
    out = [s[0]]
    for prev, c in itertools.pairwise(s):
        out.append(" " + c if prev.isalnum() and c.isalnum() else c)
    return "".join(out)


def leet(s: str) -> str:
    """Leetspeak on the letters, keeping at least two letters (a word of digits is a number, not a word)."""
    out = s.lower().translate(_LEET)
    return out if sum(c.isalpha() for c in out) >= 2 else s


TECHNIQUES: dict[str, Callable[[str], str]] = {
    "zero-width": zero_width,
    "homoglyph": homoglyph,
    "fullwidth": fullwidth,
    "spaced": spaced,
    "leet": leet,
}

# payload -> (the plain text, the rules that claim to find it, the techniques those rules claim to undo)
EVERY = tuple(TECHNIQUES)
PAYLOADS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "ban-list term": ("bullshit", ("TXT010",), EVERY),
    "slur": ("faggot", ("OBS001",), EVERY),
    "obscenity fr": ("connard", ("OBS002",), EVERY),
    "e-mail": ("jane.doe@example.com", ("PII001",), ("zero-width", "homoglyph", "fullwidth")),
    "phone": ("+1 415 555 0132", ("PII002",), ("zero-width", "fullwidth")),
    "canary": (CANARY, ("HAL009",), EVERY),
}
CASES = [
    pytest.param(kind, technique, code, id=f"{kind}-{technique}-{code}")
    for kind, (_plain, codes, techniques) in PAYLOADS.items()
    for technique in techniques
    for code in codes
]


@cache
def engine(code: str) -> Engine:
    policy = Policy(name="parity", rules=[code], include_preview=True, deadline_ms=5000)
    return Engine(compile_policy(policy, load_ruleset(), "<parity>"))


def sentence(payload: str) -> tuple[str, int, int]:
    prefix = "Here is what you asked for: "
    return f"{prefix}{payload}. Anything else?", len(prefix), len(prefix) + len(payload)


@pytest.mark.parametrize(("kind", "technique", "code"), CASES)
def test_every_check_that_normalises_sees_through_the_evasion(kind: str, technique: str, code: str) -> None:
    plain = PAYLOADS[kind][0]
    hidden = TECHNIQUES[technique](plain)
    assert hidden != plain
    text, start, end = sentence(hidden)
    report = engine(code).validate(text, {"canaries": [CANARY.lower()]})
    spans = [(f.span.start, f.span.end) for f in report.findings if f.code == code]
    assert spans, f"{code} missed {kind} hidden by {technique}: {hidden!r}"
    # The span covers the whole hidden payload (a repair must remove all of it), and nothing outside it
    # but what the payload glues to (a phone number's own "+").
    assert spans[0][0] <= start and spans[0][1] >= end - (1 if text[end - 1] == "\u200b" else 0)
    assert spans[0][1] <= end and spans[0][0] >= start


@pytest.mark.parametrize("technique", EVERY)
@pytest.mark.parametrize("plain", ["bullshit", "faggot", "idiot"])
def test_the_toxicity_model_reads_the_plain_word(technique: str, plain: str) -> None:
    """The toxicity check claims every technique: the text its model reads holds the plain word."""
    hidden = TECHNIQUES[technique](plain)
    text, start, end = sentence(hidden)
    view = toxicity_view(text)
    assert plain in view.text.lower()
    at = view.text.lower().index(plain)
    assert (view.source[at], view.source[at + len(plain) - 1] + 1) == (start, end - (text[end - 1] == "\u200b"))


def test_the_same_evasions_pass_clean_text_untouched() -> None:
    """No check finds anything in the sentences the corpus is built on, without a payload."""
    text, _, _ = sentence("a short answer about Scunthorpe and 1990s cocktails")
    for code in ("TXT010", "OBS001", "PII001", "PII002", "HAL009"):
        assert engine(code).validate(text, {"canaries": [CANARY.lower()]}).findings == []
