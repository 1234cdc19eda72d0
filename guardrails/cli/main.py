"""The `guardrails` command. Subcommands live in `guardrails/cli/cmd_*.py`, each with register(subparsers).

Exit codes: 0 pass or repaired, 1 action needed (review, regenerate, block) or failing tests,
2 usage errors (bad arguments, bad rule files, unreadable input, a missing store or extra).
Every failure prints one `error: ...` line naming what failed (and a hint), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import guardrails.cli as cli_pkg
from guardrails.errors import OutguardError
from guardrails.rules.errors import RuleError

EXIT_OK, EXIT_ACTION, EXIT_USAGE = 0, 1, 2

# What each optional module needs installed; a command that hits a missing one names the extra.
_EXTRAS = {
    "sqlalchemy": "store",
    "psycopg": "store",
    "presidio_analyzer": "pii",
    "phonenumbers": "pii",
    "tldextract": "pii",
    "torch": "toxicity",
    "transformers": "toxicity",
    "detoxify": "toxicity",
    "httpx": "guard",
    "fastapi": "service",
    "uvicorn": "service",
    "jinja2": "service",
}


class UsageError(OutguardError):
    """A problem with how the command was called; printed without a traceback, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("outguard")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="guardrails", description="Validate, repair and triage LLM outputs.")
    parser.add_argument("--version", action="version", version=f"guardrails (outguard) {version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
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
        for line in exc.lines:  # file:line: [type] rule 'id': message (hint)
            print(f"  {line}", file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        extra = _EXTRAS.get(top)
        if extra is None:
            raise
        print(f"error: this needs {top!r}, from the {extra} extra: pip install 'outguard[{extra}]'", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `guardrails ... | head`: the reader left, nothing went wrong here
        return EXIT_OK
    except OSError as exc:
        # A file the command writes or reads that the OS refused: name it, no traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
