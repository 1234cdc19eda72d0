"""JSON repair on `json_repair_cases` dev: right values, wrong values, losses, speed; json-repair beside us.

    python tests/eval/eval_json_repair.py [--repeat 20] [--verbose]

Data: $OUTGUARD_EVAL_DIR or <repo>/../shared/eval, dev split only (tuning happens there; the holdout is
scored elsewhere). `expected` is json-repair's own opinion of the right repair, not ground truth, so a
"wrong value" is split in two: one that *loses* a value token of the input (a string, number or literal
dropped or merged: our bug by definition) and one that keeps every token but differs from json-repair's
opinion (["] closed as [""] where json-repair says []).

Ours = the Engine with the bundled `json` policy (schema per call in Context.schema, as a user runs it),
once with safe fixes only and once with allow_unsafe. A row counts as:
- right: delivered (pass/repaired) and the output equals `expected` as JSON, or, for the rows json-repair
  gives up on, not delivered;
- delivered but wrong: pass/repaired with a value different from `expected`;
- valid unchanged: for valid inputs without a schema, the output is byte-identical to the input.

Speed: wall time per case of `repair(text, schema)` (guardrails.checks._json.salvage: the repair itself, what
json-repair does), of the safe engine's `validate` (the repair plus every rule, the Report, the re-check) and
of `json_repair.repair_json(return_objects)`, best of --repeat runs per case, then p50/p99 over the cases,
for all cases and for the broken ones. Ratios are taken in this one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import json_repair  # noqa: E402

from guardrails import Engine  # noqa: E402
from guardrails.checks._json.salvage import repair  # noqa: E402
from guardrails.findings import Verdict  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402
from guardrails.rules.loader import load_ruleset  # noqa: E402
from guardrails.rules.model import RepairSettings  # noqa: E402

try:  # the lossless check (issue 14); absent on older trees, then losses are not counted
    from guardrails.jsonparse.lossless import lost_tokens
except ImportError:  # pragma: no cover
    lost_tokens = None  # type: ignore[assignment]


def eval_dir() -> Path:
    env = os.environ.get("OUTGUARD_EVAL_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "eval"


def rows() -> Iterator[dict[str, Any]]:
    with (eval_dir() / "json_repair_cases" / "dev.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def engine(*, allow_unsafe: bool) -> Engine:
    rs = load_ruleset()
    policy, path = rs.policy("json")
    repair = RepairSettings(allow_unsafe=allow_unsafe)
    return Engine(compile_policy(policy.model_copy(update={"repair": repair}), rs, path))


def same(value: Any, expected: Any) -> bool:
    """Equal as JSON (1 == 1.0 but True != 1)."""
    return json.dumps(value, sort_keys=True) == json.dumps(expected, sort_keys=True)


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    engines = {"safe": engine(allow_unsafe=False), "unsafe": engine(allow_unsafe=True)}
    c: dict[str, int] = defaultdict(int)
    misses: list[str] = []
    ours_t: list[float] = []
    lib_t: list[float] = []
    fn_t: list[float] = []
    broken: list[bool] = []
    for row in rows():
        text, expected, opts = row["input"], row["expected"], row["options"] or {}
        unrepairable = bool(row["unrepairable"]) or expected == ""
        has_schema = isinstance(opts.get("schema"), dict)
        ctx = {"schema": opts["schema"]} if has_schema else None
        valid_plain = bool(row["input_is_valid_json"]) and not has_schema
        c["n"] += 1
        c["valid_plain"] += valid_plain
        for label, eng in engines.items():
            report = eng.validate(text, ctx)
            delivered = report.verdict in (Verdict.PASS, Verdict.REPAIRED)
            try:
                value, parses = json.loads(report.output), True
            except ValueError:
                value, parses = None, False
            right = parses and not unrepairable and same(value, expected)
            ok = (not delivered) if unrepairable else (delivered and right)
            c[f"{label}_ok"] += ok
            c[f"{label}_delivered"] += delivered
            c[f"{label}_repaired"] += report.verdict is Verdict.REPAIRED
            if delivered and not right:
                c[f"{label}_wrong"] += 1
                lost = lost_tokens(text, value) if lost_tokens is not None and parses else None
                c[f"{label}_wrong_lossy"] += bool(lost)
                misses.append(
                    f"[{label}] {row['id']}: {text[:70]!r} -> {report.output[:70]!r} ({report.verdict.value})"
                    f" expected {json.dumps(expected)[:60]}" + (f" LOST {lost}" if lost else "")
                )
            elif args.verbose and not ok:
                misses.append(f"[{label}] {row['id']}: not delivered ({report.verdict.value}) {text[:70]!r}")
            if valid_plain:
                c[f"{label}_valid_unchanged"] += report.output == text
        kwargs = {k: v for k, v in opts.items() if k in ("schema", "strict", "schema_repair_mode")}
        try:
            got = json_repair.repair_json(text, return_objects=True, **kwargs)
            lib_ok = (got == "" or got is None) if unrepairable else same(got, expected)
            lib_same = json_repair.repair_json(text, **kwargs) == text
        except Exception:  # the library's own failures are what we measure
            lib_ok, lib_same = False, False
        c["lib_ok"] += lib_ok
        c["lib_valid_unchanged"] += valid_plain and lib_same
        ours_t.append(best_time(partial(engines["safe"].validate, text, ctx), args.repeat))
        fn_t.append(best_time(partial(repair, text, opts.get("schema") if has_schema else None), args.repeat))
        broken.append(not row["input_is_valid_json"])
        lib_t.append(best_time(partial(json_repair.repair_json, text, return_objects=True, **kwargs), args.repeat))
    n, nv = c["n"], c["valid_plain"]
    print(f"== json_repair_cases dev: {n} cases ({nv} valid without a schema)")
    for label, name in (("safe", "outguard json policy, safe fixes"), ("unsafe", "outguard json policy, allow_unsafe")):
        print(
            f"  {name:38s} right {c[f'{label}_ok'] / n:.3f} ({c[f'{label}_ok']}/{n})"
            f"  repaired {c[f'{label}_repaired']}  delivered but wrong {c[f'{label}_wrong']}"
            f" (of which lose a token: {c[f'{label}_wrong_lossy']})"
            f"  valid byte-identical {c[f'{label}_valid_unchanged']}/{nv}"
        )
    print(
        f"  {'json-repair ' + json_repair.__dict__.get('__version__', ''):38s} right {c['lib_ok'] / n:.3f}"
        f" ({c['lib_ok']}/{n}, its own test expectations)  valid byte-identical {c['lib_valid_unchanged']}/{nv}"
    )
    for label, keep in (("all cases", [True] * len(broken)), ("broken inputs", broken)):
        fn, eng, lib = ([t for t, k in zip(ts, keep, strict=True) if k] for ts in (fn_t, ours_t, lib_t))
        print(
            f"  per case, {label} ({len(fn)}, best of {args.repeat}): outguard repair() p50 {pct(fn, 0.5) * 1e3:.3f} ms"
            f" p99 {pct(fn, 0.99) * 1e3:.3f} ms | json-repair p50 {pct(lib, 0.5) * 1e3:.3f} ms"
            f" p99 {pct(lib, 0.99) * 1e3:.3f} ms | ratio p50 {pct(fn, 0.5) / pct(lib, 0.5):.2f}x"
            f" p99 {pct(fn, 0.99) / pct(lib, 0.99):.2f}x | safe engine validate p50 {pct(eng, 0.5) * 1e3:.3f} ms"
            f" p99 {pct(eng, 0.99) * 1e3:.3f} ms"
        )
    for line in misses:
        print("   ", line)


if __name__ == "__main__":
    main()
