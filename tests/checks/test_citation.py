from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks._helpers import build, hits, spans

SOURCES = {
    "sources": [
        {
            "text": "The 2021 report (doi 10.5555/abc.123) by Rasch and Born...",
            "url": "https://example.com/reports/2021",
        },
        {"text": "See also www.stats.gov.example/table-4 for the table."},
    ]
}


def test_urls_outside_allowed_domains_are_flagged_with_domain() -> None:
    check = build("citation", kinds=["url"])
    text = "See https://docs.python.org/3/ and https://made.up/page, or http://sub.python.org/x."
    [hit] = hits(check, text, {"allowed_domains": ["python.org"]})
    assert text[hit.start : hit.end] == "https://made.up/page"
    assert hit.values == {"kind": "URL", "domain": "made.up"}
    assert hit.evidence.details["allowed_domains"] == ["python.org"]


def test_params_domains_add_to_context_domains() -> None:
    check = build("citation", kinds=["url"], allowed_domains=["WWW.Example.org"])
    assert spans(check, "a https://example.org/x b https://bad.net", {"allowed_domains": ["python.org"]}) == [
        "https://bad.net"
    ]


def test_source_urls_and_source_text_vouch_for_urls() -> None:
    check = build("citation", kinds=["url"])
    text = (
        "Read https://example.com/reports/2021/, https://example.com/reports/2021/annex, "
        "www.stats.gov.example/table-4 and https://example.com/other."
    )
    assert spans(check, text, SOURCES) == ["https://example.com/other"]


def test_trailing_punctuation_and_balanced_parentheses() -> None:
    check = build("citation", kinds=["url"])
    text = "(see https://en.wikipedia.org/wiki/Python_(language)). Also <https://x.io/a>."
    assert spans(check, text, {"allowed_domains": ["python.org"]}) == [
        "https://en.wikipedia.org/wiki/Python_(language)",
        "https://x.io/a",
    ]


def test_dois_must_appear_in_sources() -> None:
    check = build("citation", kinds=["doi", "url"])
    text = "Known 10.5555/abc.123, invented doi:10.9999/xyz.42. Link https://doi.org/10.9999/xyz.42"
    found = hits(check, text, SOURCES)
    assert [(text[h.start : h.end], h.values["kind"]) for h in found] == [
        ("10.9999/xyz.42", "DOI"),
        ("https://doi.org/10.9999/xyz.42", "URL"),
    ]


def test_author_year_citations() -> None:
    check = build("citation", kinds=["author_year"])
    text = "Sleep helps (Rasch and Born, 2013); others disagree (Walker et al., 2017). In 2019) nothing."
    assert spans(check, text, SOURCES) == ["(Walker et al., 2017)"]


def test_silent_without_reference_unless_asked() -> None:
    text = "See https://made.up/page."
    assert hits(build("citation"), text) == []
    assert spans(build("citation", if_no_reference="flag"), text) == ["https://made.up/page"]


def test_non_ascii_hosts_and_text() -> None:
    check = build("citation", kinds=["url"])
    text = "Voir https://exemple.fr/été et https://bücher.de/straße."
    assert spans(check, text, {"allowed_domains": ["exemple.fr"]}) == ["https://bücher.de/straße"]


def test_huge_output_with_many_urls_is_capped() -> None:
    check = build("citation", kinds=["url"], max_matches=5)
    text = "x https://bad.example/p " * 50_000
    assert len(hits(check, text, {"allowed_domains": ["ok.org"]})) == 5


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("htps:/w.x()[]10 \u200b\u00e9doi,")), max_size=200))
def test_spans_inside_text(text: str) -> None:
    check = build("citation", kinds=["url", "doi", "author_year"], if_no_reference="flag")
    for hit in hits(check, text):
        assert 0 <= hit.start <= hit.end <= len(text)
