"""Cost of one rate-limit acquire and one quota check/charge, per store: in process, PostgreSQL (the shared store
`--limits-db` uses), and for comparison Redis (a Lua token bucket through redis-py, the usual alternative).

    python tests/bench/bench_limits.py [--n 5000] [--redis-server PATH] [--contended 2]

PostgreSQL is a throwaway cluster on loopback (tests/postgres.py: fsync off, as the tests run it; the bucket table
is UNLOGGED anyway). Redis runs only when `redis-server` and the `redis` package are found. `--contended K` also
runs K processes acquiring from the SAME key at once (the row lock every replica takes). Numbers on a shared,
noisy 2-core machine: read them as ranges.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from service.limits.model import TokenQuota  # noqa: E402
from service.limits.quota import QuotaBook  # noqa: E402
from service.limits.store import PgLimitStore  # noqa: E402
from service.ratelimit import Limit, RateLimiter  # noqa: E402
from tests.postgres import throwaway_postgres  # noqa: E402

# The same arithmetic as service/limits/store.py's _TAKE, as a Redis script (what a Redis store would run).
_REDIS_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(b[1]) or burst
local updated = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'updated', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return allowed
"""


def _timed(label: str, fn: Callable[[int], object], n: int) -> None:
    for i in range(min(200, n)):  # warm up: connection, prepared statements, script cache
        fn(i)
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1e6)
    samples.sort()
    p50, p99 = samples[len(samples) // 2], samples[int(len(samples) * 0.99)]
    print(f"{label:<46} p50 {p50:8.1f} us   p99 {p99:8.1f} us   mean {statistics.fmean(samples):8.1f} us")


def _contended_worker(url: str, n: int, out: multiprocessing.Queue[float]) -> None:
    store = PgLimitStore(url)
    limit = Limit(1e9, 10**9)
    store.take("contended", limit)
    t0 = time.perf_counter()
    for _ in range(n):
        store.take("contended", limit)
    out.put((time.perf_counter() - t0) / n * 1e6)


def bench_memory(n: int) -> None:
    limiter = RateLimiter(1e9, 10**9)
    _timed("in process: acquire (one key)", lambda i: limiter.acquire("key"), n)
    book, quota = QuotaBook(), TokenQuota(tokens=10**12, window_s=3600)
    _timed("in process: quota admit", lambda i: book.admit("key", quota), n)
    _timed("in process: quota charge", lambda i: book.charge("key", quota, 10), n)


def bench_postgres(url: str, n: int, contended: int) -> None:
    store = PgLimitStore(url)
    limit = Limit(1e9, 10**9)
    _timed("PostgreSQL: acquire (one key)", lambda i: store.take("key", limit), n)
    _timed("PostgreSQL: acquire (1,000 keys in turn)", lambda i: store.take(f"key-{i % 1000}", limit), n)
    book, quota = QuotaBook(store), TokenQuota(tokens=10**12, window_s=3600)
    _timed("PostgreSQL: quota admit", lambda i: book.admit("key", quota), n)
    _timed("PostgreSQL: quota charge", lambda i: book.charge("key", quota, 10), n)
    store.close()
    if contended > 1:
        ctx = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue[float] = ctx.Queue()
        procs = [ctx.Process(target=_contended_worker, args=(url, n, queue)) for _ in range(contended)]
        for p in procs:
            p.start()
        per = [queue.get(timeout=300) for _ in procs]
        for p in procs:
            p.join()
        print(f"PostgreSQL: acquire, {contended} processes on one key      mean {statistics.fmean(per):8.1f} us each")


def bench_redis(server: str, n: int) -> None:
    try:
        import redis
    except ImportError:
        print("Redis: skipped (pip install redis)")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="outguard-redis-")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        take = client.register_script(_REDIS_TAKE)
        _timed("Redis: acquire (one key, Lua script)", lambda i: take(keys=["key"], args=[1e9, 10**9]), n)
        _timed("Redis: quota charge (INCRBY + EXPIRE, pipelined)", lambda i: _charge(client), n)
        client.close()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def _charge(client: object) -> None:
    pipe = client.pipeline()  # type: ignore[attr-defined]
    pipe.incrby("quota:key:3600:0", 10)
    pipe.expire("quota:key:3600:0", 3600)
    pipe.execute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--redis-server", default=shutil.which("redis-server"))
    parser.add_argument("--contended", type=int, default=2)
    args = parser.parse_args()
    bench_memory(args.n)
    with throwaway_postgres() as url:
        bench_postgres(url, args.n, args.contended)
    if args.redis_server:
        bench_redis(args.redis_server, args.n)
    else:
        print("Redis: skipped (no redis-server; Debian: apt-get install redis-server)")


if __name__ == "__main__":
    main()
