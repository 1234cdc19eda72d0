"""The grounding check: entities, numbers, dates, quotes and URLs absent from every source passage."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.checks.base import RunContext
from guardrails.checks.grounding import GroundingCheck, GroundingParams
from guardrails.context import Context
from guardrails.document import Document

SOURCES = [
    {
        "text": "Arthur's Magazine (1844\u20131846) was an American literary periodical published in Philadelphia. "
        "It sold 12,000 copies on March 5, 1845, and cost $1.50.",
        "url": "https://example.org/arthur",
    },
    {
        "text": "First for Women is a woman's magazine published by Bauer Media Group in the USA. "
        'Its motto was "every woman, every day". More at https://bauer.example.com/ffw/.'
    },
]


def _hits(text: str, sources: list[dict[str, Any]] | None = SOURCES, **params: Any) -> list[tuple[str, str]]:
    check = GroundingCheck(GroundingParams(**params))
    ctx = Context(
        sources=sources or [], prompt="Which magazine was started first, Arthur's Magazine or First for Women?"
    )
    return [(h.values["kind"], text[h.start : h.end]) for h in check.run(Document(text), RunContext(ctx))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Arthur's Magazine was started first.", []),
        ("First for Women, by Bauer Media Group.", []),
        ("Arthur's Magazine was founded in Boston.", [("entity", "Boston")]),
        ("It was edited by Timothy Arthur.", [("entity", "Timothy Arthur")]),
        ("It sold 12000 copies.", []),
        ("It sold 15,000 copies.", [("number", "15,000")]),
        ("It cost $1.50, or 1.5 dollars.", []),
        ("On 5 March 1845 it sold well; in 1844 it started.", []),
        ("On 6 March 1845 it sold well.", [("date", "6 March 1845")]),
        ("It closed in 1850.", [("date", "1850")]),
        ('Its motto: "every woman, every day".', []),
        ('Its motto: "every woman, every night".', [("quote", "every woman, every night")]),
        ("See https://example.org/arthur/ and https://BAUER.example.com/ffw.", []),
        ("See https://evil.example.net/x.", [("url", "https://evil.example.net/x")]),
        ("The Magazine was published in Philadelphia.", []),
    ],
)
def test_grounding(text: str, expected: list[tuple[str, str]]) -> None:
    assert _hits(text) == expected


def test_a_url_is_one_item_found_as_the_citation_check_finds_it() -> None:
    text = "See www.made-up.org/page-12, **https://x.example/report-2031** and https://en.wiki.org/Foo_(Bar)."
    assert _hits(text) == [
        ("url", "www.made-up.org/page-12"),
        ("url", "https://x.example/report-2031"),
        ("url", "https://en.wiki.org/Foo_(Bar)"),
    ]
    # with URLs switched off (GRD001, GRD002, GRD005) the pieces of a URL are still not items of their own
    no_urls = {"urls": False}
    assert _hits(text, **no_urls) == []
    assert _hits("Also https://example.org/arthur/1999/Boston", **no_urls) == []


def test_no_sources_means_nothing_to_ground_against() -> None:
    assert _hits("Boston, 1850, https://x.example", sources=None) == []


def test_each_kind_can_be_switched_off() -> None:
    text = 'Boston in 1850 sold 999 "made up quote here" https://x.example/a'
    assert {k for k, _ in _hits(text)} == {"entity", "date", "number", "quote", "url"}
    off = {"entities": False, "dates": False, "numbers": False, "quotes": False, "urls": False}
    assert _hits(text, **off) == []
    assert [k for k, _ in _hits(text, **{**off, "numbers": True})] == ["number"]


def test_the_prompt_counts_as_a_source_unless_disabled() -> None:
    assert _hits("First for Women.", sources=[{"text": "unrelated"}]) == []
    assert _hits("First for Women.", sources=[{"text": "unrelated"}], include_prompt=False) == [
        ("entity", "First for Women")
    ]


def test_words_share() -> None:
    src = [{"text": "The watermelon seeds pass through your digestive system."}]
    [(kind, _)] = _hits("Watermelon seeds grow into vines in your stomach.", sources=src, words=True, entities=False)
    assert kind == "words"
    assert _hits("The seeds pass through the digestive system.", sources=src, words=True) == []


def test_non_english_and_accents() -> None:
    src = [{"text": "Die Zürcher Kantonalbank wurde 1870 gegründet und hat 5.000 Mitarbeiter."}]
    assert _hits("Die ZURCHER Kantonalbank wurde 1870 gegründet.", sources=src) == []
    assert _hits("Die Zürcher Kantonalbank wurde 1871 in Genf gegründet.", sources=src) == [
        ("date", "1871"),
        ("entity", "Genf"),
    ]
    assert _hits("東京タワーは333メートルです。", sources=[{"text": "東京タワーの高さは333 m。"}]) == []


def test_huge_and_hostile_output_is_bounded() -> None:
    text = "Boston 1850 " * 50_000
    hits = _hits(text, max_items=100)
    assert len(hits) == 100
    nasty = '"' * 10_000 + "http://" * 5000 + "\u202e\u0000" + "A" * 10_000
    for _, s in _hits(nasty):
        assert s in nasty


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('Ab Zü1,.5 "“”$%-/:http\n')), max_size=100))
def test_spans_lie_inside_the_text(text: str) -> None:
    check = GroundingCheck(GroundingParams(words=True))
    for h in check.run(Document(text), RunContext(Context(sources=SOURCES))):
        assert 0 <= h.start <= h.end <= len(text)
