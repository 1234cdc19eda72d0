"""Benchmark the `pii` policy per output, next to presidio's AnalyzerEngine on the same outputs.

    python tests/bench/bench_pii.py [--rounds N] [--cold]

Outputs of 200 B - 8 KB built from the presidio dev texts alone (PII-dense) and mixed with ordinary
LLM answers (xstest_completions, halueval_general), plus 2 KB outputs. Prints p50/p99 per output of
wall time and of process CPU time (the machine is shared: CPU time is the steadier number). With
--cold, our per-string caches (phone plans, e-mail domain checks) are emptied before every output (presidio has none),
so no output profits from strings an earlier one held.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "eval"))

from eval_pii import SETS, build_docs, load, our_engine, presidio_engine  # noqa: E402

from guardrails.checks._pii.scan import clear_string_caches  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    fn: Callable[[str], object], docs: list[str], rounds: int, before: Callable[[], None] = lambda: None
) -> tuple[list[float], list[float]]:
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        for doc in docs:
            before()
            w0, c0 = time.perf_counter(), time.process_time()
            fn(doc)
            wall.append((time.perf_counter() - w0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    return wall, cpu


def line(name: str, wall: list[float], cpu: list[float]) -> str:
    return (
        f"  {name:10s} wall p50 {percentile(wall, 0.5):7.3f} ms  p99 {percentile(wall, 0.99):7.3f} ms | "
        f"cpu p50 {percentile(cpu, 0.5):7.3f} ms  p99 {percentile(cpu, 0.99):7.3f} ms  mean {statistics.mean(cpu):.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cold", action="store_true", help="empty per-string caches before each output")
    args = ap.parse_args()
    before = clear_string_caches if args.cold else (lambda: None)
    pii_texts = [str(r["text"]) for name in SETS for r in load(name)]
    llm = [str(r["completion"]) for r in load("xstest_completions")]
    llm += [str(r["response"]) for r in load("halueval_general")]
    corpora = {
        "PII-dense 200 B-8 KB": build_docs(pii_texts, seed=20240601),
        "mixed 200 B-8 KB": build_docs(pii_texts + llm, seed=20240602),
        "mixed 2 KB": build_docs(pii_texts + llm, seed=20240603, lo=1900, hi=2100),
    }
    ours = our_engine(repair=False)
    repairing = our_engine(repair=True)
    base = presidio_engine()
    # Warm both sides on every output once: phonenumbers compiles a country's patterns on first use (one
    # process-wide cache both sides share); that is a once-per-process cost, not a per-output one. With
    # --cold our own per-string caches are emptied again before each timed output.
    for docs in corpora.values():
        for doc in docs:
            ours.validate(doc)
            base.analyze(doc, language="en")
    for name, docs in corpora.items():
        print(f"{name}: {len(docs)} outputs, {args.rounds} rounds")
        w, c = measure(ours.validate, docs, args.rounds, before)
        print(line("pii", w, c))
        w2, c2 = measure(repairing.validate, docs, args.rounds, before)
        print(line("pii+repair", w2, c2))
        wb, cb = measure(lambda d: base.analyze(d, language="en"), docs, args.rounds)
        print(line("presidio", wb, cb))
        print(f"  speed-up (mean CPU, detection): {statistics.mean(cb) / statistics.mean(c):.1f}x")


if __name__ == "__main__":
    main()
