"""Soak benchmark of the sidecar: mixed traffic from several clients for minutes, on loopback.

Four clients (by default) each loop over a mix of what production sends a sidecar:

- `validate`: POST /v1/validate, clean outputs and outputs that are repaired or queued for review;
- `batch`: POST /v1/validate/batch with 10 outputs;
- `review`: the review API: list the queue, read one item, decide it (each client decides only items it queued,
  so no two clients race on one item);
- `proxy`: POST /v1/chat/completions through the guarded proxy to a scripted loopback upstream, streamed and not.

It reports, per minute and per kind, the request count, p50 and p99 latency, the errors (any answer other than
the expected status, or a failed connection), and the server's RSS at the start (after warm-up), each minute and
at the end. It is a benchmark, not a test: run it by hand, read it, put its numbers in the README.

    python tests/bench/soak.py [--minutes 10] [--clients 4] [--review-db URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_service import free_port, pct, rss_kb, wait_ready  # noqa: E402
from tests.guard import fake_openai  # noqa: E402

DEMO_RULES = ROOT / "service" / "demo" / "rules"
KEYS = {"validate": "soak-validate-0123456789", "review": "soak-review-0123456789"}
CLEAN = "Thanks for asking. The quarterly numbers were checked by the finance team on Monday. " * 6
REPAIRED = CLEAN + " The dashboard lives on reports.corp for now."
FLAGGED = CLEAN + " This fund offers guaranteed returns of 12% a year."
UPSTREAM_TEXT = "Revenue grew in every region except the north-east, where two contracts slipped a quarter."


def _endless_reply(upstream: fake_openai.FakeOpenAI) -> Any:
    """The scripted upstream, never exhausted: a plain or a streamed answer, as the last request asked."""
    last = upstream.requests[-1]["body"] if upstream.requests else None
    if isinstance(last, dict) and last.get("stream"):
        words = UPSTREAM_TEXT.split(" ")
        return fake_openai.Sse([w + " " for w in words], usage=(20, len(words)))
    return fake_openai.Good(UPSTREAM_TEXT)


@dataclass
class Tally:
    """Latencies and errors per (minute, kind)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ms: dict[tuple[int, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)

    def add(self, minute: int, kind: str, ms: float, error: str | None) -> None:
        with self.lock:
            self.ms[(minute, kind)].append(ms)
            if error is not None:
                self.errors[(minute, kind)] += 1
                if len(self.samples) < 20:
                    self.samples.append(f"{kind}: {error}")


class Client:
    """One keep-alive connection per client; each call records its latency and whether it answered as expected."""

    def __init__(self, port: int, tally: Tally, start: float, seed: int) -> None:
        self.port = port
        self.tally = tally
        self.start = start
        self.rng = random.Random(seed)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.mine: deque[str] = deque(maxlen=50)  # review ids this client queued

    def call(self, kind: str, method: str, path: str, body: Any, key: str, expect: int = 200) -> Any:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {KEYS[key]}", "Content-Type": "application/json"}
        t0 = time.perf_counter()
        error = None
        data: Any = None
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
            if resp.status != expect:
                error = f"{method} {path} -> {resp.status} {raw[:200]!r}"
            elif resp.getheader("content-type", "").startswith("application/json"):
                data = json.loads(raw)
            else:
                data = raw
        except (OSError, http.client.HTTPException) as exc:
            error = f"{method} {path} -> {type(exc).__name__}: {exc}"
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        ms = (time.perf_counter() - t0) * 1000
        self.tally.add(int((time.monotonic() - self.start) // 60), kind, ms, error)
        return data

    def validate(self) -> None:
        output = self.rng.choice([CLEAN, REPAIRED, FLAGGED])
        report = self.call("validate", "POST", "/v1/validate", {"output": output}, "validate")
        if isinstance(report, dict) and report.get("review_id"):
            self.mine.append(report["review_id"])

    def batch(self) -> None:
        items = [{"output": self.rng.choice([CLEAN, REPAIRED, CLEAN])} for _ in range(10)]
        self.call("batch", "POST", "/v1/validate/batch", {"items": items}, "validate")

    def review(self) -> None:
        self.call("review", "GET", "/v1/reviews?limit=20", None, "review")
        if not self.mine:
            return
        item_id = self.mine.popleft()
        self.call("review", "GET", f"/v1/reviews/{item_id}", None, "review")
        decision = {"kind": self.rng.choice(["approve", "reject"]), "note": "soak"}
        self.call("review", "POST", f"/v1/reviews/{item_id}/decision", decision, "review")

    def proxy(self) -> None:
        stream = self.rng.random() < 0.5
        body = {"messages": [{"role": "user", "content": "How did revenue do?"}], "stream": stream}
        self.call("proxy", "POST", "/v1/chat/completions", body, "validate")

    def loop(self, until: float) -> None:
        work = [self.validate] * 5 + [self.batch, self.review, self.proxy, self.proxy]
        while time.monotonic() < until:
            self.rng.choice(work)()
        self.conn.close()


def _keys_file(path: Path) -> Path:
    from service.auth import hash_key

    lines = ["api_keys:"] + [
        f"  - {{name: {scope}, key_sha256: {hash_key(key)}, scopes: [{scope}]}}" for scope, key in KEYS.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _report(tally: Tally, rss: list[tuple[float, int]], minutes: int) -> dict[str, Any]:
    kinds = sorted({k for _, k in tally.ms})
    rows = []
    for minute in range(minutes):
        row: dict[str, Any] = {"minute": minute + 1}
        for kind in kinds:
            values = tally.ms.get((minute, kind), [])
            row[kind] = {
                "n": len(values),
                "p50_ms": round(pct(values, 0.5), 2) if values else None,
                "p99_ms": round(pct(values, 0.99), 2) if values else None,
                "errors": tally.errors.get((minute, kind), 0),
            }
        rows.append(row)
    return {
        "minutes": rows,
        "rss_kb": [{"t_s": round(t), "rss_kb": kb} for t, kb in rss],
        "errors_total": sum(tally.errors.values()),
        "requests_total": sum(len(v) for v in tally.ms.values()),
        "error_samples": tally.samples,
    }


def _print(summary: dict[str, Any]) -> None:
    for row in summary["minutes"]:
        parts = [f"min {row['minute']:>2}"]
        for kind, cell in row.items():
            if kind == "minute" or not cell["n"]:
                continue
            parts.append(f"{kind} n={cell['n']} p50={cell['p50_ms']}ms p99={cell['p99_ms']}ms err={cell['errors']}")
        print(" | ".join(parts))
    rss = summary["rss_kb"]
    print(f"server RSS: start {rss[0]['rss_kb'] / 1024:.1f} MB, end {rss[-1]['rss_kb'] / 1024:.1f} MB, "
          f"max {max(r['rss_kb'] for r in rss) / 1024:.1f} MB")  # fmt: skip
    print(f"requests {summary['requests_total']}, errors {summary['errors_total']}")
    for sample in summary["error_samples"]:
        print("  error:", sample)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--review-db", help="review queue URL (default: a SQLite file in a temporary folder)")
    ap.add_argument("--json", type=Path, help="also write the summary here")
    args = ap.parse_args()
    with fake_openai.serve() as upstream, tempfile.TemporaryDirectory() as tmp_name:
        # Endless instead of scripted, and a bounded request log: the soak must not grow its own memory.
        upstream.requests = deque(maxlen=8)  # type: ignore[assignment]
        upstream.next_reply = functools.partial(_endless_reply, upstream)  # type: ignore[method-assign]
        tmp = Path(tmp_name)
        port = free_port()
        cmd = [sys.executable, "-m", "guardrails", "serve", "--port", str(port), "--policy", "demo",
               "--rules", str(DEMO_RULES), "--review-db", args.review_db or f"sqlite:///{tmp / 'reviews.sqlite3'}",
               "--keys-file", str(_keys_file(tmp / "keys.yaml")), "--rate-limit", "100000",
               "--upstream-url", upstream.url, "--upstream-model", "fake-model"]  # fmt: skip
        log = (tmp / "server.log").open("wb")
        server = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not wait_ready(server, port):
                print((tmp / "server.log").read_text()[-3000:])
                return 2
            warm = Client(port, Tally(), time.monotonic(), 0)
            warm.loop(time.monotonic() + 10)
            tally = Tally()
            start = time.monotonic()
            until = start + args.minutes * 60
            rss = [(0.0, rss_kb(server.pid))]
            clients = [Client(port, tally, start, seed) for seed in range(1, args.clients + 1)]
            threads = [threading.Thread(target=c.loop, args=(until,)) for c in clients]
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                time.sleep(min(60.0, max(0.1, until - time.monotonic())))
                rss.append((time.monotonic() - start, rss_kb(server.pid)))
            for t in threads:
                t.join()
            summary = _report(tally, rss, max(1, int(-(-args.minutes // 1))))
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        _print(summary)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return 0 if summary["errors_total"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
