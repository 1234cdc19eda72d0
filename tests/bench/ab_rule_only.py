"""Paired A/B of bench_rule_only: two checkouts' engines validate each output in turn, in one process.

    git worktree add /tmp/base <commit>
    python tests/bench/ab_rule_only.py /tmp/base [--n 1500]

Separate runs of bench_rule_only.py on this machine drift by 10-20% from one run to the next (the same code
gave a valid p50 of 0.38 and 0.61 ms minutes apart), more than most changes are worth. Here both engines
see the same output one right after the other (ABBA order), pinned to one CPU, so the drift hits both alike.
The base checkout's modules are loaded first and moved aside in sys.modules, then this checkout's.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path
from statistics import median
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parents[2]


def _load(root: Path, tag: str) -> tuple[ModuleType, Any]:
    """Import bench_rule_only (and through it guardrails) from `root`; move earlier copies out of the way."""
    for name in [n for n in sys.modules if n.split(".")[0] in ("guardrails", "bench_rule_only")]:
        sys.modules[f"_ab_{tag}_{name}"] = sys.modules.pop(name)
    sys.path[:0] = [str(root), str(root / "tests" / "bench")]
    try:
        bench = importlib.import_module("bench_rule_only")
        engine = bench.build_engine(False)
        assert Path(sys.modules["guardrails"].__file__ or "").is_relative_to(root), "guardrails not from " + str(root)
    finally:
        del sys.path[:2]
    return bench, engine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base", type=Path, help="checkout to compare against (e.g. a git worktree of main)")
    parser.add_argument("--n", type=int, default=1500)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    _, base = _load(args.base.resolve(), "base")
    bench, new = _load(HERE, "new")
    corpus = bench.make_corpus(args.n)
    for _, text in corpus[:200]:
        base.validate(text)
        new.validate(text)
    cpu: dict[str, dict[str, list[float]]] = {"base": {}, "new": {}}
    clock = time.thread_time
    for i, (kind, text) in enumerate(corpus):
        order = (("base", base), ("new", new)) if i % 2 == 0 else (("new", new), ("base", base))
        for name, engine in order:
            c0 = clock()
            engine.validate(text)
            ms = (clock() - c0) * 1000
            for key in (kind, "ALL"):
                cpu[name].setdefault(key, []).append(ms)
    for key in ("ALL", "valid"):
        b, n = median(cpu["base"][key]), median(cpu["new"][key])
        print(f"{key:<6} cpu p50 base {b:.3f} ms  new {n:.3f} ms  ({(1 - n / b) * 100:.1f}% less)")


if __name__ == "__main__":
    main()
