"""Paired A/B of the html_template check, on outputs each seen once (first sight), in one process.

    python tests/bench/ab_html.py --ref 0acd9ed [--n 1500] [--seed 99]
    python tests/bench/ab_html.py --gc [--n 600]

`--ref`: scan + analysis + render of the code at a git commit (guardrails/checks/_html copied out as package
`html_base`) against the working tree, alternating which runs first; every output is new to both (their caches
are separate), so the paired difference cancels the machine's drift. The commit's copy always runs as Python;
the working tree runs the build in use (see `guardrails compile --check`; OUTGUARD_PURE_PYTHON=1 compares
Python with Python). It cannot isolate garbage-collector
effects: one side's garbage is collected during whichever call happens to trigger a pass.
`--gc`: the working tree's whole check (every html rule) with Python's cyclic collector on, then off, on
distinct outputs. Outputs as in bench_html.py (5 KB knowledge-base articles, unique links).
"""

from __future__ import annotations

import argparse
import gc
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import bench_html as bench

ROOT = Path(__file__).resolve().parents[2]
MODULES = ["__init__", "analyze", "render", "scan", "store", "template", "urls", "caches"]


def load_base(ref: str) -> dict[str, ModuleType]:
    """guardrails/checks/_html at `ref`, importable as `html_base`."""
    where = Path(tempfile.mkdtemp(prefix="ab_html_")) / "html_base"
    where.mkdir()
    for name in MODULES:
        shown = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{ref}:guardrails/checks/_html/{name}.py"],
            capture_output=True,
            text=True,
            check=False,
        )
        if shown.returncode == 0:
            (where / f"{name}.py").write_text(shown.stdout.replace("guardrails.checks._html.", "html_base."))
    sys.path.insert(0, str(where.parent))
    import importlib

    return {name: importlib.import_module(f"html_base.{name}") for name in ("scan", "analyze", "render", "template")}


def current() -> dict[str, ModuleType]:
    from guardrails.checks._html import analyze, render, scan, template

    return {"scan": scan, "analyze": analyze, "render": render, "template": template}


def one(side: dict[str, Any], template: Any, text: str) -> float:
    scan, analyze, render = side["scan"], side["analyze"], side["render"]
    t0 = time.thread_time()
    parsed = scan.scan(text, scan.Limits())
    analysis = analyze.analyze(text, parsed, template, [], lambda: None)
    if any(i.kind in analyze.STRUCTURAL or i.structural for i in analysis.issues):
        render.render(analysis, [])
    return (time.thread_time() - t0) * 1000


def corpora(rng: random.Random, n: int) -> dict[str, list[str]]:
    return {
        "conforming": [bench.article(rng) for _ in range(n)],
        "straying": [bench.mutate(bench.article(rng), rng, bench.STRAY) for _ in range(n)],
        "attacking": [bench.mutate(bench.article(rng), rng, bench.ATTACK) for _ in range(n)],
    }


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def compare_ref(ref: str, n: int, seed: int) -> None:
    engine = bench.build_engine(False)
    spec = next(r.check for r in engine.rules if r.check.kind == "html_template").p.templates["kb-article"]  # type: ignore[attr-defined]
    sides = {"base": load_base(ref), "new": current()}
    templates = {k: s["template"].compile_template("kb-article", spec, Path) for k, s in sides.items()}
    rng = random.Random(seed)
    for text in [bench.article(rng) for _ in range(30)]:
        for k, side in sides.items():
            one(side, templates[k], text)
    print(f"first sight, scan + analysis + render; base = {ref}, new = working tree; {n} outputs per set")
    for label, texts in corpora(rng, n).items():
        times: dict[str, list[float]] = {"base": [], "new": []}
        diffs = []
        for i, text in enumerate(texts):
            got = {k: one(sides[k], templates[k], text) for k in (("base", "new") if i % 2 == 0 else ("new", "base"))}
            for k, ms in got.items():
                times[k].append(ms)
            diffs.append(got["new"] - got["base"])
        base, new = median(times["base"]), median(times["new"])
        print(
            f"{label:<11} base p50 {base:.3f} ms  new p50 {new:.3f} ms  paired difference p50 {median(diffs):+.3f} ms"
        )


def compare_gc(n: int, seed: int) -> None:
    from guardrails import Context

    engine = bench.build_engine(False)
    ctx = Context(template="kb-article")
    rng = random.Random(seed)
    for text in [bench.article(rng) for _ in range(30)]:
        bench.check_ms(engine, text, ctx)
    print(f"whole check (every html rule), first sight, collector on vs off; {n} pairs of distinct outputs per set")
    for label, texts in corpora(rng, 2 * n).items():
        on: list[float] = []
        off: list[float] = []
        for i in range(0, 2 * n, 2):
            on.append(bench.check_ms(engine, texts[i], ctx))
            gc.disable()
            try:
                off.append(bench.check_ms(engine, texts[i + 1], ctx))
            finally:
                gc.enable()
        print(f"{label:<11} collector on p50 {median(on):.3f} ms  off p50 {median(off):.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--ref", help="git commit to compare the working tree with")
    mode.add_argument("--gc", action="store_true", help="collector on vs off, working tree only")
    parser.add_argument("--n", type=int, default=None, help="outputs per set (default 1500 with --ref, 600 with --gc)")
    parser.add_argument("--seed", type=int, default=99)
    args = parser.parse_args()
    if args.ref:
        compare_ref(args.ref, args.n or 1500, args.seed)
    else:
        compare_gc(args.n or 600, args.seed)


if __name__ == "__main__":
    main()
