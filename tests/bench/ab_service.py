"""Paired A/B of the sidecar over HTTP: two servers, one client loop that asks them in turn (ABBA order).

    git worktree add /tmp/base <commit>
    python tests/bench/ab_service.py --a /tmp/base:h11:asyncio --b .:h11:asyncio [--n 3000]
    python tests/bench/ab_service.py --a .:h11:asyncio --b .:httptools:uvloop

A side is CHECKOUT[:HTTP[:LOOP]]: the checkout whose `guardrails serve` runs, and uvicorn's `http` and `loop`
settings forced onto it (`serve`, the default, keeps what `guardrails serve` picks). Separate runs of
bench_service.py drift by 10-20% on this shared machine, more than the changes measured here; in one loop
both servers see the same load, request after request, and the paired difference cancels the drift.
Same request as bench_service.py: POST /v1/validate, 2 KB text, rule-only demo policy, keep-alive.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import bench_service as bench

# Runs in the server process: forces uvicorn's http/loop settings onto whatever `guardrails serve` passes.
_LAUNCH = """
import sys, uvicorn
http, loop, *argv = sys.argv[1:]
forced = {k: v for k, v in (("http", http), ("loop", loop)) if v != "serve"}
run = uvicorn.run
uvicorn.run = lambda app, **kw: run(app, **{**kw, **forced})
from guardrails.cli.main import main
raise SystemExit(main(argv))
"""


def _start(side: str, tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    root, http, loop = [*side.split(":"), "serve", "serve"][:3]
    root_path = Path(root).resolve()
    port = bench.free_port()
    env = {**os.environ, "PYTHONPATH": str(root_path), "OUTGUARD_API_KEYS": f"bench:validate:{bench.KEY}"}
    serve = ["serve", "--port", str(port), "--policy", "demo", "--rules", str(bench.DEMO_RULES),
             "--review-db", f"sqlite:///{tmp / f'{port}.sqlite3'}", "--rate-limit", "1000000"]  # fmt: skip
    cmd = [sys.executable, "-c", _LAUNCH, http, loop, *serve]
    proc = subprocess.Popen(cmd, cwd=root_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="CHECKOUT[:HTTP[:LOOP]], e.g. /tmp/base:h11:asyncio")
    ap.add_argument("--b", required=True, help="CHECKOUT[:HTTP[:LOOP]], e.g. .:httptools:uvloop")
    ap.add_argument("--n", type=int, default=3000, help="request pairs")
    args = ap.parse_args()

    body = json.dumps({"output": bench.text_2kb(), "policy": "demo"}).encode()
    tmp = Path(tempfile.mkdtemp(prefix="outguard-ab-"))
    servers = [_start(args.a, tmp), _start(args.b, tmp)]
    try:
        for proc, port in servers:
            if not bench.wait_ready(proc, port):
                raise SystemExit(f"server on port {port} did not become ready")
        a, b = (bench.Client(port) for _proc, port in servers)
        for _ in range(300):
            a.validate(body)
            b.validate(body)
        a_ms: list[float] = []
        b_ms: list[float] = []
        errors = 0
        for i in range(args.n):
            order = ((a, a_ms), (b, b_ms)) if i % 2 == 0 else ((b, b_ms), (a, a_ms))
            for client, out in order:
                status, ms = client.validate(body)
                errors += status != 200
                out.append(ms)
    finally:
        for proc, _port in servers:
            proc.terminate()
            proc.wait(10)
    diffs = [y - x for x, y in zip(a_ms, b_ms, strict=True)]
    b_faster = sum(d < 0 for d in diffs) / len(diffs)
    print(f"A {args.a}: p50 {statistics.median(a_ms):.3f} ms  p90 {bench.pct(a_ms, 0.9):.3f} ms")
    print(f"B {args.b}: p50 {statistics.median(b_ms):.3f} ms  p90 {bench.pct(b_ms, 0.9):.3f} ms")
    print(f"B - A: median of paired differences {statistics.median(diffs):+.3f} ms, p50 difference "
          f"{statistics.median(b_ms) - statistics.median(a_ms):+.3f} ms; B faster in {b_faster:.0%} of "
          f"{len(diffs)} pairs; errors {errors}")  # fmt: skip
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
