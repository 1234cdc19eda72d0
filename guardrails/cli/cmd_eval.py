"""`guardrails eval FILE.jsonl --text-field F --label-field L`: precision, recall and F1 per rule code.

A review-queue export (`--text-field text --label-field flagged`) needs no --policy: its rows name the
policy they came from (and the sidecar's rules directories), which is scored unless --policy says otherwise.

The label may be a boolean (the row should be flagged), a rule code or a list of rule codes (the row
should be flagged by exactly these). With a boolean label, every code is scored against "flagged", and
the `ANY` row scores "any finding" against it. A finding counts whether it stayed open or was repaired
(the rule fired either way); only findings a reviewer suppressed as false positives do not count.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardrails.cli._common import add_format_arg, add_policy_args, engine_from_args, read_text
from guardrails.cli.main import EXIT_OK, UsageError

if TYPE_CHECKING:
    from guardrails.metrics import PRF


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="precision/recall/F1 per rule code on a labelled JSONL file")
    p.add_argument("file", help="JSONL file, one object per line")
    p.add_argument("--text-field", required=True, help="field holding the output text")
    p.add_argument("--label-field", required=True, help="field holding the label: bool, code or list of codes")
    p.add_argument("--context-field", help="field holding a context object (optional)")
    p.add_argument("--limit", type=int, help="evaluate at most N rows")
    add_format_arg(p, ["text", "json"])
    add_policy_args(p)
    # None: the policy the rows name (a review export), else "default".
    p.set_defaults(func=run, policy=None)


def _labels(value: Any, where: str) -> bool | set[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return set(value)
    raise UsageError(f"{where}: label must be a boolean, a rule code or a list of codes, got {value!r}")


def _policy_from_rows(label: str, text: str, args: argparse.Namespace) -> None:
    """Without --policy, score the policy a review export's rows name, with the rules directories they carry."""
    if args.policy is not None:
        return
    policies: set[str] = set()
    dirs: list[str] = []
    for line in text.splitlines():
        try:
            obj = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            obj = None  # _rows reports it with its line number
        if isinstance(obj, dict) and isinstance(obj.get("policy"), str):
            policies.add(obj["policy"])
            dirs.extend(d for d in obj.get("rules_dirs") or [] if isinstance(d, str) and d not in dirs)
    if len(policies) > 1:
        raise UsageError(f"{label}: rows come from policies {', '.join(sorted(policies))}; choose one with --policy")
    args.policy = policies.pop() if policies else "default"
    args.policy_from_rows = bool(dirs) or args.policy != "default"
    args.rules = [*args.rules, *(d for d in dirs if Path(d).is_dir() and d not in args.rules)]
    missing = [d for d in dirs if not Path(d).is_dir()]
    if missing:
        print(f"note: rules directories named by {label} are not here: {', '.join(missing)}", file=sys.stderr)


def _rows(label: str, text: str, args: argparse.Namespace) -> list[tuple[str, bool | set[str], Any]]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{label}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not JSON: {exc.msg} at column {exc.colno}") from exc
        if not isinstance(obj, dict):
            raise UsageError(f"{where}: expected a JSON object")
        for field in (args.text_field, args.label_field):
            if field not in obj:
                raise UsageError(f"{where}: missing field {field!r} (fields: {', '.join(sorted(obj)) or 'none'})")
        if not isinstance(obj[args.text_field], str):
            raise UsageError(f"{where}: field {args.text_field!r} must be a string")
        ctx = obj.get(args.context_field) if args.context_field else None
        rows.append((obj[args.text_field], _labels(obj[args.label_field], where), ctx))
        if args.limit and len(rows) >= args.limit:
            break
    if not rows:
        raise UsageError(f"{label}: no rows")
    return rows


def score(predictions: list[set[str]], labels: list[bool | set[str]], codes: set[str]) -> dict[str, PRF]:
    from guardrails.metrics import PRF

    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for predicted, label in zip(predictions, labels, strict=True):
        any_row = counts["ANY"]
        truth_any = label if isinstance(label, bool) else bool(label)
        any_row[0] += bool(predicted) and truth_any
        any_row[1] += bool(predicted) and not truth_any
        any_row[2] += not predicted and truth_any
        for code in codes:
            truth = label if isinstance(label, bool) else code in label
            hit = code in predicted
            c = counts[code]
            c[0] += hit and truth
            c[1] += hit and not truth
            c[2] += (not hit) and truth
    return {code: PRF(*c) for code, c in counts.items()}


def run(args: argparse.Namespace) -> int:
    label, text = read_text(args.file)
    rows = _rows(label, text, args)
    _policy_from_rows(label, text, args)
    from guardrails.rules.errors import RuleError

    try:
        engine = engine_from_args(args)
    except RuleError as exc:
        if not getattr(args, "policy_from_rows", False):
            raise
        raise UsageError(
            f"{label} was exported from policy {args.policy!r}, which cannot be loaded here ({exc}); "
            "pass its rules with --rules DIR, or choose a policy with --policy"
        ) from exc
    from guardrails.cli._progress import progress
    from guardrails.findings import FindingStatus

    predictions = []
    with progress("evaluating", len(rows)) as advance:
        for output, _, ctx in rows:
            report = engine.validate(output, ctx)
            predictions.append({f.code for f in report.findings if f.status is not FindingStatus.SUPPRESSED})
            advance()
    labels = [r[1] for r in rows]
    codes = {c for p in predictions for c in p} | {c for lab in labels if isinstance(lab, set) for c in lab}
    table = score(predictions, labels, codes)
    if args.format == "json":
        print(
            json.dumps(
                {
                    c: {"tp": m.tp, "fp": m.fp, "fn": m.fn, "precision": m.precision, "recall": m.recall, "f1": m.f1}
                    for c, m in sorted(table.items())
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(f"{len(rows)} rows, policy {engine.policy.name}")
    print(f"{'code':<10} {'tp':>6} {'fp':>6} {'fn':>6} {'precision':>10} {'recall':>8} {'f1':>6}")
    for code, m in sorted(table.items(), key=lambda kv: (kv[0] != "ANY", kv[0])):
        print(f"{code:<10} {m.tp:>6} {m.fp:>6} {m.fn:>6} {m.precision:>10.3f} {m.recall:>8.3f} {m.f1:>6.3f}")
    return EXIT_OK
