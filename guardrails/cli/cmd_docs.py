"""`guardrails docs`: regenerate the reference pages of the docs site from the code (`--check`: only say which
are stale, exit 1 when any is; the freshness test does the same)."""

from __future__ import annotations

import argparse
from pathlib import Path

from guardrails.cli._common import add_rules_dir_arg
from guardrails.cli.main import EXIT_ACTION, EXIT_OK, UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "docs",
        help="regenerate the docs site's reference pages (rules, checks, CLI, environment, Report) from the code",
    )
    p.add_argument(
        "-o",
        "--output",
        "--out",
        dest="out",
        default="docs/reference",
        metavar="DIR",
        help="reference directory (default: docs/reference)",
    )
    p.add_argument(
        "--rules-page",
        default="docs/rules.md",
        metavar="FILE",
        help="page holding the one-table rule catalogue between markers (default: docs/rules.md)",
    )
    p.add_argument("--check", action="store_true", help="write nothing; list stale pages and exit 1 when any is")
    add_rules_dir_arg(p)
    p.set_defaults(func=run_docs)


def run_docs(args: argparse.Namespace) -> int:
    from guardrails.cli.main import build_parser
    from guardrails.docs import reference_pages, rule_reference, stale_pages, update_readme, write_reference
    from guardrails.docs.rule_table import END, START
    from guardrails.rules.loader import load_ruleset

    ruleset = load_ruleset(args.rules)
    out, table = Path(args.out), Path(args.rules_page)
    if not table.is_file():
        raise UsageError(f"{table}: no such file (give the rule catalogue page with --rules-page)")
    pages = reference_pages(ruleset, build_parser())
    if args.check:
        stale = [f"{out / rel}" for rel in stale_pages(out, pages)]
        text = table.read_text(encoding="utf-8")
        if (
            START in text
            and text.partition(START)[2].partition(END)[0] != rule_reference(ruleset)[len(START) : -len(END)]
        ):
            stale.append(str(table))
        for path in stale:
            print(f"stale: {path}")
        print(f"{len(stale)} stale of {len(pages) + 1} pages" if stale else f"{len(pages) + 1} pages up to date")
        return EXIT_ACTION if stale else EXIT_OK
    changed = write_reference(out, pages)
    try:
        table_changed = update_readme(table, ruleset)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"{out}: {len(changed)} of {len(pages)} pages written or removed; {table}: "
          f"{'updated' if table_changed else 'up to date'}")  # fmt: skip
    return EXIT_OK
