"""`guardrails rules list|test|explain|docs`: the rule catalogue from the command line.

`list` prints a table with a header, filtered by pack, status, check kind or selector; `test` runs the rules'
own examples (all, or a pack or code filter); `explain CODE|ID` prints one rule's reference, generated from
its YAML like ruff's `rule` command; `docs` regenerates the one-table catalogue in docs/rules.md (`guardrails docs`
writes it too, with every reference page).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardrails.cli._common import add_rules_dir_arg, code_list, resolve_selectors
from guardrails.cli._style import TONE, Style, wants_colour
from guardrails.cli.main import EXIT_ACTION, EXIT_OK, UsageError

if TYPE_CHECKING:
    from guardrails.rules.loader import LoadedRule, RuleSet
    from guardrails.rules.model import Rule

_STATUSES = ["stable", "preview", "deprecated"]
_SELECT: dict[str, Any] = {
    "action": "extend",
    "type": code_list,
    "default": [],
    "metavar": "CODES",
    "help": "codes (PII001), code prefixes (SEC, PII00) or rule ids, comma-separated or repeated",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("rules", help="list, test and explain rules; regenerate the rule reference")
    acts = p.add_subparsers(dest="rules_action", required=True, metavar="{list,test,explain,docs}")

    ls = acts.add_parser("list", help="a table of the rules (code, id, check, severity, action, status, pack)")
    ls.add_argument("--pack", action="append", default=[], help="only this pack (repeatable)")
    ls.add_argument("--status", action="append", default=[], choices=_STATUSES, help="only this status (repeatable)")
    ls.add_argument("--check", action="append", default=[], metavar="KIND", help="only this check kind (repeatable)")
    ls.add_argument("--select", **_SELECT)
    ls.set_defaults(func=run_list)

    t = acts.add_parser("test", help="run the rules' own examples: all, or those of a pack, codes or prefixes")
    t.add_argument("filters", nargs="*", metavar="PACK|CODE", help="a pack name, a code, a code prefix or a rule id")
    t.add_argument("--select", **_SELECT)
    t.set_defaults(func=run_test)

    ex = acts.add_parser("explain", help="what a rule does, its check and params, its examples, its fix")
    ex.add_argument("rule", metavar="CODE|ID")
    ex.set_defaults(func=run_explain)

    d = acts.add_parser(
        "docs", help="regenerate the one-table rule catalogue in docs/rules.md (a test fails when it is stale)"
    )
    d.add_argument("--readme", default="docs/rules.md", help="page to update (default: docs/rules.md)")
    d.set_defaults(func=run_docs)

    for q in (ls, t, ex, d):
        add_rules_dir_arg(q)


def _ruleset(args: argparse.Namespace) -> RuleSet:
    from guardrails.rules.loader import load_ruleset

    return load_ruleset(args.rules)


def _unknown(values: list[str], known: set[str], flag: str) -> None:
    bad = [v for v in values if v not in known]
    if bad:
        close = difflib.get_close_matches(bad[0], sorted(known), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else f" (known: {', '.join(sorted(known))})"
        raise UsageError(f"{flag} {bad[0]!r}: no such {flag.lstrip('-')}{hint}")


def run_list(args: argparse.Namespace) -> int:
    from guardrails.rules.loader import iter_rules

    ruleset = _ruleset(args)
    every = list(iter_rules(ruleset))
    _unknown(args.pack, {r.pack for r in every}, "--pack")
    _unknown(args.check, {r.rule.check for r in every}, "--check")
    selected = resolve_selectors(args.select, ruleset, "--select") if args.select else None
    chosen = [
        r
        for r in every
        if (not args.pack or r.pack in args.pack)
        and (not args.status or r.rule.status.value in args.status)
        and (not args.check or r.rule.check in args.check)
        and (selected is None or r.rule.id in selected)
    ]
    header = ("code", "id", "check", "severity", "action", "status", "pack")
    rows = [
        (r.rule.code, r.rule.id, r.rule.check, r.rule.severity.value, r.rule.action.value, r.rule.status.value, r.pack)
        for r in chosen
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    style = Style(wants_colour(sys.stdout))

    def line(row: tuple[str, ...]) -> str:
        return ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]).rstrip()

    print(style(line(header), "bold"))
    for row in rows:
        print(line(row))
    filtered = len(chosen) != len(every)
    print(
        f"{len(chosen)} of {len(every)} rules" if filtered else f"{len(every)} rules",
        f"policies: {', '.join(sorted(ruleset.policies))}",
        sep=", ",
    )
    return EXIT_OK


def _test_selection(args: argparse.Namespace, ruleset: RuleSet) -> list[LoadedRule]:
    from guardrails.rules.loader import iter_rules

    every = list(iter_rules(ruleset))
    packs = {r.pack for r in every}
    wanted_packs = {f for f in args.filters if f in packs}
    selectors = [f for f in args.filters if f not in packs] + list(args.select)
    if not wanted_packs and not selectors:
        return every
    ids = resolve_selectors(selectors, ruleset, "rules test") if selectors else set()
    return [r for r in every if r.pack in wanted_packs or r.rule.id in ids]


def run_test(args: argparse.Namespace) -> int:
    from guardrails.cli._progress import progress
    from guardrails.examples import ExampleFailure, missing_model, run_examples

    ruleset = _ruleset(args)
    chosen = _test_selection(args, ruleset)
    skipped: list[str] = []
    failures: list[ExampleFailure] = []
    total = 0
    with progress("rule examples", len(chosen)) as advance:
        for loaded in chosen:
            why = missing_model(loaded)
            if why is not None:
                skipped.append(why)
            else:
                n, failed = run_examples(loaded)
                total += n
                failures.extend(failed)
            advance()
    for f in failures:
        print(f"FAIL {f.code} {f.rule_id} [{f.kind}] {f.text[:80]!r}: {f.problem}", file=sys.stderr)
    for why in skipped:
        print(f"SKIP {why}", file=sys.stderr)
    tail = f", {len(skipped)} rules skipped" if skipped else ""
    print(f"{total - len(failures)} passed, {len(failures)} failed{tail} ({len(chosen)} rules)")
    return EXIT_ACTION if failures else EXIT_OK


def _find(ruleset: RuleSet, name: str) -> tuple[Rule, LoadedRule | None]:
    from guardrails.engine import ENGINE_RULES

    engine_rules = {r.id: r for r in ENGINE_RULES.values()}
    for loaded in ruleset.rules.values():
        if name in (loaded.rule.id, loaded.rule.code) or name.upper() == loaded.rule.code:
            return loaded.rule, loaded
    for rule in engine_rules.values():
        if name in (rule.id, rule.code) or name.upper() == rule.code:
            return rule, None
    known = sorted({r.rule.code for r in ruleset.rules.values()} | {r.rule.id for r in ruleset.rules.values()})
    known += sorted({r.code for r in engine_rules.values()} | set(engine_rules))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5) or difflib.get_close_matches(
        name.upper(), known, n=3, cutoff=0.5
    )
    hint = f"; did you mean {', '.join(close)}?" if close else "; see `guardrails rules list`"
    raise UsageError(f"no rule with code or id {name!r}{hint}")


def _fix_safety(loaded: LoadedRule) -> str:
    """What the rule's fix does, learnt by running its match examples (a check decides its fix per finding)."""
    from guardrails.examples import missing_model
    from guardrails.rules.errors import RuleError

    rule = loaded.rule
    if not rule.examples.match:
        return "unknown (the rule has no match examples to show it)"
    why = missing_model(loaded)
    if why is not None:
        return f"unknown: {why}"
    from guardrails.docs.rule_pages import example_fixes

    try:
        fixes = example_fixes(loaded)
    except (RuleError, ImportError) as exc:
        return f"unknown (the check cannot be built here: {exc})"
    if not fixes:
        return "none: its findings carry no automatic fix" + (
            "" if rule.action.value != "repair" else " (the policy's unrepaired_action applies)"
        )
    safety = {"safe" if s else "unsafe (applied only when the policy allows unsafe fixes)" for s in fixes.values()}
    return f"{' / '.join(sorted(safety))}: {'; '.join(sorted(fixes))}"


