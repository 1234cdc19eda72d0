"""Sidecar replicas and workers: the shared limits store's arithmetic on a real PostgreSQL, what happens when it is
down, `serve --workers 2` (review page sessions and /metrics across workers), and two replicas sharing one
PostgreSQL for the review queue and suppressions."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.limits.shared import SharedRateLimiter
from service.limits.store import PgLimitStore, StoreDown, conninfo
from service.ratelimit import Limit
from tests.service.conftest import DEMO_RULES, KEYS, PASSWORDS, ROOT
from tests.service.server import Server, free_port, start_server, stop, write_keys_file


@pytest.fixture
def store(postgres_url: str) -> Iterator[PgLimitStore]:
    s = PgLimitStore(postgres_url)
    yield s
    s.close()


def _name() -> str:
    return f"key-{uuid.uuid4().hex}"


def test_conninfo_takes_the_sqlalchemy_url_the_other_stores_take() -> None:
    assert conninfo("postgresql+psycopg://u:p@127.0.0.1:5432/db") == "postgresql://u:p@127.0.0.1:5432/db"
    with pytest.raises(ValueError, match="postgresql"):
        conninfo("sqlite:///x.db")


def test_a_bucket_gives_its_burst_then_the_wait_for_the_next_token(store: PgLimitStore) -> None:
    name, limit = _name(), Limit(rate=0.5, burst=3)
    takes = [store.take(name, limit) for _ in range(5)]
    assert [t.allowed for t in takes] == [True, True, True, False, False]
    # Empty bucket at 0.5 tokens/s: about two seconds to the next token.
    assert 1.5 < takes[3].wait_s <= 2.0


def test_two_processes_draw_from_one_bucket(postgres_url: str) -> None:
    a, b = PgLimitStore(postgres_url), PgLimitStore(postgres_url)
    try:
        name, limit = _name(), Limit(rate=0.1, burst=4)
        allowed = [s.take(name, limit).allowed for s in (a, b) * 4]
        assert allowed.count(True) == 4
    finally:
        a.close()
        b.close()


def test_a_bucket_refills_at_its_rate(store: PgLimitStore) -> None:
    name, limit = _name(), Limit(rate=20.0, burst=1)
    assert store.take(name, limit).allowed
    assert not store.take(name, limit).allowed
    time.sleep(0.1)  # two tokens' worth at 20/s, capped at the burst of one
    assert store.take(name, limit).allowed


def test_any_key_name_is_a_plain_value(store: PgLimitStore) -> None:
    limit = Limit(rate=0.1, burst=1)
    for name in ["\x00", "'; DROP TABLE outguard_rate_buckets; --", "☃" * 100, "\ud800 lone surrogate", ""]:
        assert store.take(name, limit).allowed
        assert not store.take(name, limit).allowed


def test_quota_windows_count_and_reset(store: PgLimitStore) -> None:
    name = _name()
    assert store.spent(name, 3600).used == 0
    store.charge(name, 3600, 7)
    spent = store.charge(name, 3600, 5)
    assert spent.used == 12 and spent.reset_at - spent.window_start == 3600
    assert store.spent(name, 3600).used == 12
    assert store.spent(name, 60).used == 0  # another window length is another account


def test_a_store_that_is_down_raises_and_is_not_retried_at_once() -> None:
    down = PgLimitStore(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres", retry_s=60)
    with pytest.raises(StoreDown):
        down.take("k", Limit(1.0, 1))
    t0 = time.perf_counter()
    with pytest.raises(StoreDown, match="recently"):
        down.spent("k", 60)
    assert time.perf_counter() - t0 < 0.05  # answered from the backoff, no new connection attempt


def test_the_shared_limiter_falls_back_to_its_own_buckets_when_the_store_is_down() -> None:
    down = PgLimitStore(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    limiter = SharedRateLimiter(down, rate=100.0, burst=200)
    assert [limiter.acquire("k", 0.1, 2) == 0 for _ in range(3)] == [True, True, False]
    assert limiter.limit_of("k") == Limit(0.1, 2)


# -- real processes ---------------------------------------------------------------------------------------------


def start_workers(tmp: Path, n: int, *extra: str, db_url: str | None = None) -> Server:
    """`guardrails serve --workers n` in its own process group (stopped whole by `stop_workers`), ready when every
    worker has compiled its engines. Two workers start in 10-45 s on a loaded 2-core machine: a longer wait than
    tests.service.server's, whose timeout would also leave the workers orphaned."""
    port = free_port()
    db_url = db_url or f"sqlite:///{tmp / 'reviews.sqlite3'}"
    log = tmp / f"server-{port}.log"
    cmd = [
        sys.executable, "-m", "guardrails", "serve", "--port", str(port),
        "--policy", "demo", "--rules", str(DEMO_RULES),
        "--review-db", db_url, "--keys-file", str(write_keys_file(tmp / "keys.yaml")), "--rate-limit", "100000",
        "--workers", str(n), *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OUTGUARD_API_KEYS": ""}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", proc, db_url, log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if len(_ready_pids(server)) >= n:
                return server
        time.sleep(0.3)
    stop_workers(server)
    raise RuntimeError(f"{n} workers not ready in 180 s: {log.read_text()[-2000:]}")


def stop_workers(server: Server) -> None:
    """SIGTERM to the process group this test started (uvicorn's parent stops its workers; the group catches any
    worker left behind), SIGKILL after 20 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGTERM)
    try:
        server.proc.wait(20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)
    time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)  # nothing should be left; if a worker is, it goes now


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Server]:
    server = start_workers(tmp_path_factory.mktemp("workers"), 2, "--limits-db", postgres_url, db_url=postgres_url)
    try:
        yield server
    finally:
        stop_workers(server)


def _ready_pids(server: Server) -> set[str]:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    return set(re.findall(r'^outguard_ready\{pid="(\d+)"\} 1\.0$', text, re.M))


def test_workers_sum_their_metrics(workers: Server) -> None:
    with workers.client() as client:
        before = _validations(workers)
        for i in range(40):
            assert client.post(
                "/v1/validate", json={"output": f"hello {i}"}, headers={"Connection": "close"}
            ).is_success
    assert len(_ready_pids(workers)) == 2
    assert _validations(workers) - before == 40  # every worker's count, whichever answered /metrics


def _validations(server: Server) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    return sum(
        float(v)
        for v in re.findall(
            r'^outguard_requests_total\{[^}]*route="/v1/validate"[^}]*status="200"[^}]*\} (\S+)$', text, re.M
        )
    )


def test_a_review_session_holds_on_every_worker(workers: Server) -> None:
    with httpx.Client(base_url=workers.url, timeout=30) as browser:
        page = browser.get("/review/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        r = browser.post(
            "/review/login",
            data={"csrf_token": token.group(1), "username": "alice", "password": PASSWORDS["alice"], "next": "/review"},
            follow_redirects=True,
        )
        assert r.status_code == 200, r.text[:500]
        # New connections land on either worker: each must accept the other's cookie (one session secret).
        for _ in range(20):
            page = browser.get("/review", headers={"Connection": "close"})
            assert page.status_code == 200 and "/review/login" not in str(page.url)


# -- replicas on one PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_replicas(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[list[Server]]:
    servers: list[Server] = []
    try:
        for i in range(2):
            tmp = tmp_path_factory.mktemp(f"pgreplica{i}")
            servers.append(start_server(tmp, "--limits-db", postgres_url, db_url=postgres_url))
        yield servers
    finally:
        for s in servers:
            stop(s)


def test_replicas_share_the_review_queue(pg_replicas: list[Server]) -> None:
    a, b = pg_replicas
    rid = f"replica-{uuid.uuid4().hex[:12]}"
    with a.client() as client:
        report = client.post("/v1/validate", json={"output": "Take 400 mg twice a day.", "request_id": rid})
    assert report.is_success, report.text
    with b.client("review") as reviewer:
        items = reviewer.get("/v1/reviews", params={"limit": 500}).json()
    queued = [i.get("request_id") for i in _items(items)]
    assert f"validate/{rid}" in queued, "an item queued on replica A is missing on B"  # ids are scoped by key


def test_a_suppression_decided_on_one_replica_holds_on_the_other(pg_replicas: list[Server]) -> None:
    a, b = pg_replicas
    output = f"Take 400 mg twice a day. ({uuid.uuid4().hex[:6]})"
    with a.client() as client:
        first = client.post("/v1/validate", json={"output": output, "request_id": f"sup-{uuid.uuid4().hex[:12]}"})
    assert first.json()["verdict"] != "pass", first.text
    with b.client("review") as reviewer:
        items = _items(reviewer.get("/v1/reviews", params={"limit": 500}).json())
        item = next(i for i in items if i.get("request_id") == first.json().get("request_id") or _holds(i, output))
        decided = reviewer.post(f"/v1/reviews/{item['id']}/decision", json={"kind": "false_positive"})
        assert decided.status_code == 200, decided.text
    # Replica A learns it from the shared database within its suppression cache's refresh (5 s).
    deadline = time.monotonic() + 15
    with a.client() as client:
        while time.monotonic() < deadline:
            if client.post("/v1/validate", json={"output": output}).json()["verdict"] == "pass":
                return
            time.sleep(0.5)
    raise AssertionError("a suppression decided on replica B never reached replica A")


def test_a_fact_written_on_one_replica_is_checked_on_the_other(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> None:
    servers: list[Server] = []
    try:
        for i in range(2):
            tmp = tmp_path_factory.mktemp(f"facts{i}")
            extra = ("--policy", "demo-facts", "--facts-db", postgres_url)
            servers.append(start_server(tmp, *extra, db_url=postgres_url))
        a, b = servers
        entity = f"Zorbo Kettle {uuid.uuid4().hex[:6]}"
        fact = {"entity": entity, "attribute": "price", "type": "money", "value": "49", "currency": "USD"}
        with a.client("admin") as admin:
            assert admin.post("/v1/facts", json=fact).status_code == 200
        output = f"Good news: the {entity} costs $59."
        with b.client() as client:
            report = client.post("/v1/validate", json={"output": output, "policy": "demo-facts"}).json()
        assert "known-fact-contradicted" in [f["rule_id"] for f in report["findings"]], report
    finally:
        for s in servers:
            stop(s)


def _holds(item: dict[str, object], output: str) -> bool:
    return output[-8:] in json.dumps(item)


def _items(payload: object) -> list[dict[str, object]]:
    if isinstance(payload, dict):
        return list(payload.get("items", []))
    return list(payload) if isinstance(payload, list) else []


def test_keys_are_shared_by_name_not_by_replica(pg_replicas: list[Server]) -> None:
    # The same keys file on every replica: a key known on A authenticates on B (nothing replica-local).
    for server in pg_replicas:
        r = httpx.post(
            f"{server.url}/v1/validate", json={"output": "hi"}, headers={"Authorization": f"Bearer {KEYS['validate']}"}
        )
        assert r.status_code == 200


def test_workers_refuse_demo_mode(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "guardrails", "serve", "--demo", "--workers", "2", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2 and "--demo runs one worker" in out.stderr
