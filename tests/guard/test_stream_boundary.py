"""`boundary` on regex rules: a rule whose match and look-arounds stay inside one sentence is settled when the
sentence ends, not a fixed number of characters later; the field is validated where the rule file loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from guardrails import Engine
from guardrails.guard import StreamValidator
from guardrails.rules.compile import compile_policy
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import Policy

# Flags "studies show" unless a source follows later in the same sentence (the shape of unsourced-statistic).
UNSOURCED = r"\bstudies\s+show\b(?![^.!?\n]{0,300}\(\w+\s+\d{4}\))"


def _engine(tmp_path: Path, **params: Any) -> Engine:
    rule = {
        "id": "unsourced-claim",
        "code": "TST001",
        "check": "regex",
        "params": {"pattern": UNSOURCED, "flags": "i", **params},
        "action": "review",
        "message": "m",
        "examples": {"match": ["Studies show it."], "no_match": ["Studies show it (Smith 2020)."]},
    }
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({"pack": "t", "rules": [rule]}))
    return Engine(compile_policy(Policy(name="p", rules=["pack:t"]), load_ruleset([tmp_path])))


def _released_while_streaming(engine: Engine, text: str, size: int = 5) -> tuple[list[int], StreamValidator]:
    """Characters received when each text event came, and the validator (finished)."""
    v = StreamValidator(engine)
    at = []
    for i in range(0, len(text), size):
        if any(e.type == "text" for e in v.feed(text[i : i + size])):
            at.append(min(len(text), i + size))
    v.finish()
    return at, v


def test_a_sentence_bounded_rule_waits_for_its_sentence_not_for_its_reach(tmp_path: Path) -> None:
    engine = _engine(tmp_path, boundary="sentence", lookbehind=20)
    v = StreamValidator(engine, min_release=1)
    assert v.hold_back == 20
    clean = "Revenue grew. " * 20
    gap = "that " + "customers stay longer " * 12  # 270 characters without a sentence end
    text = clean + "Studies show " + gap + "(Smith 2020). " + clean
    assert engine.validate(text).findings == []
    shown = ""
    for i in range(0, len(text), 3):
        for e in v.feed(text[i : i + 3]):
            assert e.type == "text", e  # never a finding, never a retract: the source came in time
            shown += e.text or ""
        claim = text.index("Studies")
        # Nothing from the claim's sentence on is shown before that sentence ends.
        if i + 3 < text.index("(Smith 2020). ") + 13:
            assert len(shown) <= claim
    assert len(shown) > len(text) - 40, "released no later than the sentence's end plus the lookbehind"
    assert v.finish()[-1].report is not None


def test_an_unbounded_rule_with_the_same_lookbehind_settles_too_early(tmp_path: Path) -> None:
    # The same rule without the boundary: settled 20 characters after the match, it halts the stream on a claim
    # its own sentence goes on to source. This is what the boundary prevents.
    engine = _engine(tmp_path, lookbehind=20)
    text = "Revenue grew. " * 5 + "Studies show that " + "customers stay longer " * 12 + "(Smith 2020). " * 3
    _, v = _released_while_streaming(engine, text)
    assert v.halted


def test_a_sentence_bounded_rule_is_rechecked_whole_after_a_repair(tmp_path: Path) -> None:
    # Its lookbehind counts from a sentence's start, so it no longer bounds how far a match reaches.
    bounded = _engine(tmp_path, boundary="sentence", lookbehind=20).rules[0].check
    assert (bounded.boundary, bounded.rechecks) == ("sentence", "whole")
    plain = _engine(tmp_path, lookbehind=20).rules[0].check
    assert (plain.boundary, plain.rechecks) == (None, "local")


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"boundary": "clause"}, "boundary"),
        ({"boundary": "sentence", "window": "head"}, "params.boundary"),
        ({"boundary": "sentence", "pattern": r"studies show$"}, "params.boundary"),
    ],
)
def test_a_boundary_the_stream_cannot_use_fails_when_the_rule_loads(
    tmp_path: Path, params: dict[str, Any], says: str
) -> None:
    with pytest.raises(RuleError) as err:
        _engine(tmp_path, **params)
    message = str(err.value)
    assert "t.yaml" in message and "unsourced-claim" in message and says in message, message


def test_the_bundled_statistic_rules_are_sentence_bounded() -> None:
    v = StreamValidator(Engine.from_policy("default"))
    bounded = {r.rule.id: r.check.lookbehind for r in v.rules if r.check.boundary == "sentence"}
    assert bounded == {"unsourced-statistic": 120, "private-source-statistic": 120}
