"""The phone region filter is exact: phonenumbers' matcher, run per region over the windows of the candidate
runs the filter keeps for it, reports the same numbers as over the full text (presidio's union of regions)."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guardrails.checks._pii import phones
from guardrails.checks._pii import windows as win

REGIONS = phones.distinct_dialling_regions(("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"))
VALID = phonenumbers.Leniency.VALID

Span = tuple[int, int]


def full_text(text: str) -> dict[str, set[Span]]:
    return {r: {(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, r, leniency=VALID)} for r in REGIONS}


def windowed(text: str) -> dict[str, set[Span]]:
    """What a scan running each region only over the windows the filter keeps for it finds."""
    found: dict[str, list[win.Window]] = {r: [] for r in REGIONS}
    for run in phones.phone_runs(text, REGIONS):
        for r in run.regions:
            found[r].append(win.Window(run.window_start, run.window_end))
    out: dict[str, set[Span]] = {}
    for r, windows in found.items():
        compact = win.compact(text, win.merge(windows))
        spans = set()
        for m in phonenumbers.PhoneNumberMatcher(compact.text, r, leniency=VALID):
            span = compact.to_original(m.start, m.end)
            assert span is not None
            spans.add(span)
        out[r] = spans
    return out


def assert_exact(text: str) -> None:
    full = full_text(text)
    union = set().union(*full.values())
    segments = list(phones.phone_runs(text, REGIONS))  # a segment may join several candidate runs
    for m in phones.PHONE_CANDIDATE.finditer(text):
        start, end = m.span()
        kept = next((g.regions for g in segments if g.start <= start < g.end), ())
        by_kept = set().union(*(full[r] for r in kept))
        for r in REGIONS:
            if r in kept:
                continue
            inside = {s for s in full[r] if start <= s[0] < end}
            # a dropped region reports nothing here but the '+' numbers the region standing in for it reports
            assert inside <= by_kept, (text, (start, end), r, inside - by_kept)
    assert set().union(*windowed(text).values()) == union, text


_TOKENS = st.sampled_from(
    [
        *"0123456789", "0", "1", "00", "+", "(", ")", " ", "-", ".", "/", ":", "x", "X", "a", "%", "$", "#",
        "\\", " ext. ", " - ", "\u2013", "\uff0b", "\u0661", "2019", "030", "0049", "011", "+1", "+44", "+33",
        "+49", "+91", "+972", "+55", "555", "0151", "415", "7946", "0958", "12:30", "20", ";ext=", "1992-11-12 07",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TOKENS, min_size=1, max_size=40).map("".join))
@example("9 " + "(212) 736-5000 " * 7)
@example("04/23/1981 #-4929697010226317. 2001")  # a run can start right after a digit
@example("+44 20 7946 0958095820 ext. 01 42 68 53 00")
@example("0 0 5002 0200")  # an IDD split across groups: GB reads it as +500 20200
@example("905-674-3793 731-83-4418 +46 (0)179 459 33 48.90.248.226 2005-07-21 18:30 (91) 5676-6953")
@example("+44 20 7946 0958/x12 030 12345678")
@example("tel: 555 0151 7946 0958 415 2019 030 555 0151 7946 0958 415 2019 030 555 0151 7946 0958 415 20")
def test_filter_is_exact_on_generated_text(text: str) -> None:
    assert_exact(text)


_NUMBERS = [
    "+1 415-867-5309", "(212) 736-5000", "+44 20 7946 0958", "020 7946 0958", "030 12345678", "+49 30 1234567",
    "0049 30 1234567", "01 42 68 53 00", "+33 1 42 68 53 00", "+972-3-1234567", "03-1234567", "+91 98765 43210",
    "098765 43210", "+55 11 98765-4321", "(11) 98765-4321", "0151 23456789", "07700 900123", "1-800-555-0199",
    "011 44 20 7946 0958", "536-22-1234", "4111 1111 1111 1111", "192.168.0.1", "2024-01-02 08:00", "12/31/2019",
]  # fmt: skip
_GLUE = [" ", "  ", ", ", "; ", "/", " / ", "-", " - ", ".", ". ", ":", " x ", "x", "\n", " tel ", "abc", "%", ""]


def random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_NUMBERS) + rng.choice(_GLUE) for _ in range(rng.randint(1, 10))) for _ in range(n)]


def test_filter_is_exact_on_a_random_corpus() -> None:
    for text in random_texts(400, seed=7):
        assert_exact(text)


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("731-83-4418", ()),  # DE would need its national prefix 0
        ("2005-07-21 18", ()),
        ("+46 (0)179 459 33", ()),  # Sweden: not a valid number whichever way it is cut
        ("+44 20 7946 0958", ("US",)),  # one region stands in for all: read alike everywhere
        ("01 42 68 53 00", ("FR",)),
        ("2019", ()),
    ],
)
def test_examples(run: str, expected: tuple[str, ...]) -> None:
    assert phones.regions_to_try(run, REGIONS, "", "") == expected


def test_neighbours_matter_and_unknown_ones_keep_more() -> None:
    run = "030 12345678"
    assert "DE" in phones.regions_to_try(run, REGIONS, " ", " ")
    assert "DE" not in phones.regions_to_try(run, REGIONS, "a", "b")  # a Latin letter on each side
    assert "DE" in phones.regions_to_try(run, REGIONS)  # unknown neighbours: nothing rejected
    assert phones.regions_to_try("2024-01-02 08", REGIONS, " ", ":00") == ()  # a time stamp


def test_a_search_resumed_inside_a_run_may_go_on_into_the_next_run() -> None:
    text = "9 " + "(212) 736-5000 " * 7  # _PATTERN stops after 21 blocks: "...(212) 736" and then "5000"
    assert [m.group() for m in phones.PHONE_CANDIDATE.finditer(text)][-1] == "5000"
    runs = list(phones.phone_runs(text, REGIONS))  # the 7th number is found from a search resumed after the 6th
    assert [text[r.start : r.end] for r in runs] == [text.strip()]
    assert_exact(text)
    text = "+44 20 7946 0958095820 ext. 01 42 68 53 00"  # an extension's digits end a run, start a number
    assert [text[r.start : r.end] for r in phones.phone_runs(text, REGIONS)] == [text]
    assert_exact(text)


@pytest.mark.parametrize(
    "text",
    [
        "Téléphone : 01 42 68 53 00, portable 06 12 34 56 78.",
        "電話 03-1234-5678 または +81 3-1234-5678",
        "tel \u0660\u0661\u0665\u0661 \u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669 or +\u0664\u0669",
        "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in "Tel:+44 20 7946 0958"),  # fullwidth
        "call 1-800-FLOWERS or 1-800-356-9377 x123",  # vanity letters, an extension
        "2024-01-02 08:00:00 2024-01-02 08 12/31/2019 211-227 (2003)",  # time stamps, dates, pages
        "tel:+1-415-867-5309;ext=12 (415) 867-5309/x12 415\\x 867",
        "\u200b+44\u200b20 7946 0958\u00a0and 0\u20609\u2060 7946",
        "x" * 500 + "415 867 5309" + "9" * 500,  # a long digit block around a number
    ],
)
def test_filter_is_exact_on_hostile_and_non_english_text(text: str) -> None:
    assert_exact(text)


def test_filter_is_exact_on_a_long_output() -> None:
    text = " ".join(random_texts(60, seed=11))  # about 6 KB of numbers and glue
    assert len(text) > 4000
    assert_exact(text)


def test_default_regions_are_presidios() -> None:
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    assert tuple(PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS) == phones.DEFAULT_REGIONS


_PHONE_ISH = st.text(
    alphabet=st.sampled_from("0123456789 +-().x/#,;:ABCdefXYZ%$€£٣１²éΣ\u0301\u00a0"), max_size=24
) | st.text(max_size=12)


@settings(max_examples=500, deadline=None)
@given(_PHONE_ISH)
def test_fast_normalising_is_phonenumbers_own(s: str) -> None:
    assert phones.digits_only(s) == phonenumbers.phonenumberutil.normalize_digits_only(s)
    assert phones._normalize(s) == phonenumbers.phonenumberutil._normalize(s)


def test_rejecting_neighbours_table_is_phonenumbers_own() -> None:
    for c in map(chr, range(0x250)):
        assert phones._rejects(c) == phones._rejects_by_phonenumbers(c), repr(c)


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="0123456789", min_size=1, max_size=30),
    st.sampled_from([None, "", " ", "a", "%", "$", "(", "+", "1", "é"]),
    st.sampled_from([None, "", " ", "a", "%", "€", ")", "-", ":30", " 12", "/x"]),
)
def test_digit_runs_take_the_matchers_walk(run: str, before: str | None, after: str | None) -> None:
    assert phones.attempts(run, before, after, REGIONS) == phones._walk(run, before, after, REGIONS, None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", max_size=30))
def test_digit_strings_are_read_as_parse_reads_them(s: str) -> None:
    assert phones.reading.__wrapped__(s) == phones._read(s)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=2, max_size=17), st.sampled_from(REGIONS))
def test_surely_not_only_rejects_what_cannot_validate(digits: str, region: str) -> None:
    if phones._surely_not(digits, region):
        assert not phones.may_be_valid_in(phones.Reading(number=digits, digits=digits, raw=digits), region)


def test_a_region_with_a_prefix_transform_is_bounded_by_length() -> None:
    assert phones._region_shortest("BR") == 8  # its shortest valid numbers have 8 digits
    assert phones._surely_not("2002", "BR")
