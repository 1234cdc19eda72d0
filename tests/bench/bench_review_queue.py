"""The review page with 100,000 queued items, on SQLite and on PostgreSQL: server time of the queue page,
a full-text search and an item page, p50/p99 (goal: <= 100 ms p50 each).

    python tests/bench/bench_review_queue.py [--n 100000] [--requests 60] [--db sqlite|postgres|both]

The queue is filled in bulk (rows built from a few dozen real reports of the demo policy, spread over 30
days, a tenth of them decided, with prompts in the context), then the sidecar app runs in this process
(Starlette's TestClient: no network, so the time measured is the server's: routing, session check, the
queries and the template). PostgreSQL is a throwaway cluster (tests/postgres.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from guardrails import Engine  # noqa: E402
from guardrails.reviews import ItemFilter, ReviewState, ReviewStore  # noqa: E402
from guardrails.reviews import schema as rs  # noqa: E402
from guardrails.reviews.store import _codes_and_worst, _search_body  # noqa: E402
from service import ServiceConfig, create_app  # noqa: E402
from tests.service.conftest import DEMO_RULES, keyring, login  # noqa: E402

TEXTS = [
    "Our Growth Fund offers guaranteed returns of {n}% a year. Ask crm0{n}.corp.",
    "For a headache, adults can take {n}00 mg ibuprofen three times a day.",
    "This plan is risk-free for customer {n}.",
    "Take {n} mg twice a day, guaranteed results.",
    "Das Produkt ist risk-free — garantiert, Kunde {n}.",
]
WORDS = ["zebra", "fund", "pension", "headache", "mortgage", "refund", "invoice", "travel", "laptop", "garden"]


def fill(url: str, n: int) -> list[str]:
    store = ReviewStore.open(url)
    engine = Engine.from_policy("demo", [DEMO_RULES])
    reports = [engine.validate(t.format(n=k)) for t in TEXTS for k in range(1, 8)]
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    ids: list[str] = []
    batch: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] = ([], [], [])
    for i in range(n):
        report = reports[i % len(reports)]
        item_id = uuid.uuid4().hex
        ids.append(item_id)
        ctx = {"request_id": f"r{i}", "prompt": f"question {i} about {rng.choice(WORDS)} and {rng.choice(WORDS)}"}
        codes, worst = _codes_and_worst(report)
        created = now - dt.timedelta(seconds=rng.randint(0, 30 * 86400))
        decided = i % 10 == 0
        batch[0].append(
            {
                "id": item_id,
                "request_id": f"r{i}",
                "policy": "demo",
                "policy_version": report.policy_version,
                "verdict": report.verdict.value,
                "state": "decided" if decided else "open",
                "assignee": "alice" if decided else None,
                "sampled": False,
                "output": report.original,
                "delivered": report.output,
                "report_json": report.model_dump_json(by_alias=True),
                "context_json": json.dumps(ctx),
                "codes": " ".join(codes),
                "severity_rank": worst,
                "decision": "reject" if decided else None,
                "final_output": None,
                "decided_by": "alice" if decided else None,
                "created_at": created,
                "updated_at": created,
                "decided_at": created if decided else None,
                "claim_expires_at": None,
            }
        )
        batch[1].extend({"item_id": item_id, "code": c} for c in codes)
        batch[2].append({"item_id": item_id, "body": _search_body(report.original, ctx)})
        if len(batch[0]) >= 5000 or i == n - 1:
            with store.engine.begin() as conn:
                conn.execute(rs.items.insert(), batch[0])
                conn.execute(rs.item_codes.insert(), batch[1])
                conn.execute(rs.search.insert(), batch[2])
            batch = ([], [], [])
    # What autovacuum does to a queue in steady state (PostgreSQL's index-only scans need the visibility map).
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if store.dialect == "postgresql" else "ANALYZE")
    store.close()
    return ids


def timed(client: TestClient, path: str, runs: int) -> tuple[float, float]:
    client.get(path)  # warm
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def parts(url: str, runs: int, label: str) -> None:
    """Where a one-word search's time goes, measured side by side (same load): the page of 50, the count
    of every match (what the page paid before the cap) and the count capped at SEARCH_COUNT_CAP."""
    from service.review.web import SEARCH_COUNT_CAP

    store = ReviewStore.open(url)
    f = ItemFilter(states=[ReviewState.OPEN, ReviewState.IN_REVIEW], policies=["demo"], text="zebra")
    steps = {
        "page of 50": lambda: store.page(f, limit=50),
        "count, every match": lambda: store.counts(f),
        f"count, capped at {SEARCH_COUNT_CAP}": lambda: store.counts(f, cap=SEARCH_COUNT_CAP),
    }
    print(f"{label}: one-word search matches {store.count(f)} items")
    for name, step in steps.items():
        step()
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            step()
            samples.append((time.perf_counter() - t0) * 1000)
        samples.sort()
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print(f"{label}:   {name:<28} p50 {statistics.median(samples):7.1f} ms   p99 {p99:7.1f} ms")
    store.close()


def run(url: str, n: int, runs: int, label: str) -> None:
    t0 = time.perf_counter()
    ids = fill(url, n)
    print(f"{label}: filled {n} items in {time.perf_counter() - t0:.1f} s")
    parts(url, runs, label)
    app = create_app(
        ServiceConfig(policies=["demo"], rules_dirs=[DEMO_RULES], review_db=url), keys=keyring(), load_sync=True
    )
    with TestClient(app) as client:
        login(client, "alice")
        rng = random.Random(3)
        pages = {
            "queue page (pending, oldest)": "/review",
            "queue page (sort=severity)": "/review?sort=severity",
            "search (one word)": "/review?q=zebra",
            "search (two words)": "/review?q=pension+garden",
            "item page": f"/review/items/{rng.choice(ids[1:])}",
        }
        for name, path in pages.items():
            p50, p99 = timed(client, path, runs)
            print(f"{label}: {name:<30} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = ap.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/q.sqlite3", args.n, args.requests, "sqlite")
    if args.db in ("postgres", "both"):
        from tests.postgres import throwaway_postgres

        with throwaway_postgres() as url:
            run(url, args.n, args.requests, "postgres")


if __name__ == "__main__":
    main()
