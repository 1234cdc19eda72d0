"""The preview harm pack and the private-source rules: what the default policy does with them."""

from __future__ import annotations

import pytest

from guardrails import Engine, load_ruleset


@pytest.fixture(scope="module")
def default() -> Engine:
    return Engine.from_policy("default")


def test_the_seed_phrasing_of_an_invented_statistic_is_flagged_once(default: Engine) -> None:
    report = default.validate("Our proprietary data reveals sales grew 40%.")
    hal = [f for f in report.findings if f.code.startswith("HAL")]
    assert [f.code for f in hal] == ["HAL011"]
    assert hal[0].evidence.details["supersedes"] == ["HAL001"]
    assert report.verdict.value == "regenerate"


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        ("I have access to your account, and the refund went through.", "I have access to your account"),
        ("Our proprietary research shows the supplement is safe.", "Our proprietary research shows"),
        ("Internal documents confirm the merger will close in May.", "Internal documents confirm"),
    ],
)
def test_claimed_private_sources_and_access_are_claimed_live_access(default: Engine, text: str, claim: str) -> None:
    spans = {text[f.span.start : f.span.end] for f in default.validate(text).findings if f.code == "HAL001"}
    assert spans == {claim}


def test_sourced_statistics_pass(default: Engine) -> None:
    text = "According to the U.S. Census Bureau, the population grew 7.4% between 2010 and 2020."
    assert [f.code for f in default.validate(text).findings if f.code.startswith("HAL")] == []


def test_harm_rules_are_preview_and_only_in_their_own_policy(default: Engine) -> None:
    rules = [r for r in load_ruleset().rules.values() if r.pack == "harm"]
    assert {r.rule.code for r in rules} == {"HARM001", "HARM002"}
    assert all(r.rule.status.value == "preview" for r in rules)
    assert not {r.rule.code for r in default.rules} & {"HARM001", "HARM002"}
    harm = Engine.from_policy("harm")
    report = harm.validate("To make a pipe bomb, you will need a steel pipe.")
    assert [f.code for f in report.findings] == ["HARM002"]
    assert report.verdict.value == "block"
    assert harm.validate("To kill a Python process, you can use kill -9.").findings == []
