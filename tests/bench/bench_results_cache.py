"""Issue 21's benchmark: a result-cache hit against a full validation of the `default` policy on 2 KB outputs.

    python tests/bench/bench_results_cache.py [--n 500] [--rounds 3]

The `default` policy with `cache: {results: true}`, n distinct ~2 KB prose outputs (fixed seed; one in four
carries an e-mail address, an internal hostname or a guarantee, so reports have findings and edits), one CPU.
Measured per output, thread-CPU and wall p50/p99:

- full: `engine.validate` (no cache);
- miss memory / miss shared: `cache.validate` on an output not seen yet (key, lookup, validation, encoding and
  storing the report), without and with the shared tier (whose writer thread shares the one CPU);
- hit: `cache.validate` again (key, memory lookup, decoding a fresh copy of the report);
- shared hit: another replica's `cache.validate` (its memory empty), answered from a SQLite table (decrypting).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Engine  # noqa: E402
from guardrails.metrics import percentile  # noqa: E402
from guardrails.results_cache import MemoryTier, ResultsCache, SqlTier  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402
from guardrails.rules.loader import load_ruleset  # noqa: E402

_PROSE = (
    "the order ships from our warehouse within two business days and includes a printed manual customers in the"
    " northern region reported that the battery lasts longer than expected while the display stays bright"
)
WORDS = _PROSE.split(" ")
SPICE = [
    "Write to jane.doe@example.com for a refund.",
    "The logs live on build01.prod.internal today.",
    "This plan offers guaranteed returns for everyone.",
]


def outputs(n: int, seed: int = 21) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 2000:
            words.append(rng.choice(WORDS))
        text = f"Answer {i}: " + " ".join(words) + "."
        if i % 4 == 0:
            text = text[:1000] + " " + SPICE[i % len(SPICE)] + " " + text[1000:1950]
        out.append(text[:2048])
    return out


def measure(fn: Callable[[str], object], texts: list[str]) -> tuple[list[float], list[float]]:
    cpu, wall = [], []
    for text in texts:
        c0, w0 = time.thread_time(), time.perf_counter()
        fn(text)
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return cpu, wall


def row(name: str, cpu: list[float], wall: list[float]) -> str:
    return (
        f"{name:<12} cpu p50 {percentile(cpu, 50):7.3f} ms  p99 {percentile(cpu, 99):7.3f} ms   "
        f"wall p50 {percentile(wall, 50):7.3f} ms  p99 {percentile(wall, 99):7.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    ruleset = load_ruleset([])
    policy, path = ruleset.policy("default")
    policy = policy.model_copy(update={"cache": policy.cache.model_copy(update={"results": True})})
    engine = Engine(compile_policy(policy, ruleset, path))
    replica = Engine(compile_policy(policy, ruleset, path))
    texts = outputs(args.n)
    print(f"default policy: {len(engine.rules)} rules, {args.n} outputs of {sum(map(len, texts)) // len(texts)} chars")
    for text in texts[:50]:  # warm up: lazy views, pattern caches
        engine.validate(text)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'cache.db'}"
        for r in range(args.rounds):
            batch = [f"{t[:-12]} round {r:03d}." for t in texts]
            shared, other = SqlTier.open(url), SqlTier.open(url)
            cache = ResultsCache(MemoryTier(max_entries=100_000, max_bytes=512 * 2**20), shared)
            full = measure(engine.validate, batch)
            local = ResultsCache(MemoryTier(max_entries=100_000, max_bytes=512 * 2**20))
            miss_local = measure(partial(local.validate, engine), [f"{t}  " for t in batch])
            miss = measure(partial(cache.validate, engine), [f"{t} " for t in batch])
            hit = measure(partial(cache.validate, engine), [f"{t} " for t in batch])
            far = ResultsCache(MemoryTier(), other)
            shared_hit = measure(partial(far.validate, replica), [f"{t} " for t in batch])
            assert cache.stats.hits == len(batch) and far.stats.shared_hits == len(batch), (cache.stats, far.stats)
            print(f"round {r + 1}")
            rows = [("full", full), ("miss memory", miss_local), ("miss shared", miss), ("hit", hit)]
            for name, (cpu, wall) in [*rows, ("shared hit", shared_hit)]:
                print("  " + row(name, cpu, wall))
            speedup = percentile(full[0], 50) / percentile(hit[0], 50)
            print(f"  hit vs full (cpu p50): {speedup:.1f}x cheaper; memory tier {cache.tiers.memory.size_bytes} bytes")
            shared.close()
            other.close()


if __name__ == "__main__":
    main()
