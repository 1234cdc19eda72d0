"""The policy-wide Hyperscan prefilter of the regex check: it may only skip work, never change a finding."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regex
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


# -- exact starts: Hyperscan's leftmost start of match tells `regex` where to search --------------------------------

# Patterns in the syntax both engines read alike (scanned exactly on printable ASCII), with the traps of leftmost
# semantics: alternatives of different lengths, lazy and greedy repeats, a flagged group, case folding, \b, ^ and $
# with and without MULTILINE, and a pattern reporting at every character.
EXACT_RULES: list[tuple[str, str, str, int | str]] = [
    ("email", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "", 0),
    ("phone", r"\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}", "", 0),
    ("ssn", r"\b\d{3}-\d{2}-\d{4}\b", "", 0),
    ("ticket", r"\b[A-Z]{2,5}-\d{2,6}\b", "", 0),
    ("url", r"https?://[^\s\"'<>]+", "", 0),
    ("alternation", r"ab|abcd|b+c", "i", 0),
    ("lazy", r"x.*?y|x\d+?", "", 0),
    ("group", r"(?:id|ref)[:=](\w+)", "", 1),
    ("line-start", r"^\w+:", "m", 0),
    ("text-end", r"\d+$", "", 0),
    ("word-run", r"\w+", "", 0),
]


def _exact_engine(*, prefilter: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Engine:
    from tests.helpers import engine_with, rule

    rules = [
        rule(f"ex-{name}", f"TST{i:03d}", "regex", params={"pattern": p, "flags": f, "group": g}, action="warn")
        for i, (name, p, f, g) in enumerate(EXACT_RULES, 1)
    ]
    with monkeypatch.context() as m:
        if not prefilter:
            m.setattr(_multiscan, "_hyperscan", lambda: None)
        return engine_with(tmp_path, rules)


@pytest.fixture(scope="module")
def exact_engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Engine]:
    mp = pytest.MonkeyPatch()
    try:
        fast = _exact_engine(prefilter=True, monkeypatch=mp, tmp_path=tmp_path_factory.mktemp("fast"))
        plain = _exact_engine(prefilter=False, monkeypatch=mp, tmp_path=tmp_path_factory.mktemp("plain"))
        return fast, plain
    finally:
        mp.undo()


def test_patterns_in_the_shared_syntax_are_scanned_exactly(exact_engines: tuple[Engine, Engine]) -> None:
    fast, _ = exact_engines
    checks = [c.check for c in fast.rules if isinstance(c.check, RegexCheck)]
    assert all(c._multi is not None and c._multi.patterns.exact[c._mslot] for c in checks)


@pytest.mark.parametrize(
    ("pattern", "flags", "exact"),
    [
        (r"\b[A-Z]{2,5}-\d{2,6}\b", 0, True),
        (r"(?:a|b)+\.c", regex.IGNORECASE | regex.MULTILINE | regex.DOTALL, True),
        (r"(?<![A-Za-z0-9])AKIA[0-9A-Z]{16}", 0, False),  # lookbehind: Hyperscan only approximates it
        (r"(?i)sk-\w+", 0, False),  # inline flags
        (r"a{,3}", 0, False),  # `regex` reads {0,3}, PCRE a literal
        (r"[[:alpha:]]+", 0, False),
        (r"\p{L}+", 0, False),
        (r"it\u2019s", 0, False),  # a code point: case folding of one can reach an ASCII letter
        (r"caf\xe9", 0, False),
        ("café", 0, False),
        (r"(\w)\1", 0, False),  # back-reference
        (r"\Aabc\Z", 0, False),  # \Z: end of text to `regex`, before a final newline to PCRE
        (r"a b", regex.VERBOSE, False),
    ],
)
def test_exact_syntax(pattern: str, flags: int, exact: bool) -> None:
    assert _multiscan._exact_syntax(pattern, flags) is exact


def test_only_printable_ascii_text_is_scanned_exactly() -> None:
    patterns = PatternSet([(r"\b\d{3}-\d{2}-\d{4}\b", 0), (r"(?<!x)abc", 0)])
    assert patterns.exact == (True, False)
    scan = patterns.scan("ssn 078-05-1120 and abc\tok\r\n")
    assert scan is not None and scan.exact(0) and not scan.exact(1)
    assert scan.found == frozenset({0, 1})
    # \x1c is whitespace to `regex`'s \s, not to Hyperscan's; non-ASCII letters are \w to one and not the other.
    for text in ("ssn 078-05-1120\x1c", "ssn 078-05-1120 é"):
        scan = patterns.scan(text)
        assert scan is not None and not scan.exact(0) and scan.found == frozenset({0})


def test_start_bound_is_the_least_start_of_the_reports_ending_past_an_offset() -> None:
    patterns = PatternSet([(r"[a-z]+@[a-z]+\.com", 0)])
    scan = patterns.scan("xx ab@cd.com yy ef@gh.com zz")
    assert scan is not None
    assert scan.start_bound(0, 0) == 3
    assert scan.start_bound(0, 4) == 4  # never below the offset searched from
    assert scan.start_bound(0, 12) == 16
    assert scan.start_bound(0, 25) is None
    assert _multiscan._exact_reports([5, 1, 3], [9, 4, 7]) == ([4, 7, 9], [1, 3, 5])  # out of order: sorted


def test_a_pattern_reporting_everywhere_falls_back_to_the_prefilter() -> None:
    patterns = PatternSet([(r"\w+", 0), (r"\d{3}-\d{4}", 0)])
    text = "word " * 2000 + "555-1234"
    scan = patterns.scan(text)
    assert scan is not None and not scan.exact(0) and scan.found == frozenset({0, 1})


EXACT_PIECES = [
    "ana.12@mail3.example.com",
    "a@b.co",
    "@x.",
    "(425) 882-9090",
    "425.882.9090",
    "078-05-1120",
    "OPS-1234",
    "TKT-12",
    "https://help.example.com/a/1",
    "http://",
    "ab",
    "ABCD",
    "bbbc",
    "x",
    "y",
    "x12",
    "id:",
    "ref=",
    "abc_9",
    "key:",
    "1",
    "99",
    " ",
    "\n",
    "\t",
    "\r\n",
    "\x1c",
    "é",
    "-",
    ".",
]
EXACT_CHUNKS = st.one_of(
    st.sampled_from(EXACT_PIECES),
    st.text(alphabet="abcxyzABZ0123456789 .-@:=/\n", min_size=1, max_size=12),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(EXACT_CHUNKS, max_size=30).map("".join))
def test_exact_starts_give_equal_reports(exact_engines: tuple[Engine, Engine], text: str) -> None:
    fast, plain = exact_engines
    assert _comparable(fast, text) == _comparable(plain, text)


def test_exact_starts_give_equal_reports_on_long_texts(exact_engines: tuple[Engine, Engine]) -> None:
    fast, plain = exact_engines
    rng = random.Random(19)
    for _ in range(60):
        text = " ".join(rng.choice(EXACT_PIECES) for _ in range(rng.randint(50, 400)))
        assert _comparable(fast, text) == _comparable(plain, text)


@pytest.mark.parametrize(
    ("pattern", "start"),
    [
        (r"https?://[^\s]+", r"https?://[^\s]"),  # a link is reported once, not at each character
        (r"[a-z]+@[a-z]+\.[a-z]{2,}", r"[a-z]+@[a-z]+\.[a-z]{2}"),
        (r"(?:ab)+?", "(?:ab)"),
        (r"a\++", r"a\+"),
        (r"a\+", r"a\+"),  # an escaped plus is no repeat
        (r"\\+", r"\\+"),  # left alone: cannot be told from the pattern "+" cheaply
        (r"ab|b+", r"ab|b+"),  # the repeat closes one branch only
        (r"x\d*", r"x\d*"),  # cutting a `*` would need its atom
        (r"\b\d{3}-\d{4}\b", r"\b\d{3}-\d{4}\b"),
    ],
)
def test_start_pattern_cuts_a_final_unbounded_repeat_to_its_minimum(pattern: str, start: str) -> None:
    assert _multiscan._start_pattern(pattern) == start


def test_no_second_database_for_a_few_exact_patterns_among_many() -> None:
    # Compiling the prefiltered patterns again would cost more at policy compile than it saves a scan.
    patterns = PatternSet([(r"hooks\.example\.com/[A-Z0-9]+", 0), *[(rf"(?<![a-z])key{i}[0-9]+", 0) for i in range(3)]])
    assert patterns.exact == (False,) * 4 and patterns.scanned == (True,) * 4
