"""`guardrails bench --policy NAME --corpus FILE`: p50/p99 per rule and in total, in this one process.

The corpus is a JSONL file (field `text`, or --text-field) or a plain text file with one output per
line (use \\n escapes inside JSON strings for multi-line outputs). Runs on one thread: a one-core number.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

from guardrails.cli._common import add_policy_args, engine_from_args, read_text
from guardrails.cli.main import EXIT_OK, UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="time a policy on a corpus: p50/p99 per rule and in total")
    p.add_argument("--corpus", required=True, help="JSONL (field `text`) or one output per line")
    p.add_argument("--text-field", default="text")
    p.add_argument("--repeat", type=int, default=3, help="passes over the corpus (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed passes first (default 1)")
    add_policy_args(p)
    p.set_defaults(func=run)


def load_corpus(label: str, text: str, field: str) -> list[str]:
    outputs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{label}:{n}: not JSON: {exc.msg}") from exc
            if not isinstance(obj, dict) or not isinstance(obj.get(field), str):
                raise UsageError(f"{label}:{n}: expected an object with string field {field!r}")
            outputs.append(obj[field])
        else:
            outputs.append(line)
    if not outputs:
        raise UsageError(f"{label}: empty corpus")
    return outputs


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1 or args.warmup < 0:
        raise UsageError("--repeat must be >= 1 and --warmup >= 0")
    from guardrails.metrics import percentile

    label, text = read_text(args.corpus)
    outputs = load_corpus(label, text, args.text_field)
    engine = engine_from_args(args)
    for _ in range(args.warmup):
        for o in outputs:
            engine.validate(o)
    totals: list[float] = []
    per_rule: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.repeat):
        for o in outputs:
            t0 = time.perf_counter()
            report = engine.validate(o)
            totals.append((time.perf_counter() - t0) * 1000)
            for t in report.timings:
                per_rule[t.rule_id].append(t.ms)
    size = sum(len(o) for o in outputs) / len(outputs)
    print(f"policy {engine.policy.name}: {len(outputs)} outputs (mean {size:.0f} chars) x {args.repeat} passes")
    print(f"{'rule':<40} {'p50 ms':>9} {'p99 ms':>9}")
    for rule_id, values in sorted(per_rule.items(), key=lambda kv: -percentile(kv[1], 50)):
        print(f"{rule_id:<40} {percentile(values, 50):>9.4f} {percentile(values, 99):>9.4f}")
    print(f"{'TOTAL per output':<40} {percentile(totals, 50):>9.4f} {percentile(totals, 99):>9.4f}")
    return EXIT_OK
