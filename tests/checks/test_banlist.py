from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails import Engine
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import load_ruleset
from tests.checks._helpers import build, hits, spans


def test_whole_word_case_and_accent_insensitive() -> None:
    check = build("banlist", terms=["darn", "Crème brûlée"])
    text = "DARN it, darnation! I love creme brulee and CRÈME BRÛLÉE."
    assert spans(check, text) == ["DARN", "creme brulee", "CRÈME BRÛLÉE"]


def test_zero_width_and_curly_quotes_do_not_hide_a_term() -> None:
    check = build("banlist", terms=["don't panic"])
    text = "Please d\u200bon\u2019t panic."
    assert spans(check, text) == ["d\u200bon\u2019t panic"]


def test_decomposed_accents_stay_inside_the_span() -> None:
    check = build("banlist", terms=["café"])
    text = "un cafe\u0301 noir"
    assert spans(check, text) == ["cafe\u0301"]


def test_whitespace_runs_do_not_hide_a_multi_word_term() -> None:
    check = build("banlist", terms=["bad  word"])
    text = "a bad \n\n\t word, bad\u00a0word and badword"
    assert spans(check, text) == ["bad \n\n\t word", "bad\u00a0word"]


def test_longest_match_wins_and_matches_do_not_overlap() -> None:
    check = build("banlist", terms=["new", "new york", "york city"])
    assert spans(check, "I moved to New York City.") == ["New York"]


def test_non_latin_terms() -> None:
    check = build("banlist", terms=["дурак", "ばか"], whole_word=False)
    assert spans(check, "Он ДУРАК. あいつはばかだ") == ["ДУРАК", "ばか"]


def test_evidence_values_and_mask_fix() -> None:
    check = build("banlist", terms=["heck"], mask="*")
    [hit] = hits(check, "What the Heck!")
    assert hit.values == {"term": "heck"}
    assert hit.evidence.pattern == "heck"
    assert hit.fix is not None
    assert [(e.start, e.end, e.replacement) for e in hit.fix.edits] == [(9, 13, "****")]


def test_replacement_fix() -> None:
    check = build("banlist", terms=["acme corp"], replacement="[competitor]")
    [hit] = hits(check, "Try ACME Corp instead")
    assert hit.fix is not None and hit.fix.edits[0].replacement == "[competitor]"


def test_terms_from_a_file_relative_to_the_rule(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "words.txt").write_text("# comment\nfoo bar\n\nbaz#1\n", encoding="utf-8")
    (tmp_path / "pack.yaml").write_text(
        "pack: mine\nrules:\n  - id: my-words\n    code: ZZZ001\n    check: banlist\n"
        "    params: {file: lists/words.txt}\n    message: banned {term}\n",
        encoding="utf-8",
    )
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "mine.yaml").write_text("name: mine\nrules: [pack:mine]\n", encoding="utf-8")
    engine = Engine.from_policy("mine", [tmp_path])
    report = engine.validate("Foo  bar? FOO BAR and baz#1.")
    assert [(f.code, f.message) for f in report.findings] == [
        ("ZZZ001", "banned foo bar"),
        ("ZZZ001", "banned foo bar"),
        ("ZZZ001", "banned baz#1"),
    ]
    assert [(f.span.start, f.span.end) for f in report.findings] == [(0, 8), (10, 17), (22, 27)]


def test_missing_file_is_a_load_error_naming_rule_and_key(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        "pack: mine\nrules:\n  - id: my-words\n    code: ZZZ001\n    check: banlist\n"
        "    params: {file: nope.txt}\n    message: m\n",
        encoding="utf-8",
    )
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "mine.yaml").write_text("name: mine\nrules: [pack:mine]\n", encoding="utf-8")
    with pytest.raises(RuleError) as err:
        Engine.from_policy("mine", [tmp_path])
    assert "my-words" in str(err.value) and "params.file" in str(err.value) and "nope.txt" in str(err.value)


def test_bad_params_fail() -> None:
    with pytest.raises(ValueError, match="terms"):
        build("banlist")
    with pytest.raises(ValueError, match="not both"):
        build("banlist", terms=["x"], mask="*", replacement="y")
    with pytest.raises(ValueError, match="no usable term"):
        build("banlist", terms=["\u200b", "  "])


def test_thousands_of_terms_on_a_megabyte() -> None:
    terms = [f"term{i} word{i}" for i in range(5000)]
    check = build("banlist", terms=terms, max_matches=10_000)
    text = ("lorem ipsum dolor sit amet " * 40_000)[:1_000_000] + " TERM4999 WORD4999"
    t0 = time.perf_counter()
    found = spans(check, text)
    assert found == ["TERM4999 WORD4999"]
    assert time.perf_counter() - t0 < 5  # generous: a hang, not a speed test (see tests/bench)


def test_bundled_profanity_rule_masks_in_repair() -> None:
    rs = load_ruleset()
    from guardrails.rules.compile import compile_policy
    from guardrails.rules.model import Policy

    engine = Engine(compile_policy(Policy(name="p", rules=["TXT010"]), rs))
    report = engine.validate("What the fuck.")
    assert report.output == "What the ****."
    assert [f.code for f in report.findings] == ["TXT010"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_spans_lie_inside_text_and_never_raise(text: str) -> None:
    check = build("banlist", terms=["a", "ß", "é", "x y", "\u0130"], mask="#")
    for hit in hits(check, text):
        assert 0 <= hit.start <= hit.end <= len(text)
        assert hit.fix is not None
