"""Rule codes are never reused: rules/CODES is an append-only ledger of every code ever assigned.

A code in a pack must be in the ledger with the same rule id (a new rule: append its line); a code in the
ledger must still exist in a pack (retire a rule by marking it `status: deprecated`, never by deleting it
and reusing its code).
"""

from __future__ import annotations

from pathlib import Path

from guardrails import load_ruleset
from guardrails.engine import ENGINE_RULES

LEDGER = Path(__file__).resolve().parents[2] / "rules" / "CODES"


def _ledger() -> dict[str, str]:
    entries: dict[str, str] = {}
    for n, line in enumerate(LEDGER.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        code, rule_id = line.split()
        assert code not in entries, f"rules/CODES:{n}: {code} listed twice"
        entries[code] = rule_id
    return entries


def test_every_code_is_in_the_ledger_with_its_id() -> None:
    ledger = _ledger()
    rules = {r.rule.code: r.rule.id for r in load_ruleset().rules.values()}
    rules.update({r.code: r.id for r in ENGINE_RULES.values()})
    missing = sorted(f"{c} {i}" for c, i in rules.items() if c not in ledger)
    renamed = sorted(
        f"{c}: ledger {ledger[c]!r}, pack {i!r}" for c, i in rules.items() if c in ledger and ledger[c] != i
    )
    gone = sorted(f"{c} {i}" for c, i in ledger.items() if c not in rules)
    assert missing == [], "append these lines to rules/CODES"
    assert renamed == [], "a code keeps its rule id forever"
    assert gone == [], "deprecate rules instead of deleting them, so their codes are never reused"
