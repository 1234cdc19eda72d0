"""Red-team finding 13: overlapping PII findings must not release part of a value.

An IBAN that holds a card-number-shaped run is found as both; repair used to take the card's mask (the
stronger severity), drop the IBAN's edit, and release the rest of the account number with verdict
`repaired`. The attacker here only chooses what the model writes: values of two entities that overlap or
nest, validated with the bundled `pii` policy.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from guardrails.engine import Engine
from guardrails.findings import Action, FindingStatus, Report, Verdict


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_policy("pii")


def luhn(prefix: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return prefix + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    number = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


def grouped(value: str) -> str:
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


def covered_by_first_round(report: Report) -> list[tuple[str, int, int]]:
    """Detected spans (of repair findings) with characters that no round-1 edit replaced."""
    edits = [a.edit for a in report.edits if a.round == 1]
    holes = []
    for f in report.findings:
        if f.action is not Action.REPAIR or f.status is FindingStatus.SUPPRESSED:
            continue
        if any(not any(e.start <= i < e.end for e in edits) for i in range(f.span.start, f.span.end)):
            holes.append((f.code, f.span.start, f.span.end))
    return holes


def released_digit_runs(report: Report, run: int = 5) -> list[str]:
    """Runs of `run` digits from a detected value that are still in the delivered output."""
    original = report.original
    inside = set()
    for f in report.findings:
        inside.update(range(f.span.start, f.span.end))
    leaked = []
    for m in re.finditer(rf"(?=(\d{{{run}}}))", re.sub(r"\D", " ", original)):
        start = m.start()
        if all(i in inside for i in range(start, start + run)) and m.group(1) in report.output:
            leaked.append(m.group(1))
    return leaked


def assert_no_part_released(report: Report) -> None:
    assert covered_by_first_round(report) == [], report.model_dump_json(indent=1)
    first = sorted((a.edit for a in report.edits if a.round == 1), key=lambda e: (e.start, e.end))
    for a, b in itertools.pairwise(first):
        assert not a.conflicts(b)
    if report.verdict in {Verdict.PASS, Verdict.REPAIRED}:
        assert released_digit_runs(report) == [], report.output
        assert not [f for f in report.residual if f.status is FindingStatus.OPEN]


# -- the report's case -------------------------------------------------------------------------


CARD = luhn("411111111111111")
IBAN_WITH_CARD = grouped(iban("DE", CARD[:16] + "00"))  # DE95 4111 1111 1111 1111 00


def test_iban_holding_a_card_run_is_masked_whole(engine: Engine) -> None:
    text = f"Pay to {IBAN_WITH_CARD} today."
    report = engine.validate(text)
    codes = {f.code: f for f in report.findings}
    assert set(codes) == {"PII003", "PII004"}  # both detectors fired
    assert report.output == "Pay to <IBAN_CODE> today."  # the whole IBAN, as the value it is
    assert report.verdict is Verdict.REPAIRED
    assert [(a.edit.start, a.edit.end, a.edit.code) for a in report.edits] == [(7, 7 + len(IBAN_WITH_CARD), "PII004")]
    assert all(f.status is FindingStatus.REPAIRED for f in report.findings)
    assert_no_part_released(report)


def test_email_holding_a_card_is_masked_whole(engine: Engine) -> None:
    report = engine.validate(f"Write to {CARD}@example.org now")
    assert "example.org" not in report.output
    assert report.output == "Write to <EMAIL_ADDRESS_1> now"
    assert_no_part_released(report)


# -- every entity pair, overlapping or nested --------------------------------------------------


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


def _card() -> st.SearchStrategy[str]:
    return st.builds(
        lambda p, body, g: (grouped if g else str)(luhn(p + body)), st.sampled_from("4536"), _digits(14), st.booleans()
    )


def _iban() -> st.SearchStrategy[str]:
    return st.builds(lambda bban, g: (grouped if g else str)(iban("DE", bban)), _digits(18), st.booleans())


def _phone() -> st.SearchStrategy[str]:
    return st.builds(
        lambda fmt, area, line: fmt.format(a=area, n=line),
        st.sampled_from(["+1 {a} 555 {n}", "({a}) 555-{n}", "+1-{a}-555-{n}"]),
        st.sampled_from(["212", "415", "646", "312"]),
        st.builds(lambda d: "01" + d, _digits(2)),
    )


ENTITIES: dict[str, st.SearchStrategy[str]] = {
    "EMAIL_ADDRESS": st.builds(
        lambda local, domain: f"{local}@{domain}",
        st.text("abcdefghijklmnopqrstuvwxyz0123456789.", min_size=1, max_size=12).filter(
            lambda s: s[0] != "." and s[-1] != "." and ".." not in s
        ),
        st.sampled_from(["example.org", "mail.example.com"]),
    ),
    "PHONE_NUMBER": _phone(),
    "CREDIT_CARD": _card(),
    "IBAN_CODE": _iban(),
    "IP_ADDRESS": st.builds(lambda o: ".".join(map(str, o)), st.lists(st.integers(1, 254), min_size=4, max_size=4)),
    "US_SSN": st.builds(
        lambda a, b, c: f"{a}-{b:02d}-{c:04d}", st.integers(101, 665), st.integers(1, 99), st.integers(1, 9999)
    ),
    "MAC_ADDRESS": st.builds(
        lambda bs: ":".join(f"{b:02X}" for b in bs), st.lists(st.integers(0, 255), min_size=6, max_size=6)
    ),
    "CRYPTO": st.sampled_from(["1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"]),
}
PAIRS = list(itertools.product(sorted(ENTITIES), repeat=2))


def _compose(mode: str, a: str, b: str, cut: int) -> str:
    compact = re.sub(r"[^0-9A-Za-z]", "", b)
    if mode == "adjacent":
        return a + b
    if mode == "nested":  # b written inside a
        k = cut % (len(a) + 1)
        return a[:k] + b + a[k:]
    if mode == "shared":  # a's tail is b's head
        k = min(cut % 6, len(a), len(b))
        return a + b[k:] if a[len(a) - k :] == b[:k] else a + b
    if mode == "email":  # both inside an e-mail address's local part
        return f"{re.sub(r'[^0-9A-Za-z]', '', a)}.{compact}@example.org"
    # "iban": b's digits carried inside an IBAN's account number, next to a
    digits = (re.sub(r"\D", "", b) + "0" * 18)[:18]
    return f"{a} {grouped(iban('DE', digits))}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pair=st.sampled_from(PAIRS),
    mode=st.sampled_from(["adjacent", "nested", "shared", "email", "email", "iban", "iban"]),
    cut=st.integers(0, 40),
    context=st.sampled_from(["", "ssn ", "account ", "card "]),
    data=st.data(),
)
@example(pair=("CREDIT_CARD", "IBAN_CODE"), mode="iban", cut=0, context="", data=None).via("the report's case")
def test_overlapping_values_are_never_partly_released(
    engine: Engine, pair: tuple[str, str], mode: str, cut: int, context: str, data: st.DataObject | None
) -> None:
    if data is None:
        a, b = CARD, CARD
    else:
        a, b = data.draw(ENTITIES[pair[0]], label="a"), data.draw(ENTITIES[pair[1]], label="b")
    text = f"Note {context}{_compose(mode, a, b, cut)} end."
    report = engine.validate(text)
    spans = [f.span for f in report.findings]
    overlapping = {
        "/".join(sorted({str(f.evidence.details.get("entity")), str(g.evidence.details.get("entity"))}))
        for f, g in itertools.combinations(report.findings, 2)
        if f.span.overlaps(g.span)
    }
    event(f"findings overlap: {bool(overlapping)} ({len(spans)} findings)")
    for names in overlapping:
        event(f"overlapping entities {names}")
    assert_no_part_released(report)
