"""JSON work beside its floors, in one process: schema validation, repair, and a plain JSON check.

    python tests/bench/bench_json_floor.py [--n 300] [--runs 3]

A generated corpus (seeded): valid JSON outputs of a pydantic model (200 B - 8 KB), and the same outputs
broken the way models break them (truncated, single quotes, trailing commas, prose and fences around,
Python literals). Per output, per run, the median and p99 of:

- schema: outguard's `json` policy with the model's JSON Schema in Context.schema, on the valid outputs,
  next to pydantic's `Model.model_validate_json` (the floor; goal <= 3x);
- repair: outguard's `repair(text)` (guardrails.checks._json.salvage) and the whole `json` policy with
  allow_unsafe, on the broken outputs, next to `json_repair.repair_json(return_objects=True)` (goal <= 1x);
- json check: the `json` policy without a schema on valid outputs, next to an LLM-Guard-like check
  (`json.loads` of the text, found by a regex for the outermost braces).

Ratios are taken within each run (ours / floor at the median), then shown for all three runs. Times are the
thread's CPU time (time.thread_time), not wall time.

--scaling: `repair(text)` and json-repair on one broken document (records with every fault the tolerant
parser knows, cut off inside a record; tests/bench/bench_json.py's `broken_json`) of 100 KB, 1 MB and 4 MB:
CPU time of this process per call and per KB, which stays flat when both are linear.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import json_repair  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from guardrails import Engine  # noqa: E402
from guardrails.checks._json.salvage import repair  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402
from guardrails.rules.loader import load_ruleset  # noqa: E402
from guardrails.rules.model import RepairSettings  # noqa: E402


class Item(BaseModel):
    sku: str
    qty: int
    price: float
    tags: list[str]


class Order(BaseModel):
    id: str
    customer: str
    email: str
    paid: bool
    note: str | None
    items: list[Item]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))


def order(rng: random.Random, n_items: int) -> dict[str, Any]:
    return {
        "id": f"ord-{rng.randint(1, 10**6)}",
        "customer": f"{_word(rng).title()} {_word(rng).title()}",
        "email": f"{_word(rng)}@example.com",
        "paid": rng.random() < 0.5,
        "note": None if rng.random() < 0.5 else " ".join(_word(rng) for _ in range(rng.randint(3, 20))),
        "items": [
            {
                "sku": _word(rng).upper(),
                "qty": rng.randint(1, 9),
                "price": round(rng.uniform(1, 500), 2),
                "tags": [_word(rng) for _ in range(rng.randint(0, 4))],
            }
            for _ in range(n_items)
        ],
    }


def break_it(text: str, rng: random.Random) -> str:
    kind = rng.choice(["truncate", "single", "trailing", "prose", "python", "fence"])
    if kind == "truncate":
        return text[: rng.randrange(len(text) // 2, len(text) - 1)]
    if kind == "single":
        return text.replace('"', "'")
    if kind == "trailing":
        return text.replace("]", ",]").replace("}", ",}")
    if kind == "prose":
        return f"Sure! Here is the order:\n{text}\nLet me know if you need more."
    if kind == "python":
        return text.replace("true", "True").replace("false", "False").replace("null", "None")
    return f"```json\n{text}\n```"


def corpus(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    valid = []
    while len(valid) < n:
        text = json.dumps(order(rng, rng.randint(1, 40)), indent=rng.choice([None, 2]))
        if 200 <= len(text) <= 8192:
            valid.append(text)
    return valid, [break_it(t, rng) for t in valid]


_BRACES = re.compile(r"\{.*\}", re.S)


def llm_guard_like(text: str) -> bool:
    m = _BRACES.search(text)
    if m is None:
        return False
    try:
        json.loads(m.group())
    except ValueError:
        return False
    return True


def engine(*, allow_unsafe: bool = False) -> Engine:
    rs = load_ruleset()
    policy, path = rs.policy("json")
    return Engine(
        compile_policy(policy.model_copy(update={"repair": RepairSettings(allow_unsafe=allow_unsafe)}), rs, path)
    )


def per_output(fn: Callable[[str], Any], texts: list[str]) -> list[float]:
    # CPU time of this thread: on the shared 2-core machine wall time measures the other tenants' load as
    # much as the work (the ratios swung 0.8x-1.05x between a load of 5 and of 12).
    clock = time.thread_time
    out = []
    for t in texts:
        t0 = clock()
        fn(t)
        out.append(clock() - t0)
    return out


def stats(ts: list[float]) -> tuple[float, float]:
    s = sorted(ts)
    return statistics.median(s) * 1e6, s[min(len(s) - 1, int(0.99 * len(s)))] * 1e6


def scaling(runs: int) -> None:
    from tests.bench.bench_json import broken_json

    print("repair() and json-repair on one broken document, CPU seconds (best of the runs):")
    for kb in (100, 1000, 4000):
        text = broken_json(kb * 1024)
        ours = floor = float("inf")
        for _ in range(runs):
            c0 = time.process_time()
            result = repair(text)
            c1 = time.process_time()
            json_repair.repair_json(text, return_objects=True)
            c2 = time.process_time()
            ours, floor = min(ours, c1 - c0), min(floor, c2 - c1)
        print(
            f"  {kb:5d} KB: ours {ours:7.3f} s ({ours * 1e6 / kb:6.1f} us/KB) | json-repair {floor:7.3f} s"
            f" ({floor * 1e6 / kb:6.1f} us/KB) | ratio {ours / floor:4.2f}x | {len(result.edits)} edits,"
            f" safe {result.safe}" + ("" if result.safe else f" ({result.dropped})")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scaling", action="store_true", help="100 KB, 1 MB and 4 MB broken documents instead")
    args = parser.parse_args()
    if args.scaling:
        scaling(args.runs)
        return
    valid, broken = corpus(args.n, args.seed)
    sizes = sorted(len(t) for t in valid)
    print(f"corpus: {len(valid)} valid + {len(broken)} broken outputs, median {sizes[len(sizes) // 2]} B")
    safe, unsafe = engine(), engine(allow_unsafe=True)
    schema = Order.model_json_schema()
    ctx = {"schema": schema}
    work: list[tuple[str, Callable[[str], Any], Callable[[str], Any], list[str]]] = [
        ("schema (valid)", lambda t: safe.validate(t, ctx), Order.model_validate_json, valid),
        ("repair() (broken)", repair, lambda t: json_repair.repair_json(t, return_objects=True), broken),
        (
            "json policy allow_unsafe (broken)",
            unsafe.validate,
            lambda t: json_repair.repair_json(t, return_objects=True),
            broken,
        ),
        ("json policy, no schema (valid)", safe.validate, llm_guard_like, valid),
    ]
    for label, ours, floor, texts in work:
        for t in texts[:20]:  # warm caches (compiled schema, imports) outside the timing
            ours(t)
            floor(t)
        ratios, lines = [], []
        for run in range(args.runs):
            o50, o99 = stats(per_output(ours, texts))
            f50, f99 = stats(per_output(floor, texts))
            ratios.append(o50 / f50)
            lines.append(
                f"    run {run + 1}: ours p50 {o50:8.1f} us p99 {o99:8.1f} us | floor p50 {f50:8.1f} us"
                f" p99 {f99:8.1f} us | ratio p50 {o50 / f50:5.2f}x p99 {o99 / f99:5.2f}x"
            )
        print(f"{label}: ratio at the median {' / '.join(f'{r:.2f}x' for r in ratios)}")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