def run_explain(args: argparse.Namespace) -> int:
    ruleset = _ruleset(args)
    rule, loaded = _find(ruleset, args.rule)
    style = Style(wants_colour(sys.stdout))
    out: list[str] = []

    def section(title: str, *body: str) -> None:
        out.extend(["", style(title, "bold")])
        out.extend(body)

    def wrap(text: str) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), 100, initial_indent="  ", subsequent_indent="  ") or ["  -"]

    out.append(f"{style(rule.code, *TONE.get(rule.action.value, ('bold',)))} {style(rule.id, 'bold')}")
    where = f"pack {loaded.pack}, {loaded.file}" if loaded else "built into the engine"
    out.append(style(f"  ({where})", "dim"))
    section("What it does", *wrap(rule.description or rule.message))
    preview = " (policies run it only when they include preview or name it)" if rule.status.value == "preview" else ""
    section(
        "Severity, action, status",
        f"  severity {rule.severity.value}, action {rule.action.value}, status {rule.status.value}{preview}",
    )
    params = json.dumps(rule.params, indent=2, ensure_ascii=False, sort_keys=True).splitlines() if rule.params else []
    section(f"Check: {rule.check}", *(["  params:"] + [f"    {p}" for p in params] if params else ["  no params"]))
    section("Message", f"  {rule.message}")
    if rule.instruction:
        section("Regeneration instruction", f"  {rule.instruction}")
    if rule.supersedes:
        section("Supersedes", f"  replaces the finding of {', '.join(rule.supersedes)} on the same text")
    if rule.examples.match:
        section(
            "Examples that match",
            *(f"  {ex.text!r}" + (f"  -> flags {ex.matched!r}" if ex.matched else "") for ex in rule.examples.match),
        )
    if rule.examples.no_match:
        section("Examples that do not match", *(f"  {ex.text!r}" for ex in rule.examples.no_match))
    if loaded is not None:
        section("Fix", *wrap(_fix_safety(loaded)))
        from guardrails.docs.rule_pages import policies_using

        using = policies_using(ruleset, loaded)
        section("Policies that run it", f"  {', '.join(using) if using else 'none (select it in a policy)'}")
    else:
        section("Fix", "  none: the policy's on_error action applies (fail closed)")
    print("\n".join(out))
    return EXIT_OK


def run_docs(args: argparse.Namespace) -> int:
    from guardrails.docs import update_readme

    ruleset = _ruleset(args)
    readme = Path(args.readme)
    if not readme.is_file():
        raise UsageError(f"{readme}: no such file (give the README with --readme)")
    try:
        changed = update_readme(readme, ruleset)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
    return EXIT_OK
