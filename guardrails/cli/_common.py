"""Helpers shared by subcommands: reading input, loading an engine from --policy/--rules/--select/--ignore.

Only light modules at the top: `guardrails --help` and `--version` must not pay for loading rules.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardrails.cli.main import UsageError

if TYPE_CHECKING:
    from guardrails.engine import Engine
    from guardrails.rules.loader import LoadedRule, RuleSet

MAX_INPUT_BYTES = 64 * 1024 * 1024


def code_list(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def add_selection_args(p: argparse.ArgumentParser, what: str = "rules of the policy") -> None:
    p.add_argument(
        "--select",
        action="extend",
        type=code_list,
        default=[],
        metavar="CODES",
        help=f"only these {what}: codes (PII001), code prefixes (SEC, PII00) or rule ids, comma-separated or repeated",
    )
    p.add_argument(
        "--ignore",
        action="extend",
        type=code_list,
        default=[],
        metavar="CODES",
        help="leave these rules out (codes, code prefixes or rule ids); they are not even compiled",
    )


def add_rules_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="DIR",
        help="extra rules directory beside the bundled rules (repeatable)",
    )


def add_policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", default="default", help="policy name or path to a policy .yaml (default: default)")
    add_rules_dir_arg(p)
    add_selection_args(p)


def add_output_arg(p: argparse.ArgumentParser, help: str, *, old: str | None = None) -> None:
    """The one spelling of the output option across commands: `-o/--output FILE`.

    `old` keeps a former spelling working, left out of --help so there is one to learn."""
    p.add_argument("-o", "--output", dest="output", metavar="FILE", help=help)
    if old:
        p.add_argument(old, dest="output", metavar="FILE", help=argparse.SUPPRESS)


def add_format_arg(p: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    # `--output-format` is ruff's spelling; `--format` the one this CLI had first. Both work.
    p.add_argument("--format", "--output-format", dest="format", choices=list(choices), default=choices[0])


def resolve_selectors(selectors: Iterable[str], ruleset: RuleSet, flag: str) -> set[str]:
    """Rule ids named by codes, code prefixes or ids (ruff's selector forms); unknown ones are a usage error."""
    rules = list(ruleset.rules.values())
    chosen: set[str] = set()
    unknown = []
    for sel in selectors:
        hits = {r.rule.id for r in rules if matches(sel, r)}
        if not hits:
            unknown.append(sel)
        chosen |= hits
    if unknown:
        from guardrails.rules.errors import suggest

        names = sorted({r.rule.code for r in rules} | {r.rule.id for r in rules})
        what = "; ".join(f"{s!r}{suggest(s, names) or suggest(s.upper(), names)}" for s in unknown)
        raise UsageError(f"{flag}: no rule matches {what} (see `guardrails rules list`)")
    return chosen


def matches(selector: str, loaded: LoadedRule) -> bool:
    """A rule id, a code, or a code prefix (family letters, then optionally leading digits), case-insensitive."""
    sel = selector.strip()
    if sel == loaded.rule.id:
        return True
    code = loaded.rule.code
    upper = sel.upper()
    return upper == code or (upper.isalnum() and upper[:1].isalpha() and code.startswith(upper))


def engine_from_args(args: argparse.Namespace) -> Engine:
    """Load the rules once and compile the policy with --select/--ignore applied before compiling."""
    from guardrails.engine import Engine
    from guardrails.rules.loader import load_ruleset

    ruleset = load_ruleset(args.rules)
    select = getattr(args, "select", [])
    ignore = getattr(args, "ignore", [])
    if not select and not ignore:
        return Engine.from_policy(args.policy, ruleset=ruleset)
    from guardrails.rules.compile import _matches as policy_matches
    from guardrails.rules.compile import compile_policy
    from guardrails.rules.model import Status

    policy, path = ruleset.policy(args.policy)
    rules, exclude = list(policy.rules), list(policy.exclude)
    if select:
        # Like ruff, --select replaces the policy's selection; its overrides, deadlines and actions stay.
        # A code or id named exactly runs even in preview or excluded, as naming it in a policy does; a
        # prefix takes only what the policy would take (stable rules, preview ones if it includes preview,
        # none of its exclusions).
        exact = {
            r.rule.id for r in ruleset.rules.values() if any(s.upper() == r.rule.code or s == r.rule.id for s in select)
        }
        by_prefix = {
            rid
            for rid in resolve_selectors(select, ruleset, "--select") - exact
            if (
                ruleset.rules[rid].rule.status is Status.STABLE
                or (ruleset.rules[rid].rule.status is Status.PREVIEW and policy.include_preview)
            )
            and not any(policy_matches(x, ruleset.rules[rid]) for x in policy.exclude)
        }
        rules, exclude = sorted(exact | by_prefix), []
        if not rules:
            raise UsageError(
                f"--select {','.join(select)}: selects only preview, deprecated or excluded rules "
                "(name them by code to run them)"
            )
    if ignore:
        exclude += sorted(resolve_selectors(ignore, ruleset, "--ignore"))
    narrowed = policy.model_copy(update={"rules": rules, "exclude": exclude})
    compiled = compile_policy(narrowed, ruleset, path)
    if not compiled.rules:
        raise UsageError(f"--select/--ignore leave no rule of policy {policy.name!r} to run")
    return Engine(compiled)


def read_text(source: str) -> tuple[str, str]:
    """Read a file or '-' (stdin) as UTF-8, replacing undecodable bytes; returns (label, text)."""
    try:
        if source == "-":
            raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
            label = "<stdin>"
        else:
            path = Path(source)
            if path.is_dir():
                raise UsageError(f"{source}: is a directory (give a file)")
            if not path.is_file():
                raise UsageError(f"{source}: no such file")
            with path.open("rb") as fh:
                raw = fh.read(MAX_INPUT_BYTES + 1)
            label = source
    except OSError as exc:
        raise UsageError(f"{source}: cannot read: {exc.strerror}") from exc
    if len(raw) > MAX_INPUT_BYTES:
        raise UsageError(f"{source}: larger than {MAX_INPUT_BYTES} bytes")
    return label, raw.decode("utf-8", errors="replace")


def read_context(value: str | None) -> dict[str, Any] | None:
    """--context takes inline JSON or @file.json."""
    if value is None:
        return None
    try:
        text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"--context: not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError("--context: expected a JSON object")
    return data
