"""`guardrails reviews export` feeds `guardrails eval`: reviewers' decisions become precision and recall."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from guardrails import Engine
from guardrails.cli.main import main
from guardrails.reviews import Decision, DecisionKind, ReviewStore

DEMO_RULES = Path(__file__).resolve().parents[2] / "service" / "demo" / "rules"

# (output, decision): what the demo policy flags and what a reviewer said about it.
DECIDED = [
    ("Our fund has guaranteed returns.", DecisionKind.REJECT),  # SVC001, a real problem
    ("Take 400 mg daily.", DecisionKind.APPROVE_EDIT),  # SVC003, a real problem
    ("This plan is risk-free for savers.", DecisionKind.APPROVE),  # SVC001, fine after all
    ("Guaranteed results, take 5 mg.", DecisionKind.FALSE_POSITIVE),  # SVC001 + SVC003, fine after all
    ("The weather is mild today.", DecisionKind.REJECT),  # passed, sampled, and a reviewer found a problem
]


def test_exported_decisions_round_trip_through_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = Engine.from_policy("demo", [DEMO_RULES])
    url = f"sqlite:///{tmp_path / 'reviews.sqlite3'}"
    store = ReviewStore.open(url)
    for n, (text, kind) in enumerate(DECIDED):
        report = engine.validate(text)
        item, _ = store.submit(report, {"request_id": f"r{n}"}, sampled=report.verdict.value == "pass")
        edited = "Follow the label's dose." if kind is DecisionKind.APPROVE_EDIT else None
        store.decide(item.id, Decision(kind=kind, note="checked", edited_output=edited), actor="alice")
    store.submit(engine.validate("Guaranteed, again."), {"request_id": "open"})  # undecided: not exported
    store.close()

    exported = tmp_path / "decisions.jsonl"
    assert main(["reviews", "export", "--db", url, "-o", str(exported)]) == 0
    assert "5 decision(s) written" in capsys.readouterr().err
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert sorted((r["text"], r["flagged"]) for r in rows) == sorted(
        (text, kind in (DecisionKind.REJECT, DecisionKind.APPROVE_EDIT)) for text, kind in DECIDED
    )

    args = ["eval", str(exported), "--text-field", "text", "--label-field", "flagged"]
    code = main([*args, "--policy", "demo", "--rules", str(DEMO_RULES)])
    out = capsys.readouterr().out
    assert code == 0
    assert "5 rows, policy demo" in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    # ANY: flagged and confirmed (2), flagged but fine (2), missed (the sampled pass).
    assert lines["ANY"] == ["2", "2", "1", "0.500", "0.667", "0.571"]
    # SVC001 fired on rows 1, 3, 4: confirmed once; rows 2 and 5 were problems it did not flag.
    assert lines["SVC001"] == ["1", "2", "2", "0.333", "0.333", "0.333"]
    assert lines["SVC003"] == ["1", "1", "2", "0.500", "0.333", "0.400"]
