"""`guardrails rules list|test|docs`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from guardrails.cli.main import EXIT_ACTION, EXIT_OK, UsageError
from guardrails.docs import update_readme
from guardrails.examples import run_all_examples
from guardrails.rules.loader import iter_rules, load_ruleset


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("rules", help="list rules, run their examples, regenerate the rule reference")
    p.add_argument("action", choices=["list", "test", "docs"])
    p.add_argument("--rules", action="append", default=[], metavar="DIR", help="extra rules directory")
    p.add_argument("--readme", default="README.md", help="README to update (docs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ruleset = load_ruleset(args.rules)
    if args.action == "list":
        rows = [
            (
                r.rule.code,
                r.rule.id,
                r.rule.check,
                r.rule.severity.value,
                r.rule.action.value,
                r.rule.status.value,
                r.pack,
            )
            for r in iter_rules(ruleset)
        ]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(6)]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[6])
        print(f"{len(ruleset.rules)} rules, policies: {', '.join(sorted(ruleset.policies))}")
        return EXIT_OK
    if args.action == "test":
        skipped: list[str] = []
        total, failures = run_all_examples(ruleset, skipped)
        for f in failures:
            print(f"FAIL {f.code} {f.rule_id} [{f.kind}] {f.text[:80]!r}: {f.problem}", file=sys.stderr)
        for why in skipped:
            print(f"SKIP {why}", file=sys.stderr)
        tail = f", {len(skipped)} rules skipped" if skipped else ""
        print(f"{total - len(failures)} passed, {len(failures)} failed{tail}")
        return EXIT_ACTION if failures else EXIT_OK
    readme = Path(args.readme)
    if not readme.is_file():
        raise UsageError(f"{readme}: no such file (give the README with --readme)")
    try:
        changed = update_readme(readme, ruleset)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
    return EXIT_OK
