"""`guardrails eval` on a review export scores the policy the export came from, without --policy/--rules,
and says clearly when that policy cannot be loaded here."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from guardrails import Engine
from guardrails.cli.main import main
from guardrails.reviews import Decision, DecisionKind, ReviewStore, export_jsonl

DEMO_RULES = Path(__file__).resolve().parents[2] / "service" / "demo" / "rules"
FLAGS = ["--text-field", "text", "--label-field", "flagged", "--format", "json"]


def _export(tmp_path: Path, rules_dirs: list[str] | None) -> Path:
    engine = Engine.from_policy("demo", [DEMO_RULES])
    store = ReviewStore.open(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    for rid, text, kind in [
        ("e1", "Guaranteed returns of 12%!", DecisionKind.REJECT),
        ("e2", "Take 400 mg twice a day.", DecisionKind.REJECT),
        ("e3", "Our plan is risk-free.", DecisionKind.APPROVE),
    ]:
        item, _ = store.submit(engine.validate(text), {"request_id": rid})
        store.decide(item.id, Decision(kind=kind), actor="alice")
    buf = io.StringIO()
    export_jsonl(store.decided(), buf, rules_dirs=rules_dirs)
    store.close()
    path = tmp_path / "decisions.jsonl"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_eval_scores_the_exported_policy_without_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(tmp_path, [str(DEMO_RULES)])
    assert json.loads(path.read_text().splitlines()[0])["rules_dirs"] == [str(DEMO_RULES)]
    assert main(["eval", str(path), *FLAGS]) == 0
    table = json.loads(capsys.readouterr().out)
    # Scored under "demo" (under "default" these texts raise nothing and every F1 is 0).
    assert table["ANY"]["tp"] == 2 and table["ANY"]["fp"] == 1 and table["ANY"]["f1"] == pytest.approx(0.8)
    assert table["SVC003"]["tp"] == 1


def test_eval_says_which_policy_it_cannot_find(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(tmp_path, None)  # an export that does not carry the rules directories
    assert main(["eval", str(path), *FLAGS]) == 2
    err = capsys.readouterr().err
    assert "exported from policy 'demo'" in err and "--rules DIR" in err
    assert main(["eval", str(path), *FLAGS, "--policy", "demo", "--rules", str(DEMO_RULES)]) == 0
