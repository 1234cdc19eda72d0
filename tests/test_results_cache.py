"""The result cache (guardrails.results_cache) in process and shared by replicas through SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from guardrails import Engine
from guardrails.facts.store import FactStore
from guardrails.results_cache import MemoryTier, ResultsCache, SqlTier
from guardrails.results_cache.shared import entries_t
from guardrails.reviews.store import FrozenSuppressions
from tests.facts.conftest import _fresh_pg_database

PACK = """\
pack: cachetest
rules:
  - id: internal-hostname
    code: CCH001
    check: regex
    params: {{pattern: "\\\\b[a-z0-9-]+\\\\.internal\\\\b", replacement: "[host]"}}
    action: repair
    message: "Internal host: {{matched}}"
  - id: secret-word
    code: CCH002
    check: regex
    params: {{pattern: "\\\\bswordfish\\\\b"}}
    action: block
    message: "Secret: {{matched}}"
  - id: price-contradicted
    code: CCH003
    check: known_facts
    params:
      db: "{db}"
      attributes: {{price: {{phrases: [costs]}}}}
    action: review
    message: "{{entity}}: {{claimed}} vs {{known}}"
"""

POLICY = """\
name: {name}
version: "{version}"
rules: ["pack:cachetest"]
cache: {{results: {results}}}
"""

PRICE = {"entity": "Acme X1", "attribute": "price", "type": "money", "value": "999", "currency": "USD"}
TEXT = "The Acme X1 costs $999. Ask db01.internal, not me."


def _rules(tmp: Path, db: str, *, version: str = "1", results: bool = True, name: str = "cached") -> Path:
    rules = tmp / "rules"
    (rules / "policies").mkdir(parents=True, exist_ok=True)
    (rules / "cachetest.yaml").write_text(PACK.format(db=db), encoding="utf-8")
    (rules / "policies" / f"{name}.yaml").write_text(
        POLICY.format(name=name, version=version, results=str(results).lower()), encoding="utf-8"
    )
    return rules


@pytest.fixture
def facts_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'facts.db'}"
    FactStore.open(url).set(PRICE)
    return url


def _engine(rules: Path, name: str = "cached", **kw: Any) -> Engine:
    return Engine.from_policy(name, [rules], **kw)


def test_a_replayed_request_is_the_same_report_marked_cached(tmp_path: Path, facts_url: str) -> None:
    engine = _engine(_rules(tmp_path, facts_url))
    cache = ResultsCache()
    first = cache.validate(engine, TEXT, {"prompt": "price?"})
    assert not first.cached and first.verdict.value == "repaired"
    again = cache.validate(engine, TEXT, {"prompt": "price?", "request_id": "another-call"})
    assert again.cached
    assert again.model_dump(exclude={"cached"}) == first.model_dump(exclude={"cached"})
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


def test_a_caller_mutating_a_served_report_does_not_poison_the_cache(tmp_path: Path, facts_url: str) -> None:
    engine = _engine(_rules(tmp_path, facts_url))
    cache = ResultsCache()
    cache.validate(engine, TEXT)
    served = cache.validate(engine, TEXT)
    served.findings.clear()
    served.edits.clear()
    object.__setattr__(served, "output", "tampered")
    again = cache.validate(engine, TEXT)
    assert again.cached and again.output == "The Acme X1 costs $999. Ask [host], not me." and again.findings


def test_a_changed_fact_misses(tmp_path: Path, facts_url: str) -> None:
    engine = _engine(_rules(tmp_path, facts_url))
    cache = ResultsCache()
    assert cache.validate(engine, TEXT).verdict.value == "repaired"
    assert cache.validate(engine, TEXT).cached
    FactStore.open(facts_url).set({**PRICE, "value": "1299"})
    changed = cache.validate(engine, TEXT)
    assert not changed.cached and changed.verdict.value == "review"
    assert [f.code for f in changed.findings if f.code == "CCH003"] == ["CCH003"]


def test_a_changed_policy_version_misses(tmp_path: Path, facts_url: str) -> None:
    cache = ResultsCache()
    assert not cache.validate(_engine(_rules(tmp_path, facts_url)), TEXT).cached
    assert cache.validate(_engine(_rules(tmp_path, facts_url)), TEXT).cached  # recompiled, same version: a hit
    bumped = _engine(_rules(tmp_path, facts_url, version="2"))
    report = cache.validate(bumped, TEXT)
    assert not report.cached and report.policy_version.startswith("2+")


def test_a_changed_file_a_rule_reads_misses_though_the_version_is_the_same(tmp_path: Path, facts_url: str) -> None:
    rules = _rules(tmp_path, facts_url)
    (rules / "notes.txt").write_text("one", encoding="utf-8")
    cache = ResultsCache()
    cache.validate(_engine(rules), TEXT)
    (rules / "notes.txt").write_text("two", encoding="utf-8")  # schemas and templates live in the rules dirs
    assert not cache.validate(_engine(rules), TEXT).cached


def test_a_new_suppression_misses(tmp_path: Path, facts_url: str) -> None:
    rules = _rules(tmp_path, facts_url)
    cache = ResultsCache()
    plain = _engine(rules, suppressor=FrozenSuppressions(frozenset()))
    report = cache.validate(plain, "use swordfish")
    assert report.verdict.value == "block"
    assert cache.validate(plain, "use swordfish").cached
    fp = report.findings[0].fingerprint
    silenced = _engine(rules, suppressor=FrozenSuppressions(frozenset({("cached", "secret-word", fp)})))
    after = cache.validate(silenced, "use swordfish")
    assert not after.cached and after.verdict.value == "pass"


def test_an_engine_whose_suppressor_cannot_name_its_set_is_not_cached(tmp_path: Path, facts_url: str) -> None:
    engine = _engine(_rules(tmp_path, facts_url), suppressor=lambda policy, rule, fp: False)
    cache = ResultsCache()
    cache.validate(engine, TEXT)
    assert not cache.validate(engine, TEXT).cached


def test_a_policy_that_did_not_opt_in_is_never_cached(tmp_path: Path, facts_url: str) -> None:
    engine = _engine(_rules(tmp_path, facts_url, results=False, name="plain"), "plain")
    cache = ResultsCache()
    cache.validate(engine, TEXT)
    assert not cache.validate(engine, TEXT).cached
    assert (cache.stats.hits, cache.stats.misses, len(cache.tiers.memory)) == (0, 0, 0)


def test_scopes_and_contexts_do_not_share_entries(tmp_path: Path, facts_url: str) -> None:
    engine = _engine(_rules(tmp_path, facts_url))
    cache = ResultsCache()
    cache.validate(engine, TEXT, scope="tenant-a")
    assert not cache.validate(engine, TEXT, scope="tenant-b").cached
    assert not cache.validate(engine, TEXT, {"prompt": "x"}, scope="tenant-a").cached
    assert cache.validate(engine, TEXT, scope="tenant-a").cached


def test_a_degraded_report_is_not_kept(tmp_path: Path) -> None:
    # The facts database is unreachable: the check fails closed, and that failure is never replayed.
    engine = _engine(_rules(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none"))
    cache = ResultsCache()
    first = cache.validate(engine, TEXT)
    assert first.degraded or cache.stats.bypassed
    assert not cache.validate(engine, TEXT).cached
    assert len(cache.tiers.memory) == 0


def test_huge_outputs_do_not_blow_the_byte_bound(tmp_path: Path, facts_url: str) -> None:
    engine = _engine(_rules(tmp_path, facts_url))
    memory = MemoryTier(max_entries=1000, max_bytes=256 * 1024)
    cache = ResultsCache(memory)
    for i in range(40):
        cache.validate(engine, f"{i} " + "word " * 4000)  # 20 KB each: over a sixteenth of the bound
    assert len(memory) == 0 and memory.size_bytes == 0 and cache.stats.not_stored == 40
    for i in range(400):
        cache.validate(engine, f"{i} " + "word " * 300)
        assert memory.size_bytes <= memory.max_bytes
    assert 0 < len(memory) < 400 and memory.evictions > 0


def _replicas(tmp_path: Path, url: str, facts_url: str) -> tuple[Engine, Engine, ResultsCache, ResultsCache]:
    rules = _rules(tmp_path, facts_url)
    # Two replicas: each its own process-like state (engine, memory tier, database connections).
    a, b = _engine(rules), _engine(rules)
    return a, b, ResultsCache(shared=SqlTier.open(url)), ResultsCache(shared=SqlTier.open(url))


def _flush(cache: ResultsCache) -> None:
    assert isinstance(cache.shared, SqlTier)
    cache.shared.flush()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_replicas_share_results_through_the_database(
    tmp_path: Path, facts_url: str, backend: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'shared.db'}"
        if backend == "sqlite"
        else _fresh_pg_database(request.getfixturevalue("postgres_url"))
    )
    a, b, cache_a, cache_b = _replicas(tmp_path, url, facts_url)
    first = cache_a.validate(a, TEXT)
    _flush(cache_a)  # written behind the validation, by a thread
    shared = cache_b.validate(b, TEXT)
    assert shared.cached and cache_b.stats.shared_hits == 1
    assert shared.model_dump(exclude={"cached"}) == first.model_dump(exclude={"cached"})
    assert cache_b.validate(b, TEXT).cached and cache_b.stats.hits == 1  # now from its own memory
    FactStore.open(facts_url).set({**PRICE, "value": "5"})
    assert not cache_b.validate(b, TEXT).cached  # a fact changed: every replica misses
    for cache in (cache_a, cache_b):
        assert isinstance(cache.shared, SqlTier)
        cache.shared.close()


def test_the_shared_table_holds_no_report_text_and_rows_cannot_answer_for_another_key(
    tmp_path: Path, facts_url: str
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a, b, cache_a, cache_b = _replicas(tmp_path, url, facts_url)
    secret = "Mail jane.doe@example.com about db01.internal and swordfish."
    cache_a.validate(a, secret)
    cache_a.validate(a, TEXT)
    _flush(cache_a)
    db = sa.create_engine(url)
    with db.begin() as conn:
        rows = conn.execute(sa.select(entries_t)).all()
        assert len(rows) == 2
        for row in rows:
            for needle in (b"jane.doe", b"swordfish", b"db01", b"Acme", b"CCH00"):
                assert needle not in row.value
        # Rows swapped between keys: neither decrypts under the other's key, so both miss, never a wrong answer.
        for row, other in ((rows[0], rows[1]), (rows[1], rows[0])):
            conn.execute(sa.update(entries_t).where(entries_t.c.key == row.key).values(value=other.value))
    for text in (secret, TEXT):
        replayed = cache_b.validate(b, text)
        assert not replayed.cached and replayed.original == text
    assert cache_b.stats.shared_hits == 0
    for cache in (cache_a, cache_b):
        assert isinstance(cache.shared, SqlTier)
        cache.shared.close()
    db.dispose()


def test_a_suppression_another_replica_made_reaches_a_replica_serving_only_hits(tmp_path: Path, facts_url: str) -> None:
    from guardrails.reviews import ReviewStore, schema

    store = ReviewStore.open(f"sqlite:///{tmp_path / 'reviews.db'}")
    suppressor = store.suppressor(ttl_s=0.0)
    engine = _engine(_rules(tmp_path, facts_url), suppressor=suppressor)
    cache = ResultsCache()
    report = cache.validate(engine, "use swordfish")
    assert cache.validate(engine, "use swordfish").cached
    other = ReviewStore.open(f"sqlite:///{tmp_path / 'reviews.db'}")  # another replica's reviewer marks it
    row: dict[str, Any] = {"policy": "cached", "rule_id": "secret-word", "fingerprint": report.findings[0].fingerprint}
    row.update(created_by="bob", created_at=dt.datetime.now(dt.UTC))
    with other.engine.begin() as conn:
        conn.execute(schema.suppressions.insert(), [row])
    deadline = time.monotonic() + 10
    while (served := cache.validate(engine, "use swordfish")).cached:
        assert time.monotonic() < deadline, "the new suppression never reached this replica's keys"
        time.sleep(0.05)
    assert served.verdict.value == "pass"
    store.close()
    other.close()
