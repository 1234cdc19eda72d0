"""The command-line reference (docs/reference/cli.md), walked from the argparse parser the command runs.

The parser is passed in (the CLI sits above this layer). Usage lines are formatted at a fixed width and
defaults are not printed apart from the help text, so the page does not depend on the terminal or on
environment variables some defaults read.
"""

from __future__ import annotations

import argparse

from guardrails.docs._md import GENERATED, cell, code, fence

_WIDTH = 100


def _usage(parser: argparse.ArgumentParser) -> str:
    fmt = argparse.HelpFormatter(parser.prog, width=_WIDTH)
    fmt.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return fmt.format_help().strip()


def _help(action: argparse.Action, prog: str) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    fmt = argparse.HelpFormatter(prog, width=_WIDTH)
    try:
        return fmt._expand_help(action)
    except (KeyError, TypeError, ValueError):  # a help string with a literal %: shown as written
        return action.help


def _name(action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(action.option_strings)
        if action.nargs == 0:
            return names
        metavar = action.metavar or (action.dest.upper() if not action.choices else None)
        if action.choices and not action.metavar:
            metavar = "{" + ",".join(str(c) for c in action.choices) + "}"
        return f"{names} {metavar}"
    return str(action.metavar or action.dest)


def _subparsers(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            found += [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def _section(parser: argparse.ArgumentParser, about: str, depth: int) -> list[str]:
    out = ["", f"{'#' * min(depth, 4)} `{parser.prog}`", ""]
    if about or parser.description:
        out += [" ".join((parser.description or about).split()), ""]
    out.append(fence(_usage(parser)))
    rows = [
        a
        for a in parser._actions
        if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and a.help != argparse.SUPPRESS
    ]
    if rows:
        out += ["", "| argument | what it does |", "|---|---|"]
        out += [f"| {cell(code(_name(a)))} | {cell(_help(a, parser.prog))} |" for a in rows]
    subs = _subparsers(parser)
    if subs:
        out += ["", "| command | what it does |", "|---|---|"]
        out += [f"| `{name}` | {cell(help_)} |" for name, help_, _ in subs]
        for _, help_, sub in subs:
            out += _section(sub, help_, depth + 1)
    return out


def cli_page(parser: argparse.ArgumentParser) -> str:
    out = [
        GENERATED,
        "",
        "# Command line",
        "",
        "Every command, subcommand and option of `guardrails`, as its parser defines them. Exit codes: 0 pass or",
        "repaired, 1 action needed (review, regenerate, block) or failing tests, 2 usage errors.",
    ]
    out += _section(parser, "", 2)
    return "\n".join(out) + "\n"
