"""Benchmark: what a streamed answer costs and how soon its reader sees it, per policy.

    python tests/bench/bench_stream.py [--chunk 4] [--runs 30] [--policy default html json guard-test]

For realistic outputs of each policy (prose with an e-mail address and links under `default`, an HTML article
of top-level elements under `html`, a JSON object under `json`), streamed in chunks of `--chunk` characters
(a token is ~4), prints:

* time to first released character: characters received before the first `text` event (and what that is in
  milliseconds at typical model rates);
* released lag: for every character released while streaming, how many characters had arrived after it;
* feed() per chunk p50/p99/max and the share of chunks over the 50 us budget, in wall time and in the calling
  thread's CPU time (what the call itself costs, without the time other processes on a loaded machine take
  from it), and finish() (the whole-output validation).

`--scan-calls` sets the validator's `scan_calls` (1: each scan runs whole, in the call that starts it).

Budget (DESIGN.md, issues 16 and 19): release within ~200 characters of the upstream; feed() p99 <= 50 us.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Context  # noqa: E402
from guardrails.engine import Engine  # noqa: E402
from guardrails.guard import StreamValidator  # noqa: E402

FIXTURE_RULES = ROOT / "fixtures" / "guard" / "rules"

SENTENCES = [
    "The quarterly report shows revenue grew by 4.2 percent year over year. ",
    "Customers in the northern region renewed at a higher rate than last year. ",
    "Contact the analyst team at analysts@example.com for the raw figures. ",
    "Operating costs were flat, and the hiring plan is unchanged for next quarter (see https://docs.example.com/q3). ",
    "Die Zahlen für Europa werden nächste Woche veröffentlicht. ",
    "欧州の数字は来週発表されます。",
]


def prose(size: int) -> str:
    text, i = "", 0
    while len(text) < size:
        text += SENTENCES[i % len(SENTENCES)]
        i += 1
    return text[:size]


def html_article(size: int) -> str:
    parts = [
        "<h2>Quarterly results</h2>",
        "<p>Revenue grew by <strong>4.2 percent</strong> year over year.</p>",
        '<p>Read the <a href="https://docs.example.com/q3">full report</a> for the figures.</p>',
        "<ul><li>North: renewals up</li><li>South: flat</li></ul>",
        "<p>Hiring is unchanged for next quarter.<br>Costs were flat.</p>",
    ]
    text, i = "", 0
    while len(text) < size:
        text += parts[i % len(parts)]
        i += 1
    return text


def json_object(size: int) -> str:
    items = []
    while len(json.dumps({"items": items})) < size:
        n = len(items)
        items.append({"id": n, "region": ["north", "south"][n % 2], "growth": 4.2, "note": "renewals up"})
    return json.dumps({"summary": "Quarterly results", "items": items}, indent=1)


def output_for(policy: str, size: int) -> str:
    return {"html": html_article, "json": json_object}.get(policy, prose)(size)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench(policy: str, chunk: int, size: int, runs: int, context: Any, scan_calls: int) -> None:
    engine = Engine.from_policy(policy, rules_dirs=[FIXTURE_RULES] if policy.startswith("guard-") else [])
    text = output_for(policy, size)
    parts = [text[i : i + chunk] for i in range(0, len(text), chunk)]
    per_chunk: list[float] = []
    per_chunk_cpu: list[float] = []
    finish: list[float] = []
    lags: list[int] = []
    first: list[int] = []
    for run in range(runs + 3):
        v = StreamValidator(engine, context, scan_calls=scan_calls)
        received = released = 0
        first_at: int | None = None
        run_lags: list[int] = []
        times: list[float] = []
        cpu: list[int] = []
        for part in parts:
            c0 = time.thread_time_ns()
            t0 = time.perf_counter()
            events = v.feed(part)
            times.append(time.perf_counter() - t0)
            cpu.append(time.thread_time_ns() - c0)
            received += len(part)
            for e in events:
                if e.type == "text" and e.text:
                    first_at = received if first_at is None else first_at
                    run_lags.extend(received - pos for pos in range(released, released + len(e.text)))
                    released += len(e.text)
        t0 = time.perf_counter()
        v.finish()
        if run >= 3:  # warm-up runs are not counted
            finish.append(time.perf_counter() - t0)
            per_chunk.extend(times)
            per_chunk_cpu.extend(cpu)
            lags.extend(run_lags)
            first.append(first_at if first_at is not None else len(text))
    print(
        f"== {policy}: {len(text)} chars in {len(parts)} chunks of {chunk}, {runs} runs, {len(v.rules)} streaming rules"
    )
    for label, us in (("wall", [t * 1e6 for t in per_chunk]), ("thread CPU", [t / 1e3 for t in per_chunk_cpu])):
        over = sum(u > 50 for u in us) / len(us)
        print(
            f"  feed() per chunk, {label}: p50 {pct(us, 50):.1f} us  p99 {pct(us, 99):.1f} us  max {max(us):.0f} us  "
            f"mean {statistics.fmean(us):.1f} us  over 50 us: {over:.1%}"
        )
    fin = [t * 1e3 for t in finish]
    print(f"  finish(): p50 {pct(fin, 50):.2f} ms  p99 {pct(fin, 99):.2f} ms")
    ttfr = statistics.median(first)
    print(f"  first released character after {ttfr:.0f} chars received ({ttfr / 0.2:.0f} ms at 50 tok/s)")
    if lags:
        fl = [float(x) for x in lags]
        share = len(lags) / (runs * len(text))
        print(
            f"  released lag: p50 {pct(fl, 50):.0f} chars  p99 {pct(fl, 99):.0f} chars  "
            f"({share:.0%} of the text released while streaming)"
        )
    else:
        print("  released lag: nothing released before the stream ended")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunk", type=int, default=4, help="characters per chunk (about one token)")
    ap.add_argument("--size", type=int, default=2000, help="output size in characters")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--policy", nargs="*", default=["default", "html", "json"])
    ap.add_argument("--no-context", action="store_true", help="default: no allowed domains (citation checks idle)")
    ap.add_argument("--scan-calls", type=int, default=8, help="feed() calls a scan is spread over (1: at once)")
    args = ap.parse_args()
    context = None if args.no_context else Context(allowed_domains=["example.com"])
    print(f"load average {os.getloadavg()[0]:.2f}, scan_calls {args.scan_calls}")
    for policy in args.policy:
        bench(policy, args.chunk, args.size, args.runs, context, args.scan_calls)


if __name__ == "__main__":
    main()
