"""Finding 5: a key configured at 2 requests/s got ~400 requests through before its first 429, because every
bucket filled to the global burst. Attack: a real sidecar with a keys file; fire 50 requests at once with the
slow key; only its own burst (plus what its rate refills meanwhile) may pass, and another key is unaffected."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator

import httpx
import pytest

from service.auth import hash_key
from tests.service.server import Server, start_server, stop

KEYS = {"slow": "k-slow-0123456789abcdef", "tight": "k-tight-0123456789abcdef", "other": "k-other-0123456789abcdef"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ratelimits")
    keys = tmp / "limits.yaml"
    keys.write_text(
        "api_keys:\n"
        f"  - {{name: slow, key_sha256: {hash_key(KEYS['slow'])}, scopes: [validate], rate_limit_rps: 2}}\n"
        f"  - {{name: tight, key_sha256: {hash_key(KEYS['tight'])}, scopes: [validate], rate_limit_rps: 2,"
        " rate_limit_burst: 1}\n"
        f"  - {{name: other, key_sha256: {hash_key(KEYS['other'])}, scopes: [validate]}}\n",
        encoding="utf-8",
    )
    # start_server passes its own keys file and --rate-limit 100000 first; the later flags win.
    srv = start_server(tmp, "--keys-file", str(keys), "--rate-limit", "1000")
    try:
        yield srv
    finally:
        stop(srv)


def _flood(server: Server, key: str, n: int = 50) -> tuple[list[httpx.Response], float]:
    """`n` validations at once on separate connections; returns the answers and how long the flood took."""

    async def go() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:
            headers = {"Authorization": f"Bearer {key}"}
            calls = [client.post("/v1/validate", json={"output": f"hello {i}"}, headers=headers) for i in range(n)]
            return list(await asyncio.gather(*calls))

    t0 = time.monotonic()
    answers = asyncio.run(go())
    return answers, time.monotonic() - t0


def _passed_at_most(burst: int, rate: float, elapsed: float) -> int:
    # The bucket's own burst, what its rate refills while the flood runs, and one for rounding.
    return burst + math.ceil(rate * elapsed) + 1


def test_a_slow_key_gets_its_own_burst_not_the_global_one(server: Server) -> None:
    answers, elapsed = _flood(server, KEYS["slow"])
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 429}, codes
    passed = codes.count(200)
    # rate 2/s, no burst configured: the default burst is two seconds of the key's rate (4).
    assert 1 <= passed <= _passed_at_most(4, 2, elapsed), (passed, elapsed)
    limited = next(r for r in answers if r.status_code == 429)
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 2
    error = limited.json()["error"]
    assert error["code"] == "rate_limited" and "slow" in error["message"]
    assert error["details"] == [{"limit": "key", "key": "slow", "rate_per_s": 2.0, "burst": 4}]


def test_a_burst_set_on_the_key_is_its_burst(server: Server) -> None:
    answers, elapsed = _flood(server, KEYS["tight"])
    passed = [r.status_code for r in answers].count(200)
    assert 1 <= passed <= _passed_at_most(1, 2, elapsed), (passed, elapsed)


def test_another_key_is_unaffected(server: Server) -> None:
    _flood(server, KEYS["slow"])
    answers, _ = _flood(server, KEYS["other"])
    assert [r.status_code for r in answers] == [200] * 50
