from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails import Engine
from guardrails.checks.base import Deadline, DeadlineExceeded, RunContext, iter_hits
from guardrails.context import Context
from guardrails.document import Document
from guardrails.rules.compile import compile_policy
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import Policy
from tests.checks._helpers import build, hits, spans

PATTERN = r"\b(?:studies|research)\s+(?:shows?|suggests?)\b|\[(?:your|insert)[^\]\n]{0,20}\]"


def test_anchors_give_the_same_matches_as_a_full_scan() -> None:
    full = build("regex", pattern=PATTERN, flags="i")
    anchored = build("regex", pattern=PATTERN, flags="i", anchors=["studies", "research", "["])
    text = "Intro. STUDIES SHOW x. Research suggests y. Sign: [Your Name]. Résearch shows z."
    assert spans(anchored, text) == spans(full, text) == ["STUDIES SHOW", "Research suggests", "[Your Name]"]


def test_anchors_are_whole_words_and_accent_insensitive() -> None:
    check = build("regex", pattern=r"caf[eé]\s+noir", flags="i", anchors=["CAFÉ"])
    assert spans(check, "un café noir, un cafe noir, un cafeteria noir") == ["café noir", "cafe noir"]


def test_no_anchor_no_scan() -> None:
    check = build("regex", pattern=r"(a|aa)+$", anchors=["zebra"])
    t0 = time.perf_counter()
    assert hits(check, "a" * 50_000 + "b", deadline=5) == []
    assert time.perf_counter() - t0 < 1


def test_catastrophic_pattern_times_out_as_deadline() -> None:
    check = build("regex", pattern=r"(a|aa)+$")
    with pytest.raises(DeadlineExceeded):
        hits(check, "a" * 5000 + "b", deadline=0.05)


def test_empty_anchor_is_rejected() -> None:
    with pytest.raises(ValueError, match="anchors"):
        build("regex", pattern="x", anchors=["\u200b"])


def test_head_window_with_anchors() -> None:
    check = build("regex", pattern=r"sorry", flags="i", window="head", window_chars=20, anchors=["sorry"])
    assert spans(check, "Sorry, no. " + "x " * 50 + "sorry again") == ["Sorry"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("studies research show [your] \u00e9\u200bSTUDIES\n.")), max_size=200))
def test_anchored_equals_full_scan(text: str) -> None:
    full = build("regex", pattern=PATTERN, flags="i")
    anchored = build("regex", pattern=PATTERN, flags="i", anchors=["studies", "research", "["], anchor_window=60)
    assert spans(anchored, text) == spans(full, text)


@pytest.mark.parametrize(
    ("pattern", "window", "streaming"),
    [
        ("foo", "all", True),
        ("^foo", "all", False),
        ("done$", "all", False),
        (r"\Astart", "all", False),
        ("[^a-z]+", "all", True),
        (r"\$5", "all", True),
        ("foo", "head", False),
        ("foo", "tail", False),
    ],
)
def test_streaming_only_for_patterns_that_can_judge_a_prefix(pattern: str, window: str, streaming: bool) -> None:
    from guardrails.checks.regex import RegexCheck, RegexParams

    assert RegexCheck(RegexParams(pattern=pattern, window=window)).streaming is streaming  # type: ignore[arg-type]


def _shared_spans(checks: list[Any], text: str) -> list[list[str]]:
    """Spans of each check, run one after the other on ONE document (sharing its views), as the engine does."""
    doc = Document(text)
    ctx = RunContext(Context(), Deadline(None))
    return [[text[h.start : h.end] for h in iter_hits(c, doc, ctx)] for c in checks]


SHARED_TEXT = "Studies show x. [Your Name] wrote: caf\u00e9 noir, research suggests y. Sorry, cafe   noir."


def _anchored_trio() -> list[Any]:
    return [
        build("regex", pattern=PATTERN, flags="i", anchors=["studies", "research", "["], anchor_window=60),
        build("regex", pattern=r"caf[e\u00e9]\s+noir", flags="i", anchors=["CAF\u00c9"], anchor_window=20),
        build("regex", pattern=r"(?:studies|sorry)\W", flags="i", anchors=["studies", "sorry"], anchor_window=10),
    ]


def test_bound_checks_share_one_anchor_pass_with_the_same_matches() -> None:
    alone = [spans(c, SHARED_TEXT) for c in _anchored_trio()]
    bound = _anchored_trio()
    unanchored = build("regex", pattern="x")
    for check in bound:
        check.bind([*bound, unanchored, bound[0]])  # duplicates and other checks are ignored
    groups = {id(c._group) for c in bound}  # type: ignore[attr-defined]
    assert len(groups) == 1 and unanchored._group is None  # type: ignore[attr-defined]
    assert _shared_spans(bound, SHARED_TEXT) == alone
    assert alone == [
        ["Studies show", "[Your Name]", "research suggests"],
        ["caf\u00e9 noir", "cafe   noir"],
        ["Studies ", "Sorry,"],
    ]


def test_compile_policy_binds_the_anchored_regex_rules(tmp_path: Path) -> None:
    rules = [
        {
            "id": f"thing-{i}",
            "code": f"TST{i:03d}",
            "check": "regex",
            "params": {"pattern": rf"\bword{i}\b", "anchors": [f"word{i}"]},
            "message": "m",
            "examples": {"match": [f"a word{i} b"], "no_match": ["nothing"]},
        }
        for i in range(1, 4)
    ]
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({"pack": "t", "rules": rules}))
    ruleset = load_ruleset([tmp_path])
    compiled = compile_policy(Policy(name="p", rules=["pack:t"]), ruleset)
    groups = {id(r.check._group) for r in compiled.rules}  # type: ignore[attr-defined]
    assert len(groups) == 1
    report = Engine(compiled).validate("word2 and word3, not word1x")
    assert sorted(f.rule_id for f in report.findings) == ["thing-2", "thing-3"]
