"""`guardrails check [PATH|GLOB|-]...`: validate outputs (files, directories, globs or stdin) with one engine.

Every input is validated by the same engine, loaded once. The exit code is the worst over all inputs:
0 every output passes or was repaired, 1 one needs action, 2 one could not be read (the rest still run).

JSON output: with a single file argument (or stdin), `--format json` prints that file's Report, as it always
has; with several arguments, a directory or a glob it prints one JSON array of `{"file": ..., "report": ...}`
(ruff's `--output-format json` is one array for the whole run too). `--format jsonl` prints the same objects
one per line, as each file is done, whatever the inputs.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

from guardrails.cli._common import (
    add_format_arg,
    add_output_arg,
    add_policy_args,
    engine_from_args,
    read_context,
    read_text,
)
from guardrails.cli._style import Style, wants_colour
from guardrails.cli.main import EXIT_ACTION, EXIT_OK, EXIT_USAGE, UsageError

_GLOB_CHARS = frozenset("*?[")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check",
        help="validate output files, directories or globs (or - for stdin) with one engine load",
        description="Validate outputs. PATH may be a file, a directory (every file under it, hidden ones "
        "skipped), a glob (quoted, `**` recurses) or - for stdin. Exit code: the worst over all inputs.",
    )
    p.add_argument("paths", nargs="*", default=["-"], metavar="PATH", help="files, directories, globs or - (default)")
    add_policy_args(p)
    add_format_arg(p, ["text", "json", "jsonl"])
    p.add_argument("--context", help="context as inline JSON or @file.json (used for every input)")
    add_output_arg(p, "write the delivered (repaired) output to FILE (one input only)")
    p.add_argument(
        "--show-values",
        action="store_true",
        help="print the values PII (and sensitive-tagged) findings detected; by default the report, text or "
        "JSON, masks them like every report that leaves the process",
    )
    p.set_defaults(func=run)


def _under(directory: Path) -> list[str]:
    files = (
        p
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )
    return sorted(str(p) for p in files)


def expand(paths: list[str]) -> list[str]:
    """Files to check, in argument order (a directory's and a glob's files sorted), each once."""
    found: list[str] = []
    for arg in paths:
        if arg == "-":
            found.append(arg)
            continue
        path = Path(arg)
        if path.is_dir():
            files = _under(path)
            if not files:
                raise UsageError(f"{arg}: directory has no files to check")
            found.extend(files)
        elif path.exists():
            found.append(arg)
        elif _GLOB_CHARS & set(arg):
            hits = sorted(h for h in glob.glob(arg, recursive=True) if Path(h).is_file())
            if not hits:
                raise UsageError(f"{arg}: no file matches this pattern")
            found.extend(hits)
        else:
            raise UsageError(f"{arg}: no such file or directory")
    return list(dict.fromkeys(found))


def run(args: argparse.Namespace) -> int:
    files = expand(args.paths)
    if args.output and len(files) != 1:
        raise UsageError(f"--output writes one delivered output; got {len(files)} inputs (give one file)")
    # Several inputs, or one directory or glob: the JSON shape is fixed by the arguments, never by what matched.
    single = len(args.paths) == 1 and len(files) == 1 and (args.paths[0] == "-" or Path(args.paths[0]).is_file())
    context = read_context(args.context)
    # One input is read before the engine loads, so a bad one fails fast (stdin can only be read once).
    preread = {files[0]: read_text(files[0])} if len(files) == 1 else {}
    engine = engine_from_args(args)
    from guardrails.redaction import sensitive_rule_ids

    sensitive = sensitive_rule_ids(engine.rules)
    style = Style(args.format == "text" and wants_colour(sys.stdout))
    worst = EXIT_OK
    verdicts: dict[str, int] = {}
    documents: list[str] = []
    for n, source in enumerate(files):
        try:
            label, text = preread.get(source) or read_text(source)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            worst = EXIT_USAGE
            continue
        report = engine.validate(text, context)
        verdicts[report.verdict.value] = verdicts.get(report.verdict.value, 0) + 1
        if report.verdict.needs_action:
            worst = max(worst, EXIT_ACTION)
        # What is printed ends up in terminals, CI logs and files: redacted unless asked (the exit code is the same).
        shown = report if args.show_values else report.redacted(sensitive)
        if args.format == "text":
            from guardrails.cli.render import render_text

            sys.stdout.write(("\n" if n else "") + render_text(shown, label, style) + "\n")
        elif args.format == "json" and single:
            sys.stdout.write(shown.model_dump_json(by_alias=True) + "\n")
        else:
            entry = {"file": label, "report": shown.model_dump(mode="json", by_alias=True)}
            doc = json.dumps(entry, ensure_ascii=False)
            if args.format == "jsonl":
                sys.stdout.write(doc + "\n")
                sys.stdout.flush()
            else:
                documents.append(doc)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(report.output)
    if args.format == "json" and not single:
        sys.stdout.write("[" + ",\n".join(documents) + "]\n")
    if args.format == "text" and len(files) > 1:
        summary = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
        failed = len(files) - sum(verdicts.values())
        print(f"\n{len(files)} files checked: {summary}" + (f", {failed} unreadable" if failed else ""))
    return worst
