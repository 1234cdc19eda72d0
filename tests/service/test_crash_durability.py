"""kill -9 during a burst of review submissions: every item the server acknowledged is in the queue."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from guardrails.reviews import ReviewStore
from tests.service.conftest import KEYS
from tests.service.server import start_server, stop

pytestmark = pytest.mark.slow


def _burst_then_kill(tmp_path: Path, db_url: str | None = None) -> None:
    server = start_server(tmp_path, db_url=db_url)
    acknowledged: dict[str, str] = {}
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 20
    started = threading.Event()

    def worker(n: int) -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEYS['validate']}"}, timeout=10
        ) as client:
            i = 0
            while time.monotonic() < stop_at:
                rid = f"w{n}-{i}"
                i += 1
                try:
                    r = client.post("/v1/validate", json={"output": f"#{rid}: guaranteed returns", "request_id": rid})
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(type(exc).__name__)
                    return  # the server is gone
                if r.status_code == 200:
                    review_id = r.json()["review_id"]
                    assert review_id, "a review verdict must come back with a queue id"
                    with lock:
                        acknowledged[rid] = review_id
                        if len(acknowledged) >= 40:
                            started.set()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    assert started.wait(30), f"no burst: {server.log.read_text()[-1500:]}"
    os.kill(server.proc.pid, signal.SIGKILL)  # mid-burst, no shutdown hooks
    server.proc.wait(10)
    for t in threads:
        t.join(15)
    stop(server)
    assert failures, "the kill should have cut requests in flight"
    store = ReviewStore.open(server.db_url)
    try:
        missing = [rid for rid in acknowledged if store.get_by_request(f"validate/{rid}") is None]  # by key
        assert missing == [], f"{len(missing)} acknowledged item(s) lost: {missing[:5]}"
        for rid, item_id in acknowledged.items():
            assert store.get(item_id).request_id == f"validate/{rid}"
        assert store.count() >= len(acknowledged)
    finally:
        store.close()


def test_kill_9_keeps_every_acknowledged_item_sqlite(tmp_path: Path) -> None:
    _burst_then_kill(tmp_path)


@pytest.mark.postgres
def test_kill_9_keeps_every_acknowledged_item_postgres(tmp_path: Path, postgres_url: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS crash_reviews"))
        conn.execute(sa.text("CREATE DATABASE crash_reviews"))
    admin.dispose()
    _burst_then_kill(tmp_path, postgres_url.rsplit("/", 1)[0] + "/crash_reviews")
