"""The facts store on SQLite and on a real PostgreSQL: versions, validity, aliases, revision polling."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from guardrails.facts import Fact, FactStore, MoneyValue
from guardrails.facts.store import FactStoreError, FactStoreMissing

PRICE = {"entity": "Acme X1", "aliases": ["X1", "Acmé X-1"], "entity_type": "product", "attribute": "price"}


def _price(amount: str, **extra: object) -> dict[str, object]:
    return {**PRICE, "type": "money", "value": amount, "currency": "USD", **extra}


def test_set_then_get_by_name_or_alias_case_and_accent_insensitive(store: FactStore) -> None:
    fact = store.set(_price("999"))
    assert fact.id is not None and fact.version == 1
    for name in ("Acme X1", "acme x1", "ACME X-1", "acme x-1", "x1"):
        got = store.get(name)
        assert [f.id for f in got] == [fact.id], name
    assert got[0].value == MoneyValue(amount=Decimal("999"), currency="USD")
    assert got[0].entity_type == "product"
    assert store.get("Acme X2") == []


def test_correction_supersedes_and_bumps_version(store: FactStore) -> None:
    store.set(_price("999"))
    fixed = store.set(_price("899"))
    assert fixed.version == 2
    current = store.get("Acme X1", "price")
    assert [f.value.amount for f in current] == [Decimal("899")]  # type: ignore[union-attr]
    history = store.history("Acme X1", "price")
    assert [h.version for h in history] == [1, 2]
    assert store.count() == 1


def test_new_validity_period_closes_the_old_one(store: FactStore) -> None:
    store.set(_price("999", valid_from="2024-01-01"))
    store.set(_price("799", valid_from="2025-06-01"))
    before = store.get("Acme X1", "price", at=dt.date(2025, 1, 1))
    after = store.get("Acme X1", "price", at=dt.date(2025, 7, 1))
    assert [f.value.amount for f in before] == [Decimal("999")]  # type: ignore[union-attr]
    assert [f.value.amount for f in after] == [Decimal("799")]  # type: ignore[union-attr]
    assert before[0].valid_to == dt.date(2025, 6, 1)
    assert store.get("Acme X1", "price", at=dt.date(2023, 1, 1)) == []


def test_every_value_type_round_trips(store: FactStore) -> None:
    rows = [
        {
            "entity": "Kettle",
            "attribute": "weight",
            "type": "number",
            "value": "1.1",
            "unit": "kg",
            "tolerance": "0.05",
        },
        {"entity": "Kettle", "attribute": "price", "type": "money", "value": "49.99", "currency": "eur"},
        {"entity": "Kettle", "attribute": "release_date", "type": "date", "value": "2022-03-03"},
        {"entity": "Kettle", "attribute": "color", "type": "enum", "value": "red", "choices": "black|red"},
        {"entity": "Kettle", "attribute": "discontinued", "type": "boolean", "value": "no"},
        {"entity": "Kettle", "attribute": "maker", "type": "text", "value": "Zephyr GmbH", "source": "spec sheet"},
    ]
    for r in rows:
        store.set(r)
    got = {f.attribute: f for f in store.get("kettle")}
    assert got["weight"].value.model_dump() == {"type": "number", "value": 1.1, "unit": "kg", "tolerance": 0.05}
    assert got["price"].value.currency == "EUR"  # type: ignore[union-attr]
    assert got["release_date"].value.value == dt.date(2022, 3, 3)
    assert got["color"].value.value == "red"
    assert got["discontinued"].value.value is False
    assert got["maker"].source == "spec sheet"


def test_revision_and_changes_since_see_other_connections(store_url: str) -> None:
    a, b = FactStore.open(store_url), FactStore.open(store_url)
    try:
        r0 = a.revision()
        b.set(_price("10"))
        assert a.revision() == r0 + 1
        changes = a.changes_since(r0)
        assert [f.fact.value.amount for f in changes.facts] == [Decimal("10")]  # type: ignore[union-attr]
        assert [e.entity.name for e in changes.entities] == ["Acme X1"]
        b.set(_price("12"))
        later = a.changes_since(changes.revision)
        assert sorted((f.superseded, str(f.fact.value.amount)) for f in later.facts) == [  # type: ignore[union-attr]
            (False, "12"),
            (True, "10"),
        ]
        assert a.changes_since(later.revision).facts == []
    finally:
        a.close()
        b.close()


def test_set_rejects_bad_input_with_the_field(store: FactStore) -> None:
    with pytest.raises(ValueError, match="currency"):
        store.set({"entity": "X", "attribute": "price", "type": "money", "value": "1"})
    with pytest.raises(ValueError, match="type"):
        store.set({"entity": "X", "attribute": "price", "type": "colour", "value": "1"})
    assert store.count() == 0


def test_set_accepts_a_fact_model(store: FactStore) -> None:
    fact = Fact(entity="Zug", attribute="population", value={"type": "number", "value": 30000})  # type: ignore[arg-type]
    assert store.set(fact).id is not None
    assert store.get("zug")[0].value.value == 30000


def test_sqlite_is_wal_and_missing_file_is_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'f.db'}"
    with pytest.raises(FactStoreMissing):
        FactStore.open(url, create=False)
    s = FactStore.open(url)
    with s.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    s.close()
    with pytest.raises(FactStoreError, match="not a database URL"):
        FactStore.open("::not a url::")


def test_revision_poller_follows_writes_and_reports_driver_errors(store_url: str) -> None:
    """The poller (raw sqlite3 cursor on SQLite, SQLAlchemy elsewhere) sees other connections' writes, turns a
    driver error into SQLAlchemy's DBAPIError, and reconnects on the next call."""
    a, b = FactStore.open(store_url), FactStore.open(store_url)
    poll = a.revision_poller()
    try:
        r0 = poll()
        assert r0 == a.revision()
        b.set(_price("10"))
        assert poll() == r0 + 1
        with b.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE og_facts_meta RENAME TO og_facts_meta_away"))
        with pytest.raises(sa.exc.DBAPIError):
            poll()
        with b.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE og_facts_meta_away RENAME TO og_facts_meta"))
        assert poll() == r0 + 1
    finally:
        poll.close()
        a.close()
        b.close()
