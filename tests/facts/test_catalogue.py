"""The product-catalogue fixture: right statements are never contradicted, wrong ones are caught."""

from __future__ import annotations

from guardrails.facts import FactStore
from tests.facts.catalogue_table import FIXTURES, STATUSES, run_table


def test_catalogue_table() -> None:
    table = run_table()
    print("\n" + table.render())
    total = {exp: sum(table.cells[(exp, c)] for c in [*STATUSES, "missed"]) for exp in STATUSES}
    assert all(total.values())
    # the promises: a right statement is never a contradiction, an unverifiable one never either
    assert table.cells[("supported", "contradicted")] == 0
    assert table.cells[("unverifiable", "contradicted")] == 0
    assert table.cells[("contradicted", "contradicted")] >= 0.9 * total["contradicted"]
    assert table.cells[("supported", "supported")] >= 0.9 * total["supported"]
    assert table.spurious["contradicted"] == 0


def test_the_catalogue_imports_cleanly(tmp_path: object) -> None:
    store = FactStore.open("sqlite://")
    result = store.import_file(FIXTURES / "catalogue.csv")
    assert result.ok, result.errors[:3]
    assert result.imported > 2500
    store.close()


def test_repair_states_the_known_values_and_is_idempotent() -> None:
    import datetime as dt
    import json

    from guardrails.checks.known_facts import KnownFactsCheck, KnownFactsParams
    from guardrails.engine import Engine
    from guardrails.rules.compile import CompiledPolicy, CompiledRule
    from guardrails.rules.loader import load_ruleset
    from guardrails.rules.model import Policy, RepairSettings

    rule = load_ruleset([]).rules["known-fact-contradicted"].rule
    params = {**rule.params, "use_store": False, "facts_file": str(FIXTURES / "catalogue.csv")}
    check = KnownFactsCheck(KnownFactsParams.model_validate(params))
    policy = Policy(name="t", rules=["*"], repair=RepairSettings(allow_unsafe=True))
    engine = Engine(CompiledPolicy(policy, (CompiledRule(rule, check, 5.0, "facts"),), "t"))
    repaired = 0
    for line in (FIXTURES / "outputs.jsonl").read_text(encoding="utf-8").splitlines()[:200]:
        case = json.loads(line)
        ctx = {"reference_date": dt.date.fromisoformat(case["reference_date"])}
        report = engine.validate(case["text"], ctx)
        wrong = {c["attribute"] for c in case["claims"] if c["expected"] == "contradicted"}
        if wrong and "discontinued" not in wrong:  # a yes/no claim has no fix: it is regenerated
            assert report.verdict.value == "repaired", case["text"]
            repaired += 1
        again = engine.validate(report.output, ctx)
        assert not again.edits and again.output == report.output, report.output
        if "discontinued" not in wrong:
            assert again.verdict.value == "pass", report.output
    assert repaired > 50
