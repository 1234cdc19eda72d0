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
