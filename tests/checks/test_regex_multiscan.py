"""The policy-wide Hyperscan prefilter of the regex check: it may only skip work, never change a finding."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import Engine
from guardrails.checks import _multiscan
from guardrails.checks._multiscan import MAX_PATTERN_CHARS, PatternSet
from guardrails.checks.regex import RegexCheck
from guardrails.rules.compile import compile_policy
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import Policy

RULESET = load_ruleset()
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REGEX_RULES = sorted(r.rule.id for r in RULESET.rules.values() if r.rule.check == "regex")


def _engine(rules: list[str], *, prefilter: bool, monkeypatch: pytest.MonkeyPatch) -> Engine:
    with monkeypatch.context() as m:
        if not prefilter:
            m.setattr(_multiscan, "_hyperscan", lambda: None)
        return Engine(compile_policy(Policy(name="regex-parity", rules=rules), RULESET, "<test>"))


def _comparable(engine: Engine, text: str) -> dict[str, Any]:
    report = engine.validate(text).model_dump(mode="json")
    for key in ("elapsed_ms", "timings"):
        report.pop(key)
    return report


def _examples() -> Iterator[str]:
    for loaded in RULESET.rules.values():
        for ex in (*loaded.rule.examples.match, *loaded.rule.examples.no_match):
            yield ex.text


def _fixture_texts() -> Iterator[str]:
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.suffix in {".txt", ".json", ".html", ".md", ".jsonl"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            yield text[:20_000]


@pytest.fixture(scope="module")
def engines() -> tuple[Engine, Engine]:
    mp = pytest.MonkeyPatch()
    try:
        fast = _engine(REGEX_RULES, prefilter=True, monkeypatch=mp)
        return fast, _engine(REGEX_RULES, prefilter=False, monkeypatch=mp)
    finally:
        mp.undo()


def test_the_prefilter_covers_the_short_whole_text_patterns(engines: tuple[Engine, Engine]) -> None:
    fast, plain = engines
    scanned = {c.rule.id for c in fast.rules if isinstance(c.check, RegexCheck) and c.check.multiscanned}
    assert {"aws-access-key-id", "github-token", "slack-token", "json-web-token"} <= scanned
    # Hyperscan refuses its bounded repeat ({1,128}+): the others are compiled without it, and it always runs.
    assert "private-key-block" not in scanned
    assert not any(isinstance(c.check, RegexCheck) and c.check.multiscanned for c in plain.rules)


def test_equal_reports_on_every_bundled_example_and_fixture(engines: tuple[Engine, Engine]) -> None:
    fast, plain = engines
    texts = [*_examples(), *_fixture_texts()]
    assert len(texts) > 300
    for text in texts:
        assert _comparable(fast, text) == _comparable(plain, text), text[:200]


# Pieces of what the secret patterns look for, the characters around their lookarounds, and Unicode that case
# folding treats specially (long s, Kelvin sign, dotted I, sharp s), joined at random.
PIECES = [
    "AKIA",
    "ASIA",
    "A3T",
    "sk-",
    "sk-proj-",
    "ghp_",
    "github_pat_",
    "xoxb-",
    "sk_live_",
    "rk_live_",
    "AIza",
    "eyJ",
    ".eyJ",
    "hooks.slack.com/services/",
    "https://",
    "T0",
    "B0",
    "aws_secret_access_key",
    " = ",
    '"',
    "-----BEGIN RSA PRIVATE KEY-----",
    "\ufffd",
    "\u017f",
    "\u212a",
    "İ",
    "ß",
    "é",
    "/",
    "+",
    "=",
    "_",
    "-",
    " ",
    "\n",
]
CHUNKS = st.one_of(
    st.sampled_from(PIECES),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=40),
    st.text(max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(CHUNKS, max_size=25).map("".join))
def test_equal_reports_on_generated_outputs(engines: tuple[Engine, Engine], text: str) -> None:
    fast, plain = engines
    assert _comparable(fast, text) == _comparable(plain, text)


def test_a_pattern_hyperscan_refuses_or_too_long_is_always_a_candidate() -> None:
    long_pattern = "(?:" + "|".join(f"word{i}" for i in range(MAX_PATTERN_CHARS // 6)) + ")"
    patterns = PatternSet([(r"sk-[a-z]{4}", 0), (long_pattern, 0), (r"\p{Han}{2}\N{EM DASH}", 0)])
    assert patterns.scanned == (True, False, False)
    assert patterns.candidates("nothing here") == frozenset({1, 2})
    assert patterns.candidates("see sk-abcd") == frozenset({0, 1, 2})


def test_text_that_is_not_utf8_runs_every_pattern() -> None:
    patterns = PatternSet([(r"sk-[a-z]{4}", 0)])
    assert patterns.candidates("lone \udc80 surrogate") is None


def test_scratch_per_thread() -> None:
    import threading

    patterns = PatternSet([(r"sk-[a-z]{4}", 0)])
    results: list[frozenset[int] | None] = []

    def scan() -> None:
        for _ in range(200):
            results.append(patterns.candidates("x sk-abcd y" * 50))

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [frozenset({0})] * 800
