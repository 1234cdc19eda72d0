"""Benchmark the JSON rules (syntax + repair + schema) on ~2 KB outputs through the Engine, one core.

    python tests/bench/bench_json.py [--n 3000] [--scaling]

Corpus (generated, fixed seed): 60% valid outputs, 25% repairable (fences, prose, single quotes, trailing
commas, Python literals, truncation, a string "42" for an integer), 15% schema-invalid. The schema is
fixtures/json/person.schema.json-like but larger; it is passed per call in Context.schema (the same object
every time, as an app would) and, separately, compiled into the rule's params.

Prints p50/p99 per output for each category (wall clock, and CPU time of the thread, which is less
disturbed when the machine is shared), the floor (json.loads + a cached jsonschema validator on the
same texts), and the share of the total per rule. Budget for a whole rule-only policy: p50 <= 0.5 ms.

--scaling: repair cost against input size. Broken JSON (single quotes, trailing commas, Python literals,
unquoted keys, a comment, a truncated end) of 10 KB to 1 MB, deadlines lifted, through the `json` policy
without the schema rule; prints CPU time per output and per KB, which stays flat when repair is linear.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import jsonschema  # noqa: E402

from guardrails import Engine  # noqa: E402
from guardrails.rules.compile import compile_policy  # noqa: E402
from guardrails.rules.loader import load_ruleset  # noqa: E402
from guardrails.rules.model import RuleOverride  # noqa: E402

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^ORD-[0-9]{6}$"},
        "customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "email": {"type": "string", "format": "email"},
                "country": {"enum": ["DE", "FR", "US", "JP", "BR"]},
            },
            "required": ["name", "email"],
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string"},
                    "qty": {"type": "integer", "minimum": 1},
                    "price": {"type": "number"},
                    "note": {"type": "string"},
                },
                "required": ["sku", "qty", "price"],
                "additionalProperties": False,
            },
        },
        "paid": {"type": "boolean"},
        "summary": {"type": "string"},
    },
    "required": ["order_id", "customer", "items", "paid"],
}

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "Müller",
    "Zoë",
    "naïve",
    "東京",
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "order",
    "shipped",
    "quickly",
]


def make_value(rng: random.Random) -> dict[str, Any]:
    items = [
        {
            "sku": f"SKU-{rng.randrange(10**5):05d}",
            "qty": rng.randrange(1, 9),
            "price": round(rng.uniform(1, 500), 2),
            "note": " ".join(rng.choices(WORDS, k=6)),
        }
        for _ in range(12)
    ]
    return {
        "order_id": f"ORD-{rng.randrange(10**6):06d}",
        "customer": {"name": "Zoë Müller", "email": "zoe@example.com", "country": rng.choice(["DE", "FR", "US"])},
        "items": items,
        "paid": rng.random() < 0.5,
        "summary": " ".join(rng.choices(WORDS, k=40)),
    }


def damage(text: str, rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return f"Here is the order:\n```json\n{text}\n```\nLet me know if you need more."
    if kind == 1:
        return text.replace('"', "'")
    if kind == 2:
        return text.replace("]", ",]").replace("}", ",}")
    if kind == 3:
        return text.replace("true", "True").replace("false", "False")
    if kind == 4:
        return text[: len(text) - rng.randrange(20, 200)]
    return text.replace('"qty": 1', '"qty": "1"')


def corpus(n: int) -> list[tuple[str, str]]:
    rng = random.Random(20240601)
    out = []
    for i in range(n):
        value = make_value(rng)
        text = json.dumps(value, ensure_ascii=False)
        r = i % 20
        if r < 12:
            out.append(("valid", text))
        elif r < 17:
            out.append(("repairable", damage(text, rng)))
        else:
            value["items"][3]["qty"] = 0
            value["customer"].pop("email")
            value["items"][5]["colour"] = "red"
            out.append(("schema-invalid", json.dumps(value, ensure_ascii=False)))
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def run(engine: Engine, docs: list[tuple[str, str]], context: dict[str, Any] | None) -> None:
    for _, text in docs[:200]:  # warm up: caches, first compile of a Context schema
        engine.validate(text, context)
    by_cat: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    per_rule: dict[str, float] = defaultdict(float)
    gc.collect()
    for cat, text in docs:
        c0 = time.thread_time()
        t0 = time.perf_counter()
        report = engine.validate(text, context)
        dt = time.perf_counter() - t0
        dc = time.thread_time() - c0
        for key in (cat, "all"):
            by_cat[key].append(dt)
            cpu[key].append(dc)
        for t in report.timings:
            per_rule[t.rule_id] += t.ms
    for cat in ("all", "valid", "repairable", "schema-invalid"):
        xs, cs = by_cat[cat], cpu[cat]
        mean = statistics.mean(xs) * 1000
        print(
            f"    {cat:15s} wall p50 {pct(xs, 0.5):7.3f} ms  p99 {pct(xs, 0.99):7.3f} ms  mean {mean:7.3f} ms"
            f"  | cpu p50 {pct(cs, 0.5):7.3f} ms  p99 {pct(cs, 0.99):7.3f} ms  (n={len(xs)})"
        )
    total = sum(per_rule.values())
    top = sorted(per_rule.items(), key=lambda kv: -kv[1])[:5]
    print("    time share by rule: " + ", ".join(f"{k} {v / total:.0%}" for k, v in top))


def floor(docs: list[tuple[str, str]]) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    xs, cs = [], []
    for cat, text in docs:
        if cat != "valid":
            continue
        c0 = time.thread_time()
        t0 = time.perf_counter()
        validator.is_valid(json.loads(text))
        xs.append(time.perf_counter() - t0)
        cs.append(time.thread_time() - c0)
    print(
        "  floor: json.loads + cached jsonschema.is_valid on valid outputs: "
        f"wall p50 {pct(xs, 0.5):.3f} ms  p99 {pct(xs, 0.99):.3f} ms | cpu p50 {pct(cs, 0.5):.3f} ms"
        f"  p99 {pct(cs, 0.99):.3f} ms"
    )


def broken_json(n_bytes: int, seed: int = 7) -> str:
    """An array of records with every repairable fault the json rules know, cut off near `n_bytes`."""
    rng = random.Random(seed)
    parts = ["// exported\n["]
    size = 0
    i = 0
    while size < n_bytes:
        name = f"item {rng.randint(0, 10**6)}"
        rec = f"{{id: {i}, 'name': '{name}', \"ok\": True, \"note\": None, \"tags\": ['a', 'b',],}},\n"
        parts.append(rec)
        size += len(rec)
        i += 1
    return "".join(parts)[: n_bytes - 7]  # truncated inside a record


def scaling() -> None:
    rs = load_ruleset()
    policy, path = rs.policy("json")
    lifted = policy.model_copy(
        update={"exclude": ["schema-violation"], "deadline_ms": 600_000.0, "max_output_chars": 10**8}
    )
    engine = Engine(compile_policy(lifted, rs, path))
    print("repair cost against size (json policy without the schema rule, deadlines lifted):")
    for kb in (10, 100, 1000):
        text = broken_json(kb * 1024)
        reps = max(1, 300 // kb)
        engine.validate(text)  # warm
        c0 = time.process_time()
        for _ in range(reps):
            report = engine.validate(text)
        cpu = (time.process_time() - c0) / reps
        codes = sorted({f.code for f in report.findings})
        print(
            f"  {kb:5d} KB: {cpu * 1000:9.1f} ms CPU per output, {cpu * 1e6 / kb:7.1f} us per KB,"
            f" verdict {report.verdict.value}, {len(report.edits)} edits, codes {', '.join(codes)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--scaling", action="store_true", help="repair cost from 10 KB to 1 MB instead")
    args = parser.parse_args()
    if args.scaling:
        scaling()
        return
    docs = corpus(args.n)
    sizes = sorted(len(t) for _, t in docs)
    print(f"corpus: {len(docs)} outputs, median {sizes[len(sizes) // 2]} chars")
    rs = load_ruleset()
    policy, path = rs.policy("json")
    engine = Engine(compile_policy(policy, rs, path))
    print("  json policy, schema in Context.schema (21 rules):")
    run(engine, docs, {"schema": SCHEMA})
    over = dict(policy.overrides)
    over["schema-violation"] = RuleOverride(params={**over["schema-violation"].params, "schema": SCHEMA})
    engine2 = Engine(compile_policy(policy.model_copy(update={"overrides": over}), rs, path))
    print("  json policy, schema compiled into the rule's params:")
    run(engine2, docs, None)
    engine3 = Engine(compile_policy(policy.model_copy(update={"exclude": ["schema-violation"]}), rs, path))
    print("  json policy without the schema rule (syntax + repair rules only, 20 rules):")
    run(engine3, docs, None)
    floor(docs)


if __name__ == "__main__":
    main()
