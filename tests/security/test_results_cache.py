"""Attacks on the result cache through a real sidecar on loopback (two replicas sharing a review database).

What an attacker tries: reading another API key's cached report (or learning that another key validated some
text), reading cached reports out of the shared database, and making one cache entry answer for another key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.service.server import Server, start_server, stop

POLICY = """\
name: cached
version: "1"
rules: ["pack:demo", "pack:text"]
cache: {results: true}
"""

PII = "Mail jane.doe@example.com, call +1 415 555 0100; db01.prod.internal is down, guaranteed returns."


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("results-cache")
    rules = tmp / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "cached.yaml").write_text(POLICY, encoding="utf-8")
    db_url = f"sqlite:///{tmp / 'shared.sqlite3'}"
    args = ("--rules", str(rules), "--policy", "cached")
    one = start_server(tmp, *args, db_url=db_url)
    try:
        two = start_server(tmp, *args, db_url=db_url)
    except BaseException:
        stop(one)
        raise
    yield one, two
    stop(one)
    stop(two)


def _rows(db_url: str) -> list[Any]:
    db = sa.create_engine(db_url)
    try:
        with db.connect() as conn:
            return list(conn.execute(sa.text("SELECT key, value FROM og_cache_entries")).all())
    finally:
        db.dispose()


def _shared(db_url: str, validate: Callable[[], object]) -> None:
    """Validate, then wait for the entry in the shared table (a writer thread stores it after the answer)."""
    before = len(_rows(db_url))
    validate()
    deadline = time.monotonic() + 10
    while len(_rows(db_url)) <= before:
        assert time.monotonic() < deadline, "the cache entry never reached the shared table"
        time.sleep(0.05)


def _validate(server: Server, output: str, scope: str = "validate", **extra: Any) -> dict[str, Any]:
    with server.client(scope) as client:
        response = client.post("/v1/validate", json={"output": output, "policy": "cached", **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_replayed_request_is_served_from_the_cache_with_the_same_report(replicas: tuple[Server, Server]) -> None:
    one, _ = replicas
    text = "Take 400 mg twice a day, says db01.prod.internal."
    first = _validate(one, text, request_id="first")
    again = _validate(one, text, request_id="second")
    assert first["cached"] is False and again["cached"] is True
    # Each call still reaches the review queue as its own item (its own request id): only the id differs.
    assert first["review_id"] and again["review_id"]
    ignore = {"cached", "review_id"}
    assert {k: v for k, v in again.items() if k not in ignore} == {k: v for k, v in first.items() if k not in ignore}


def test_one_key_never_gets_or_detects_another_keys_cached_report(replicas: tuple[Server, Server]) -> None:
    one, _ = replicas
    text = "Only the validate key has seen db02.corp so far."
    assert _validate(one, text)["cached"] is False
    assert _validate(one, text, scope="admin")["cached"] is False  # another key: validated anew
    assert _validate(one, text, scope="admin")["cached"] is True  # its own entry from now on


def test_replicas_share_results_through_the_review_database(replicas: tuple[Server, Server]) -> None:
    one, two = replicas
    text = "Replica one validated this: 100% safe, say the notes on build.lan."
    first: dict[str, Any] = {}
    _shared(one.db_url, lambda: first.update(_validate(one, text)))
    shared = _validate(two, text)
    assert shared["cached"] is True and shared["findings"] == first["findings"]
    with two.client() as client:
        metrics = client.get("/metrics").text
    assert 'outguard_cache_lookups_total{cache="results",policy="cached",result="shared_hit"}' in metrics


def test_the_shared_table_holds_no_report_and_a_moved_row_answers_nothing(replicas: tuple[Server, Server]) -> None:
    one, two = replicas
    report: dict[str, Any] = {}
    _shared(one.db_url, lambda: report.update(_validate(one, PII)))
    assert report["masked"] is True  # what the caller gets is redacted; what is stored must not be readable
    db = sa.create_engine(one.db_url)
    try:
        with db.begin() as conn:
            rows = conn.execute(sa.text("SELECT key, value FROM og_cache_entries")).all()
            assert rows
            for _key, value in rows:
                for needle in (b"jane.doe", b"555 0100", b"db01", b"guaranteed", b"SVC00", b"verdict"):
                    assert needle not in value
            # Every row's value moved under another row's key: no replica may answer from a moved row.
            values = [value for _key, value in rows]
            for (key, _value), moved in zip(rows, values[1:] + values[:1], strict=True):
                conn.execute(sa.text("UPDATE og_cache_entries SET value = :v WHERE key = :k"), {"v": moved, "k": key})
    finally:
        db.dispose()
    assert _validate(two, PII)["cached"] is False
