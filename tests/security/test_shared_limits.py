"""Rate limits across workers and replicas. Attack: a key limited to a slow rate sends a flood spread over two
sidecar replicas (or `serve --workers 2`): with one bucket per process, every process granted the key its whole
burst (two replicas: twice the configured limit, N workers: N times). With --limits-db every process draws from one
bucket in PostgreSQL, so the flood gets the key's burst plus what its rate refills, wherever it lands. Also: a key
name no SQL or encoding should choke on, a large burst of simultaneous requests, and a limits store that is down
(requests are limited by each process's own bucket: answered 200 or 429, never 500, never unlimited)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.auth import hash_key
from tests.service.server import Server, free_port, start_server, stop
from tests.service.test_replicas import start_workers, stop_workers

# Slow enough that two processes' own buckets (2 x burst + 2 x refill) clearly exceed one bucket's arithmetic.
RATE, BURST = 0.5, 5
ODD_NAME = "we\"ird\x00 ☃ '; DROP TABLE outguard_rate_buckets; --"
KEYS = {
    "flood": "k-flood-0123456789abcdef",
    "workers": "k-workers-0123456789abcdef",
    "odd": "k-odd-0123456789abcdef",
    "huge": "k-huge-0123456789abcdef",
    "down": "k-down-0123456789abcdef",
}


def keys_file(tmp: Path) -> Path:
    path = tmp / "limits.yaml"
    lines = ["api_keys:"]
    for name, key in KEYS.items():
        shown = '"we\\"ird\\0 ☃ \'; DROP TABLE outguard_rate_buckets; --"' if name == "odd" else name
        lines.append(
            f"  - {{name: {shown}, key_sha256: {hash_key(key)}, scopes: [validate], "
            f"rate_limit_rps: {RATE}, rate_limit_burst: {BURST}}}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _start(tmp: Path, *extra: str) -> Server:
    # start_server passes its own keys file and --rate-limit first; the later flags win.
    return start_server(tmp, "--keys-file", str(keys_file(tmp)), *extra)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[list[Server]]:
    servers = []
    try:
        for i in range(2):
            servers.append(_start(tmp_path_factory.mktemp(f"replica{i}"), "--limits-db", postgres_url))
        yield servers
    finally:
        for s in servers:
            stop(s)


def flood(urls: list[str], key: str, n: int) -> tuple[list[httpx.Response], float]:
    """`n` validations at once on separate connections, spread round-robin over `urls`."""

    async def go() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            headers = {"Authorization": f"Bearer {key}"}
            calls = [
                client.post(f"{urls[i % len(urls)]}/v1/validate", json={"output": f"hello {i}"}, headers=headers)
                for i in range(n)
            ]
            return list(await asyncio.gather(*calls))

    t0 = time.monotonic()
    answers = asyncio.run(go())
    return answers, time.monotonic() - t0


def passed_at_most(elapsed: float) -> int:
    # One bucket: its burst, what its rate refills while the flood runs, and one for rounding.
    return BURST + math.ceil(RATE * elapsed) + 1


def test_two_replicas_share_one_keys_bucket(replicas: list[Server]) -> None:
    answers, elapsed = flood([s.url for s in replicas], KEYS["flood"], 40)
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 429}, codes
    passed = codes.count(200)
    assert BURST <= passed <= passed_at_most(elapsed), (passed, elapsed)
    limited = next(r for r in answers if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1
    error = limited.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"] == [{"limit": "key", "key": "flood", "rate_per_s": RATE, "burst": BURST}]


def test_serve_workers_2_share_one_keys_bucket(tmp_path: Path, postgres_url: str) -> None:
    server = start_workers(tmp_path, 2, "--keys-file", str(keys_file(tmp_path)), "--limits-db", postgres_url)
    try:
        answers, elapsed = flood([server.url], KEYS["workers"], 60)
        codes = [r.status_code for r in answers]
        assert set(codes) <= {200, 429}, codes
        assert BURST <= codes.count(200) <= passed_at_most(elapsed), (codes.count(200), elapsed)
    finally:
        stop_workers(server)


def test_a_key_name_with_odd_characters_is_a_plain_value(replicas: list[Server]) -> None:
    answers, elapsed = flood([s.url for s in replicas], KEYS["odd"], 20)
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 429}, codes
    assert BURST <= codes.count(200) <= passed_at_most(elapsed)
    limited = next(r for r in answers if r.status_code == 429)
    assert limited.json()["error"]["details"][0]["key"] == ODD_NAME
    # The table the name tried to drop still limits the other keys.
    answers, _ = flood([replicas[0].url], KEYS["flood"], 3)
    assert {r.status_code for r in answers} <= {200, 429}


def test_a_huge_burst_is_held_to_the_bucket(replicas: list[Server]) -> None:
    answers, elapsed = flood([s.url for s in replicas], KEYS["huge"], 300)
    codes = [r.status_code for r in answers]
    assert len(codes) == 300 and set(codes) <= {200, 429}, sorted(set(codes))
    assert BURST <= codes.count(200) <= passed_at_most(elapsed), (codes.count(200), elapsed)


def test_a_limits_store_that_is_down_limits_in_process(tmp_path: Path) -> None:
    # Nothing listens there: every store call fails at connect.
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    server = _start(tmp_path, "--limits-db", dead)
    try:
        answers, elapsed = flood([server.url], KEYS["down"], 30)
        codes = [r.status_code for r in answers]
        assert set(codes) <= {200, 429}, codes
        assert BURST <= codes.count(200) <= passed_at_most(elapsed), (codes.count(200), elapsed)
        assert "limits store unavailable" in server.log.read_text()
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        stop(server)
