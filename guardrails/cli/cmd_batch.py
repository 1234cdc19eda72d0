"""`guardrails batch FILE.jsonl -o REPORTS.jsonl`: validate a dataset on a process pool.

Each input line is a JSON object with the output text (and optionally a context); each output line is `{"line": N,
"report": {...}}` in input order, each report redacted (`--show-values` keeps the values). A line that is not a
usable object is reported on stderr with its number and skipped, never silently dropped: the summary counts it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from guardrails.cli._common import add_output_arg, add_policy_args, engine_from_args, read_text
from guardrails.cli.main import EXIT_ACTION, EXIT_OK, UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("batch", help="validate a JSONL dataset on a process pool, write reports as JSONL")
    p.add_argument("file", help="JSONL input, or - for stdin")
    add_output_arg(p, "where to write one report per line (- for stdout); required", old="--out")
    p.add_argument("--text-field", default="text")
    p.add_argument("--context-field", default=None)
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count, max 8)")
    p.add_argument(
        "--show-values",
        action="store_true",
        help="write the values PII (and sensitive-tagged) findings detected; by default each report is masked like "
        "every report that leaves the process",
    )
    add_policy_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.output:
        raise UsageError("batch: where should the reports go? give -o/--output FILE (- for stdout)")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be >= 1")
    label, text = read_text(args.file)
    numbers: list[int] = []
    outputs: list[str] = []
    contexts: list[Any] = []
    bad = 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get(args.text_field), str):
                raise ValueError(f"expected an object with string field {args.text_field!r}")
        except ValueError as exc:
            print(f"{label}:{n}: skipped: {exc}", file=sys.stderr)
            bad += 1
            continue
        numbers.append(n)
        outputs.append(obj[args.text_field])
        contexts.append(obj.get(args.context_field) if args.context_field else None)
    engine = engine_from_args(args)
    from guardrails.cli._progress import progress

    with progress("validating", len(outputs)) as advance:
        reports = engine.validate_many(outputs, contexts, workers=args.workers, progress=advance)
    from guardrails.redaction import sensitive_rule_ids

    sensitive = sensitive_rule_ids(engine.rules)
    verdicts: Counter[str] = Counter()
    sink = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for n, report in zip(numbers, reports, strict=True):
            verdicts[report.verdict.value] += 1
            # The reports file leaves the process (shared, uploaded, kept): masked unless the operator asks.
            shown = report if args.show_values else report.redacted(sensitive)
            sink.write(json.dumps({"line": n, "report": shown.model_dump(mode="json", by_alias=True)}) + "\n")
    finally:
        if sink is not sys.stdout:
            sink.close()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
    print(f"{len(reports)} validated ({summary}), {bad} skipped", file=sys.stderr)
    return EXIT_ACTION if bad or any(r.verdict.needs_action for r in reports) else EXIT_OK
