"""PII context words: the tokens before a match are counted as presidio's enhancer counts spaCy's tokens, so a
time, an IP address or a MAC address between the context word and the value is one token, not five."""

from __future__ import annotations

import pytest

from guardrails.checks._pii.context import _TOKEN, context_rule


@pytest.mark.parametrize(
    ("value", "tokens"),
    [
        ("10:30", ["10:30"]),
        ("192.168.0.1", ["192.168.0.1"]),
        ("00:1A:2B:3C:4D:5E", ["00:1A:2B:3C:4D:5E"]),
        ("phone: 555", ["phone", ":", "555"]),
        ("end. Next", ["end", ".", "Next"]),
        ("v1.2.3,", ["v1.2.3", ","]),
        ("09:00-17:00", ["09:00", "-", "17:00"]),
    ],
)
def test_dotted_and_colon_separated_values_are_one_token(value: str, tokens: list[str]) -> None:
    assert [m.group() for m in _TOKEN.finditer(value)] == tokens


@pytest.mark.parametrize(
    "between",
    [
        "(available 09:00-17:00):",  # two times: ten regex tokens, two spaCy tokens
        "from 10.0.0.12 or 10.0.0.13:",  # two IP addresses
        "(desk 00:1A:2B:3C:4D:5E, 10:30):",  # a MAC address and a time
    ],
)
def test_a_context_word_before_values_still_supports_the_match(between: str) -> None:
    text = f"Call the phone {between} 555-123-4567"
    start = text.index("555")
    rule = context_rule(("phone", "telephone"), "en")
    support = rule.support(text, start, len(text), 0.4)
    assert support is not None and support.word == "phone"


def test_the_window_still_holds_five_keywords() -> None:
    text = "phone alpha bravo charlie delta echo foxtrot 555-123-4567"
    rule = context_rule(("phone",), "en")
    assert rule.support(text, text.index("555"), len(text), 0.4) is None


@pytest.mark.parametrize(
    "hostile",
    ["a" * 200_000, "a." * 100_000, "http://" + "." * 200_000, "x@" * 100_000, "1:" * 100_000],
)
def test_tokenising_a_hostile_window_is_linear(hostile: str) -> None:
    # Quadratic backtracking would take minutes on 200 KB; a regression fails by the suite's timeout.
    tokens = sum(1 for _ in _TOKEN.finditer(hostile))
    assert tokens >= 1


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("see https://example.com/a.b, then", ["see", "https://example.com/a.b", ",", "then"]),
        ("mail jane.doe@example.co.uk.", ["mail", "jane.doe@example.co.uk", "."]),
    ],
)
def test_urls_and_email_addresses_are_one_token(text: str, tokens: list[str]) -> None:
    assert [m.group() for m in _TOKEN.finditer(text)] == tokens
