"""One finding per problem: a rule's `supersedes` drops another rule's overlapping finding of the same problem.

The bundled case: with sources in the context, GRD004 (a URL no source contains) and HAL004 (a URL neither
on an allowed domain nor among the sources) flag the same URL; HAL004 supersedes GRD004.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails import Engine, RuleError, Verdict, load_ruleset
from tests.helpers import engine_with, rule, write_rules

WORD = "tests.engine_checks:WordCheck"
SOURCES = {
    "sources": [
        {"text": "The annual report is online at https://example.org/report.", "url": "https://example.org/report"}
    ]
}


DEFAULT = Engine.from_policy("default")  # has both GRD004 and HAL004


def _url_findings(engine: Engine, text: str, context: dict[str, object]) -> list[tuple[str, str, list[str]]]:
    report = engine.validate(text, context)
    return [
        (f.code, text[f.span.start : f.span.end], f.evidence.details.get("supersedes", []))
        for f in report.findings
        if f.code in ("GRD004", "HAL004")
    ]


def test_one_finding_per_url_as_hal004_located_to_the_character() -> None:
    text = (
        "See https://made-up.example.net/report-2023, www.invented.org/page-12 and "
        "**https://en.wikipedia.org/wiki/Foo_(bar)**. The source: https://example.org/report."
    )
    found = _url_findings(DEFAULT, text, SOURCES)
    assert found == [
        ("HAL004", "https://made-up.example.net/report-2023", ["GRD004"]),
        ("HAL004", "www.invented.org/page-12", ["GRD004"]),
        ("HAL004", "https://en.wikipedia.org/wiki/Foo_(bar)", ["GRD004"]),
    ]
    report = DEFAULT.validate(text, SOURCES)
    assert report.verdict is Verdict.REGENERATE
    # the numbers, dates and names inside a URL are not separate ungrounded items (GRD001/GRD002/GRD005)
    urls = [f.span for f in report.findings if f.code == "HAL004"]
    assert not [f.code for f in report.findings if f.code != "HAL004" and any(u.overlaps(f.span) for u in urls)]


def test_grd004_stays_where_hal004_does_not_apply() -> None:
    context = {**SOURCES, "allowed_domains": ["python.org"]}
    # on an allowed domain: HAL004 is satisfied, but no source has the page, which GRD004 still reports
    assert _url_findings(DEFAULT, "Read https://docs.python.org/3/library/re.html", context) == [
        ("GRD004", "https://docs.python.org/3/library/re.html", [])
    ]
    # no sources, only allowed domains: grounding has nothing to compare with, HAL004 alone
    assert _url_findings(DEFAULT, "Read https://evil.example.net/x", {"allowed_domains": ["python.org"]}) == [
        ("HAL004", "https://evil.example.net/x", [])
    ]
    assert _url_findings(DEFAULT, "Read https://example.org/report.", SOURCES) == []


def test_a_policy_without_the_citation_rule_keeps_grd004() -> None:
    facts = Engine.from_policy("facts")  # pack:facts + pack:grounding
    assert _url_findings(facts, "See https://made-up.example.net/x.", SOURCES) == [
        ("GRD004", "https://made-up.example.net/x", [])
    ]


PIECES = ["https://a.example.net/p", "www.b.org/q-7", "https://example.org/report", "(https://c.io/x_(y))",
          " and ", ". ", "\u00fcber ", "2024 ", "\u65e5\u672c "]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=8).map("".join))
def test_no_url_is_reported_twice(text: str) -> None:
    report = DEFAULT.validate(text, SOURCES)
    urls = [f for f in report.findings if f.code in ("GRD004", "HAL004")]
    for i, a in enumerate(urls):
        assert not any(a.span.overlaps(b.span) for b in urls[i + 1 :]), (text, urls)


def test_supersedes_is_generic_and_needs_an_overlap(tmp_path: Path) -> None:
    rules = [
        rule("says-darn", "TST001", WORD, params={"word": "darn"}),
        rule("says-darn-it", "TST002", WORD, params={"word": "darn it"}, supersedes=["says-darn"], action="block"),
    ]
    engine = engine_with(tmp_path, rules)
    report = engine.validate("darn it, and darn again")
    assert [(f.code, f.span.start, f.span.end) for f in report.findings] == [("TST001", 13, 17), ("TST002", 0, 7)]
    assert report.findings[1].evidence.details["supersedes"] == ["TST001"]
    assert report.verdict is Verdict.BLOCK


def test_supersedes_names_existing_rules_without_cycles(tmp_path: Path) -> None:
    def problems(rules: list[dict[str, object]], sub: str) -> str:
        d = write_rules(tmp_path / sub, rules)
        with pytest.raises(RuleError) as exc:
            load_ruleset([d])
        return str(exc.value)

    msg = problems([rule("a-thing", "TST001", WORD, params={"word": "x"}, supersedes=["TST999"])], "unknown")
    assert "rule 'a-thing': key 'supersedes': 'TST999': no rule with that id or code" in msg
    msg = problems([rule("a-thing", "TST001", WORD, params={"word": "x"}, supersedes=["a-thing"])], "self")
    assert "a rule cannot supersede itself" in msg
    cycle = [
        rule("a-thing", "TST001", WORD, params={"word": "x"}, supersedes=["TST002"]),
        rule("b-thing", "TST002", WORD, params={"word": "y"}, supersedes=["a-thing"]),
    ]
    assert "key 'supersedes': a cycle" in problems(cycle, "cycle")


def test_bundled_rules_supersede_only_known_rules() -> None:
    rs = load_ruleset([])
    hal004 = rs.by_code("HAL004")
    assert hal004 is not None and hal004.rule.supersedes == ["GRD004"]
