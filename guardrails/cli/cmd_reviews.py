"""`guardrails reviews list|export|end-sessions`: the review queue from the command line.

`guardrails reviews export --db URL -o decisions.jsonl` writes the labelled JSONL that
`guardrails eval decisions.jsonl --text-field text --label-field flagged` reads.
`guardrails reviews end-sessions --db URL --reviewer NAME` signs a reviewer out of the review page
everywhere (their session records live in the same database).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from guardrails.cli.main import EXIT_OK, EXIT_USAGE, UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reviews", help="list the review queue, export decisions as labelled JSONL, or end a reviewer's sessions"
    )
    p.add_argument("action", choices=["list", "export", "end-sessions"])
    p.add_argument(
        "--db", required=True, metavar="URL", help="review queue URL (sqlite:///path, postgresql+psycopg://...)"
    )
    p.add_argument("-o", "--output", metavar="FILE", help="export: write here instead of stdout")
    p.add_argument("--state", choices=["open", "in_review", "decided"], help="list: only this state")
    p.add_argument("--policy", help="only this policy")
    p.add_argument("--limit", type=int, default=50, help="list: at most this many items (default 50)")
    p.add_argument("--reviewer", metavar="NAME", help="end-sessions: whose review-page sessions to end")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from guardrails.reviews import ItemFilter, ReviewState, ReviewStore, export_jsonl
    except ImportError as exc:
        raise UsageError(f"the review queue needs the store extra: pip install 'outguard[store]' ({exc.name})") from exc
    _exists(args.db)
    if args.action == "end-sessions":
        return _end_sessions(args)
    try:
        store = ReviewStore.open(args.db, create=False)
        f = ItemFilter(state=ReviewState(args.state) if args.state else None, policy=args.policy)
        if args.action == "export":
            if args.output:
                with open(args.output, "w", encoding="utf-8") as out:
                    n = export_jsonl(store.decided(f), out)
                print(f"{n} decision(s) written to {args.output}", file=sys.stderr)
            else:
                export_jsonl(store.decided(f), sys.stdout)
            return EXIT_OK
        counts = store.counts(f)
        print(f"{counts.total} item(s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.by_state.items())))
        for item in store.items(f, limit=args.limit):
            preview = item.output[:70].replace("\n", " ")
            print(f"{item.id}  {item.state.value:<9} {item.policy:<12} {' '.join(item.codes):<20} {preview}")
        return EXIT_OK
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bad URL or a database that is not a review queue
        if type(exc).__module__.startswith("sqlalchemy"):
            print(f"error: cannot read the review queue at {args.db}: {_why(exc)}", file=sys.stderr)
            return EXIT_USAGE
        raise


def _exists(url: str) -> None:
    """A SQLite queue that is not there is a wrong --db, not an empty queue: say so before opening it."""
    if "://" not in url:
        raise UsageError(f"--db {url!r}: not a database URL (sqlite:///path or postgresql+psycopg://...)")
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if not path.is_file():
            raise UsageError(
                f"no review queue at {path} (the sidecar creates it: `guardrails serve --review-db {url}`)"
            )


def _why(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)  # a DBAPI error's own message says more than its class
    return f"{type(exc).__name__}: {orig}" if orig is not None else type(exc).__name__


def _end_sessions(args: argparse.Namespace) -> int:
    if not args.reviewer:
        raise UsageError("end-sessions needs --reviewer NAME")
    from guardrails.reviews import ReviewSessions

    try:
        sessions = ReviewSessions.open(args.db)
        try:
            ended = sessions.revoke_user(args.reviewer, "ended from the CLI")
        finally:
            sessions.close()
    except Exception as exc:  # a bad URL or an unreachable database
        if type(exc).__module__.startswith("sqlalchemy"):
            print(f"error: cannot reach the review database at {args.db}: {_why(exc)}", file=sys.stderr)
            return EXIT_USAGE
        raise
    print(f"{ended} session(s) of {args.reviewer} ended", file=sys.stderr)
    return EXIT_OK
