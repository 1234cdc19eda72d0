"""`guardrails check [FILE|-]`: validate one output and print a Report."""

from __future__ import annotations

import argparse
import sys

from guardrails.cli._common import add_policy_args, engine_from_args, read_context, read_text
from guardrails.cli.main import EXIT_ACTION, EXIT_OK
from guardrails.cli.render import render_text
from guardrails.redaction import sensitive_rule_ids


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check", help="validate one output file (or - for stdin)")
    p.add_argument("file", nargs="?", default="-", help="output file to check, or - for stdin")
    add_policy_args(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--context", help="context as inline JSON or @file.json")
    p.add_argument("--output", metavar="FILE", help="write the delivered (repaired) output to FILE")
    p.add_argument(
        "--show-values",
        action="store_true",
        help="print the values PII (and sensitive-tagged) findings detected; by default the report, text or "
        "JSON, masks them like every report that leaves the process",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    label, text = read_text(args.file)
    context = read_context(args.context)
    engine = engine_from_args(args)
    report = engine.validate(text, context)
    # What is printed ends up in terminals, CI logs and files: redacted unless asked (the exit code is the same).
    shown = report if args.show_values else report.redacted(sensitive_rule_ids(engine.rules))
    if args.format == "json":
        sys.stdout.write(shown.model_dump_json(by_alias=True) + "\n")
    else:
        sys.stdout.write(render_text(shown, label) + "\n")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(report.output)
    return EXIT_ACTION if report.verdict.needs_action else EXIT_OK
