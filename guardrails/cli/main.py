"""The `guardrails` command. Subcommands live in `guardrails/cli/cmd_*.py`, each with register(subparsers).

Exit codes: 0 pass or repaired, 1 action needed (review, regenerate, block) or failing tests,
2 usage errors (bad arguments, bad rule files, unreadable input).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import guardrails.cli as cli_pkg
from guardrails.rules.errors import RuleError

EXIT_OK, EXIT_ACTION, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with how the command was called; printed without a traceback, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="guardrails", description="Validate, repair and triage LLM outputs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for mod in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if mod.name.startswith("cmd_"):
            importlib.import_module(f"guardrails.cli.{mod.name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuleError as exc:
        print("error: cannot load rules:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
