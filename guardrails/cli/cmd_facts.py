"""`guardrails facts import|export|get|set`: manage the known-facts store."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guardrails.cli.main import EXIT_ACTION, EXIT_OK, UsageError

MAX_ERRORS_SHOWN = 50


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("facts", help="import, export, read and correct known facts")
    p.add_argument("--db", help="database URL (default: $OUTGUARD_FACTS_DB or <data dir>/facts.db)")
    acts = p.add_subparsers(dest="facts_action", required=True, metavar="{import,export,get,set}")
    imp = acts.add_parser("import", help="import a CSV/JSONL file in one transaction (all rows or none)")
    imp.add_argument("file")
    imp.add_argument("--format", choices=["csv", "jsonl"])
    exp = acts.add_parser("export", help="export every current fact to CSV/JSONL")
    exp.add_argument("file")
    exp.add_argument("--format", choices=["csv", "jsonl"])
    get = acts.add_parser("get", help="print the facts about an entity (name or alias) as JSON lines")
    get.add_argument("entity")
    get.add_argument("attribute", nargs="?")
    get.add_argument("--at", help="date (YYYY-MM-DD) the facts must be valid on (default today)")
    get.add_argument("--history", action="store_true", help="every version of the attribute")
    st = acts.add_parser("set", help="store a new version of one fact")
    st.add_argument("entity")
    st.add_argument("attribute")
    st.add_argument("value")
    st.add_argument("--type", required=True, choices=["number", "money", "date", "enum", "boolean", "text"])
    for flag in ("unit", "tolerance", "currency", "choices", "valid-from", "valid-to", "source", "entity-type"):
        st.add_argument(f"--{flag}")
    st.add_argument("--alias", action="append", default=[], help="alias of the entity (repeatable)")
    for q in (imp, exp, get, st):
        q.set_defaults(func=run)


def _open(url: str | None, *, create: bool) -> Any:
    """Reads (get, export) never create a store: a wrong --db or a fresh machine says so instead."""
    from guardrails.facts.store import FactStore, FactStoreError, FactStoreMissing

    try:
        return FactStore.open(url, create=create)
    except FactStoreMissing as exc:
        raise UsageError(
            f"{exc}: import facts first (`guardrails facts import FILE`) or point --db (or $OUTGUARD_FACTS_DB) "
            "at your store"
        ) from exc
    except FactStoreError as exc:
        raise UsageError(str(exc)) from exc


def _not_found(store: Any, args: argparse.Namespace) -> str:
    """Why `facts get` printed nothing: an unknown entity, an unknown attribute, or nothing valid that day."""
    entity = store.entity(args.entity)
    if entity is None:
        return f"no entity {args.entity!r} in {store.url} (names and aliases match case- and accent-insensitively)"
    if args.attribute and not store.history(args.entity, args.attribute):
        known = sorted({f.attribute for f in store.get(args.entity)})
        hint = f" (valid today: {', '.join(known)})" if known else ""
        return f"{entity.name!r} has no attribute {args.attribute!r}{hint}"
    day = args.at or "today"
    return f"no fact about {entity.name!r}{f' {args.attribute!r}' if args.attribute else ''} is valid on {day}"


def _print_fact(fact: Any) -> None:
    sys.stdout.write(json.dumps(fact.model_dump(mode="json"), ensure_ascii=False) + "\n")


def run(args: argparse.Namespace) -> int:
    action = args.facts_action
    if action == "import" and not Path(args.file).is_file():
        raise UsageError(f"{args.file}: no such file (a CSV or JSONL file of facts)")
    store = _open(args.db, create=action in ("import", "set"))
    try:
        return _ACTIONS[action](store, args)
    finally:
        store.close()


def _import(store: Any, args: argparse.Namespace) -> int:
    result = store.import_file(args.file, args.format)
    for e in result.errors[:MAX_ERRORS_SHOWN]:
        where = f"row {e.row}" + (f", field {e.field!r}" if e.field else "")
        print(f"{args.file}: {where}: {e.reason}", file=sys.stderr)
    if result.errors:
        more = len(result.errors) - MAX_ERRORS_SHOWN
        if more > 0:
            print(f"... and {more} more errors", file=sys.stderr)
        print(f"{len(result.errors)} bad rows: nothing imported")
        return EXIT_ACTION
    print(f"imported {result.imported} facts into {store.url}")
    return EXIT_OK


def _export(store: Any, args: argparse.Namespace) -> int:
    try:
        n = store.export(args.file, args.format)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"exported {n} facts to {args.file}")
    return EXIT_OK


def _get(store: Any, args: argparse.Namespace) -> int:
    if args.history:
        if not args.attribute:
            raise UsageError("--history needs an attribute")
        facts = store.history(args.entity, args.attribute)
    else:
        try:
            at = dt.date.fromisoformat(args.at) if args.at else None
        except ValueError as exc:
            raise UsageError(f"--at: not a date (YYYY-MM-DD): {args.at!r}") from exc
        facts = store.get(args.entity, args.attribute, at)
    for f in facts:
        _print_fact(f)
    if not facts:
        print(f"error: {_not_found(store, args)}", file=sys.stderr)
        return EXIT_ACTION
    return EXIT_OK


def _set(store: Any, args: argparse.Namespace) -> int:
    row = {
        "entity": args.entity,
        "attribute": args.attribute,
        "value": args.value,
        "type": args.type,
        "unit": args.unit,
        "tolerance": args.tolerance,
        "currency": args.currency,
        "choices": args.choices,
        "valid_from": args.valid_from,
        "valid_to": args.valid_to,
        "source": args.source,
        "entity_type": args.entity_type,
        "aliases": args.alias,
    }
    try:
        fact = store.set({k: v for k, v in row.items() if v not in (None, [])})
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    _print_fact(fact)
    return EXIT_OK


_ACTIONS: dict[str, Callable[[Any, argparse.Namespace], int]] = {
    "import": _import,
    "export": _export,
    "get": _get,
    "set": _set,
}
