"""Run the shipped FACT001 configuration over fixtures/facts/outputs.jsonl and tabulate expected vs found.

Shared by tests/facts/test_catalogue.py (asserts) and tests/eval/eval_facts.py (prints).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from guardrails.checks.base import RunContext
from guardrails.checks.known_facts import KnownFactsCheck, KnownFactsParams
from guardrails.context import Context
from guardrails.document import Document
from guardrails.rules.loader import load_ruleset

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "facts"
STATUSES = ("supported", "contradicted", "unverifiable")


@dataclass
class Table:
    cells: Counter[tuple[str, str]] = field(default_factory=Counter)
    spurious: Counter[str] = field(default_factory=Counter)
    outputs: int = 0

    def render(self) -> str:
        cols = [*STATUSES, "missed"]
        lines = ["expected \\ found".ljust(18) + "".join(c.rjust(14) for c in cols) + "total".rjust(8)]
        for exp in STATUSES:
            row = [self.cells[(exp, c)] for c in cols]
            lines.append(exp.ljust(18) + "".join(str(n).rjust(14) for n in row) + str(sum(row)).rjust(8))
        extra = ", ".join(f"{k}: {v}" for k, v in sorted(self.spurious.items())) or "none"
        lines.append(f"claims found that no label expects: {extra}  ({self.outputs} outputs)")
        return "\n".join(lines)


def shipped_check() -> KnownFactsCheck:
    """FACT001's params from rules/facts.yaml, reading the fixture catalogue instead of the store."""
    rule = load_ruleset([]).rules["known-fact-contradicted"].rule
    params = {
        **rule.params,
        "use_store": False,
        "facts_file": str(FIXTURES / "catalogue.csv"),
        "report": list(STATUSES),
    }
    return KnownFactsCheck(KnownFactsParams.model_validate(params))


def run_table(check: KnownFactsCheck | None = None) -> Table:
    check = check or shipped_check()
    table = Table()
    for line in (FIXTURES / "outputs.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        table.outputs += 1
        ctx = Context(reference_date=dt.date.fromisoformat(case["reference_date"]))
        found = [c for c in check.claims(Document(case["text"]), RunContext(ctx)) if c.entity == case["entity"]]
        by_attr: dict[str, list[str]] = {}
        for c in found:
            by_attr.setdefault(c.attribute, []).append(c.status.value)
        for claim in case["claims"]:
            got = by_attr.get(claim["attribute"], [])
            table.cells[(claim["expected"], got.pop(0) if got else "missed")] += 1
        for rest in by_attr.values():
            for status in rest:
                table.spurious[status] += 1
        table.spurious["other entity"] += sum(
            1 for c in check.claims(Document(case["text"]), RunContext(ctx)) if c.entity != case["entity"]
        )
    return table
