"""Benchmark: stream validation overhead per chunk and hold-back delay, rule-only policy.

    python tests/bench/bench_stream.py [--chunk 4] [--size 2000] [--runs 200]

Budget (DESIGN.md / issue 6): <= 50 us per chunk for a rule-only policy. Prints p50/p99 of the per-chunk
cost of `StreamValidator.feed`, the one-off cost of `finish()` (the whole-output validation), and the
hold-back delay: how many characters arrive after a character before it is released, and what that means
in milliseconds at typical model output rates.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails.engine import Engine  # noqa: E402
from guardrails.guard import StreamValidator  # noqa: E402

RULES = ROOT / "fixtures" / "guard" / "rules"

SENTENCES = [
    "The quarterly report shows revenue grew by 4.2 percent year over year. ",
    "Customers in the northern region renewed at a higher rate than last year. ",
    "Contact the analyst team at analysts@example.com for the raw figures. ",
    "Operating costs were flat, and the hiring plan is unchanged for next quarter. ",
    "Die Zahlen für Europa werden nächste Woche veröffentlicht. ",
    "欧州の数字は来週発表されます。",
]


def output(size: int) -> str:
    text, i = "", 0
    while len(text) < size:
        text += SENTENCES[i % len(SENTENCES)]
        i += 1
    return text[:size]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunk", type=int, default=4, help="characters per chunk (about one token)")
    ap.add_argument("--size", type=int, default=2000, help="output size in characters")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--policy", default="guard-test")
    args = ap.parse_args()

    engine = Engine.from_policy(args.policy, rules_dirs=[RULES])
    text = output(args.size)
    parts = [text[i : i + args.chunk] for i in range(0, len(text), args.chunk)]
    streaming = [r.rule.id for r in engine.rules if r.check.streaming]
    print(f"policy {args.policy}: {len(engine.rules)} rules ({len(streaming)} streaming: {', '.join(streaming)})")
    print(f"output {len(text)} chars in {len(parts)} chunks of {args.chunk}; {args.runs} runs")

    per_chunk: list[float] = []
    finish: list[float] = []
    lags: list[int] = []
    for run in range(args.runs + 5):
        v = StreamValidator(engine)
        received = released = 0
        run_lags: list[int] = []
        t_chunks: list[float] = []
        for part in parts:
            t0 = time.perf_counter()
            events = v.feed(part)
            t_chunks.append(time.perf_counter() - t0)
            received += len(part)
            for e in events:
                if e.type == "text" and e.text:
                    # Every character released now arrived `received - position` characters ago.
                    run_lags.extend(received - pos for pos in range(released, released + len(e.text)))
                    released += len(e.text)
        t0 = time.perf_counter()
        v.finish()
        t_finish = time.perf_counter() - t0
        if run >= 5:  # warm-up runs are not counted
            per_chunk.extend(t_chunks)
            finish.append(t_finish)
            lags.extend(run_lags)

    us = [t * 1e6 for t in per_chunk]
    print(f"feed() per chunk: p50 {pct(us, 50):.1f} us  p99 {pct(us, 99):.1f} us  mean {statistics.fmean(us):.1f} us")
    fin = [t * 1e3 for t in finish]
    print(f"finish() (whole-output validation + reconcile): p50 {pct(fin, 50):.3f} ms  p99 {pct(fin, 99):.3f} ms")
    print(f"hold-back window: {v.hold_back} chars (largest lookbehind of the streaming checks)")
    if lags:
        p50, p99 = pct([float(x) for x in lags], 50), pct([float(x) for x in lags], 99)
        print(f"release lag (released while streaming): p50 {p50:.0f} chars  p99 {p99:.0f} chars")
        for rate in (0.05, 0.2, 1.0):  # chars per ms: ~12, ~50 and ~250 tokens/s
            label = f"{rate:g} chars/ms ({rate * 250:.0f} tok/s)"
            print(f"  at {label}: delay p50 {p50 / rate:.0f} ms  p99 {p99 / rate:.0f} ms")
    # The scan runs once per `min_release` settled characters, so most chunks cost ~1 us and one in
    # min_release/chunk pays for the scan: the mean is the overhead a stream actually carries per chunk.
    budget = 50.0
    for name, value in (("mean, amortized", statistics.fmean(us)), ("p50", pct(us, 50)), ("p99", pct(us, 99))):
        print(f"budget {budget:.0f} us per chunk, {name}: {'within' if value <= budget else 'OVER'} ({value:.1f} us)")


if __name__ == "__main__":
    main()
