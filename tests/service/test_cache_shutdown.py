"""The shared result-cache tier writes behind the answers, through the review store's connections: shutting the
sidecar down writes what is still queued before that store closes (a write after it left a connection open)."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from service import ServiceConfig, create_app
from tests.service.conftest import DEMO_RULES, auth, keyring

POLICY = 'name: cached\nversion: "1"\nrules: ["pack:demo"]\ncache: {results: true}\n'


def test_shutdown_writes_the_queued_shared_entries_before_the_review_store_closes(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "cached.yaml").write_text(POLICY, encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'reviews.sqlite3'}"
    config = ServiceConfig(policies=["cached"], rules_dirs=[DEMO_RULES, tmp_path], review_db=db_url)
    client = TestClient(create_app(config, keys=keyring(), load_sync=True))
    order: list[str] = []
    with client:
        state = client.app.state.outguard  # type: ignore[attr-defined]
        shared = state.results_cache.tiers.shared
        gate = threading.Event()
        write = shared._write

        def slow_write(items: list[object]) -> bool:  # the database is slow: the entry is still queued at shutdown
            gate.wait(2)
            order.append("written")
            return bool(write(items))

        shared._write = slow_write
        close_store = state.reviews.close

        def recorded_close() -> None:
            order.append("store closed")
            close_store()

        state.reviews.close = recorded_close
        r = client.post("/v1/validate", json={"output": "Guaranteed returns!", "policy": "cached"}, headers=auth())
        assert r.status_code == 200, r.text
    assert order == ["written", "store closed"]
    db = sa.create_engine(db_url)
    try:
        with db.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM og_cache_entries")).scalar_one() == 1
    finally:
        db.dispose()
