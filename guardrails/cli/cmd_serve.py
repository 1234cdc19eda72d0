"""`guardrails serve`: run the sidecar (HTTP API, guarded proxy, review page). FastAPI loads only here."""

from __future__ import annotations

import argparse
import importlib
import math
import os

from guardrails.cli.main import EXIT_USAGE, UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the sidecar: /v1/validate, the guarded proxy and the /review page",
        description="Run the outguard sidecar. `--demo` runs on embedded defaults with demo data.",
    )
    p.add_argument("--demo", action="store_true", help="embedded defaults: SQLite under --data-dir, demo data")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--policy", action="append", default=[], help="policy to serve (repeatable; default: default)")
    p.add_argument("--default-policy", help="policy used when a request names none (default: the first)")
    p.add_argument("--rules", action="append", default=[], metavar="DIR", help="extra rules directory")
    p.add_argument(
        "--data-dir",
        default=os.environ.get("OUTGUARD_DATA_DIR") or "var",
        help="where the default SQLite files live (default: $OUTGUARD_DATA_DIR or ./var)",
    )
    p.add_argument(
        "--review-db",
        metavar="URL",
        default=os.environ.get("OUTGUARD_REVIEW_DB"),
        help="review queue URL, sqlite:///path or postgresql+psycopg://... "
        "(default: $OUTGUARD_REVIEW_DB or sqlite under --data-dir)",
    )
    p.add_argument("--no-review-queue", action="store_true", help="run without a review queue")
    p.add_argument("--facts-db", metavar="URL", help="known-facts store URL")
    p.add_argument("--keys-file", metavar="FILE", help="YAML/JSON file of hashed API keys and reviewer accounts")
    p.add_argument("--log-content", action="store_true", help="log output text and context (off by default)")
    p.add_argument("--upstream-url", help="OpenAI-compatible base URL the guarded proxy forwards to")
    p.add_argument("--upstream-model", help="model name sent upstream")
    p.add_argument("--upstream-key-env", help="env var holding the upstream API key (fallbacks use it too)")
    p.add_argument(
        "--fallback",
        nargs=2,
        action="append",
        default=[],
        metavar=("URL", "MODEL"),
        help="OpenAI-compatible provider the proxy asks when the upstream fails (repeatable, in order)",
    )
    p.add_argument(
        "--stream-release",
        choices=["final", "cleared"],
        default=os.environ.get("OUTGUARD_STREAM_RELEASE") or "final",
        help="streamed proxy answers: `final` holds text until the verdict (safe for any OpenAI client), "
        "`cleared` streams checked text and retracts it in an `outguard` field "
        "(default: $OUTGUARD_STREAM_RELEASE or final)",
    )
    p.add_argument(
        "--stream-keepalive",
        type=_seconds,
        metavar="SECONDS",
        default=os.environ.get("OUTGUARD_STREAM_KEEPALIVE") or "15",
        help="streamed proxy answers: send an SSE comment (`: keep-alive`) after this many quiet seconds so idle "
        "timeouts do not drop a long wait for the verdict; 0 disables (default: $OUTGUARD_STREAM_KEEPALIVE or 15)",
    )
    p.add_argument("--max-body", type=int, default=2 * 1024 * 1024, help="request body limit in bytes")
    p.add_argument(
        "--upstream-max-bytes",
        type=_positive_int,
        metavar="BYTES",
        default=os.environ.get("OUTGUARD_UPSTREAM_MAX_BYTES") or str(4 * 1024 * 1024),
        help="largest answer read from the upstream or a fallback, plain or streamed: reading stops there and the "
        "call fails like a spent budget (default: $OUTGUARD_UPSTREAM_MAX_BYTES or 4 MiB)",
    )
    p.add_argument(
        "--rate-limit",
        type=float,
        default=200.0,
        help="requests per second for each key that sets no rate_limit_rps of its own in the keys file",
    )
    p.add_argument(
        "--rate-limit-burst",
        type=_positive_int,
        metavar="N",
        help="requests at once for those keys (default: two seconds of --rate-limit); a key with its own rate "
        "gets its own burst (rate_limit_burst in the keys file, default two seconds of its rate)",
    )
    p.add_argument(
        "--limits-db",
        metavar="URL",
        default=os.environ.get("OUTGUARD_LIMITS_DB"),
        help="PostgreSQL URL (postgresql+psycopg://...) where every worker and replica shares the rate limits and "
        "token quotas; unset, each process limits on its own (default: $OUTGUARD_LIMITS_DB)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        default=os.environ.get("OUTGUARD_WORKERS") or "1",
        help="worker processes on one listening socket, each with its own compiled engines; share limits with "
        "--limits-db (default: $OUTGUARD_WORKERS or 1)",
    )
    p.add_argument(
        "--header-timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        default=os.environ.get("OUTGUARD_HEADER_TIMEOUT") or "10",
        help="close a connection whose request line and headers have not arrived within this many seconds "
        "(slow clients; default: $OUTGUARD_HEADER_TIMEOUT or 10)",
    )
    p.add_argument(
        "--body-timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        default=os.environ.get("OUTGUARD_BODY_TIMEOUT") or "30",
        help="answer 408 and close when a request body has not arrived within this many seconds of its headers "
        "(default: $OUTGUARD_BODY_TIMEOUT or 30)",
    )
    p.add_argument(
        "--max-header-bytes",
        type=_positive_int,
        metavar="BYTES",
        default=os.environ.get("OUTGUARD_MAX_HEADER_BYTES") or str(64 * 1024),
        help="answer 431 and close when a request line and headers are larger "
        "(default: $OUTGUARD_MAX_HEADER_BYTES or 65536)",
    )
    p.add_argument(
        "--max-connections",
        type=_positive_int,
        metavar="N",
        default=os.environ.get("OUTGUARD_MAX_CONNECTIONS") or "1000",
        help="open connections at most; at the cap a new one reclaims an idle or still-sending connection, or gets "
        "503 when all are busy (default: $OUTGUARD_MAX_CONNECTIONS or 1000)",
    )
    p.add_argument("--hash-password", action="store_true", help="read a password on stdin, print its hash, exit")
    p.add_argument("--hash-key", action="store_true", help="read an API key on stdin, print its SHA-256, exit")
    p.set_defaults(func=run)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0 (0 disables), got {value!r}")
    return seconds


def _positive_seconds(value: str) -> float:
    seconds = _seconds(value)
    if seconds == 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {value!r}")
    return seconds


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port 0-65535, got {value!r}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {value!r}")
    return number


def run(args: argparse.Namespace) -> int:
    if args.policy and not args.demo and not (args.hash_key or args.hash_password):
        # A misspelt policy fails here, in one line, rather than in the log of a sidecar that is already up.
        from guardrails.rules.loader import load_ruleset

        ruleset = load_ruleset(args.rules)
        for name in args.policy:
            ruleset.policy(name)
    try:
        # Imported by name so that `import guardrails` never pulls FastAPI (and mypy does not follow it).
        serve = importlib.import_module("service.serve")
    except ImportError as exc:
        raise UsageError(f"the sidecar needs the service extra: pip install 'outguard[service]' ({exc.name})") from exc
    code: int = serve.main(args)
    return code if code is not None else EXIT_USAGE
