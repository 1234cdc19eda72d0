"""What `guardrails serve` runs: build the config from flags, seed the demo, start uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import secrets
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from service.auth import AuthConfigError, KeyRing, hash_key, hash_password
from service.config import ConnectionLimits, ServiceConfig, UpstreamConfig
from service.ratelimit import default_burst

log = logging.getLogger("outguard.service")


def _config(args: argparse.Namespace) -> ServiceConfig:
    upstream = None
    if args.upstream_url:
        if not args.upstream_model:
            raise SystemExit("error: --upstream-url needs --upstream-model")
        upstream = UpstreamConfig(
            base_url=args.upstream_url,
            model=args.upstream_model,
            api_key_env=args.upstream_key_env,
            max_body_bytes=args.upstream_max_bytes,
        )
    if args.fallback and upstream is None:
        raise SystemExit("error: --fallback needs --upstream-url and --upstream-model")
    fallbacks = [
        UpstreamConfig(
            base_url=url, model=model, api_key_env=args.upstream_key_env, max_body_bytes=args.upstream_max_bytes
        )
        for url, model in args.fallback
    ]
    return ServiceConfig(
        policies=args.policy or ["default"],
        default_policy=args.default_policy,
        rules_dirs=[Path(d) for d in args.rules],
        review_db=None if args.no_review_queue else args.review_db or _default_review_db(args.data_dir),
        facts_db=args.facts_db,
        keys_file=Path(args.keys_file) if args.keys_file else None,
        log_content=args.log_content,
        upstream=upstream,
        fallbacks=fallbacks,
        stream_release=args.stream_release,
        stream_keepalive_s=args.stream_keepalive,
        max_body_bytes=args.max_body,
        rate_limit_rps=args.rate_limit,
        rate_limit_burst=args.rate_limit_burst or default_burst(args.rate_limit),
        limits_db=getattr(args, "limits_db", None),
        session_secret=_session_secret(getattr(args, "workers", 1)),
    )


def _session_secret(workers: int) -> str | None:
    """Workers must sign and check session cookies with one key: without a configured secret the parent draws one
    for all of them (a restart still ends every session, as with one process). Replicas on several hosts need
    OUTGUARD_SESSION_SECRET set to one value (docs/replicas.md)."""
    configured = os.environ.get("OUTGUARD_SESSION_SECRET")
    return configured or (secrets.token_urlsafe(32) if workers > 1 else None)


def _default_review_db(data_dir: str) -> str:
    path = Path(data_dir).resolve() / "reviews.sqlite3"
    return f"sqlite:///{path}"


def _logging() -> None:
    from service.middleware import RequestIdFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s rid=%(request_id)s: %(message)s"))
    # `guardrails`: the library's loggers (the Guard's provider failures), which would otherwise reach Python's
    # last-resort handler, unformatted.
    for name in ("outguard", "guardrails", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def main(args: argparse.Namespace) -> int:
    if args.hash_password or args.hash_key:
        secret = sys.stdin.readline().rstrip("\n")
        if not secret:
            print("error: nothing on stdin", file=sys.stderr)
            return 2
        print(hash_password(secret) if args.hash_password else hash_key(secret))
        return 0
    import uvicorn

    from service.app import create_app

    _logging()
    if args.workers > 1:
        if args.demo:
            print("error: --demo runs one worker (its keys and password are drawn in the process)", file=sys.stderr)
            return 2
        return _serve_workers(args)
    try:
        if args.demo:
            from service.demo import demo_config

            config, keys, banner = demo_config(args)
        else:
            config = _config(args)
            if config.facts_db:
                # known_facts rules read $OUTGUARD_FACTS_DB: the store the API and reviewers write.
                os.environ.setdefault("OUTGUARD_FACTS_DB", config.facts_db)
            keys = KeyRing.load(config.keys_file, config.keys_env)
            banner = _banner(args, config, keys)
        # The demo compiles its policies before uvicorn listens, so that its queue is seeded from the engines it
        # serves (compiled once) before /readyz answers 200; other sidecars compile in the background as before.
        app = create_app(config, keys=keys, load_sync=args.demo)
    except AuthConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.demo:
        from service.demo import seed

        seed(app)
    _freeze_when_ready(app.state.outguard)
    print(banner, flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        http=_http_protocol(_connection_limits(args)),
        access_log=False,
        log_config=None,
        server_header=False,
    )
    return 0


def _freeze_when_ready(state: Any) -> None:
    """Once the engines are compiled, one full collection, then everything alive goes to the permanent
    generation: the compiled engines, rule sets and libraries are ~160,000 tracked objects that live as long
    as the process, and each full collection walked them all (~0.3 s with the event loop stalled, measured on
    a loaded 2-core machine; 0 ms once frozen). Later garbage is collected as before."""

    def freeze() -> None:
        state.ready.wait()  # never set when a required policy failed: nothing to keep then
        gc.collect()
        gc.freeze()

    threading.Thread(target=freeze, name="outguard-gc-freeze", daemon=True).start()


def _serve_workers(args: argparse.Namespace) -> int:
    """`--workers N`: uvicorn's process manager (restarts a worker that dies) over one listening socket; every
    worker builds its own app from the config passed in the environment (service/workers.py)."""
    import uvicorn

    from service import workers

    try:
        config = _config(args)
        keys = KeyRing.load(config.keys_file, config.keys_env)  # fail here, once, rather than in every worker
    except AuthConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if config.facts_db:
        os.environ.setdefault("OUTGUARD_FACTS_DB", config.facts_db)
    own_metrics_dir = not os.environ.get(workers.METRICS_DIR_ENV)
    if own_metrics_dir:
        # Must be empty at start (old files would be summed in) and set before any worker imports prometheus_client.
        os.environ[workers.METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="outguard-metrics-")
    os.environ[workers.CONFIG_ENV] = config.model_dump_json()
    os.environ[workers.LIMITS_ENV] = _connection_limits(args).model_dump_json()
    print(_banner(args, config, keys), flush=True)
    try:
        uvicorn.run(
            "service.workers:worker_app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            http=_worker_protocol(),
            access_log=False,
            log_config=None,
            server_header=False,
        )
    finally:
        if own_metrics_dir:
            shutil.rmtree(os.environ[workers.METRICS_DIR_ENV], ignore_errors=True)
    return 0


def _worker_protocol() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        log.warning("httptools is not installed: workers serve with the slower pure-Python h11 parser")
        return "h11"
    from service import workers

    return workers.PROTOCOL


def _connection_limits(args: argparse.Namespace) -> ConnectionLimits:
    from service.connections import fit_descriptors

    return ConnectionLimits(
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        max_header_bytes=args.max_header_bytes,
        max_connections=fit_descriptors(args.max_connections),
    )


def _http_protocol(limits: ConnectionLimits) -> str | type[asyncio.Protocol]:
    """httptools (C parser, a dependency of the service extra) with the slow-client deadlines and connection cap
    of service/connections.py when importable, else plain h11: paired A/B runs of tests/bench/ab_service.py
    measured httptools 0.18-0.26 ms faster per request at p50."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        log.warning(
            "httptools is not installed: serving with the slower pure-Python h11 parser, without the header and "
            "body deadlines and the connection cap (install the service extra)"
        )
        return "h11"
    from service.connections import protocol_class

    return protocol_class(limits)


def _banner(args: argparse.Namespace, config: ServiceConfig, keys: KeyRing) -> str:
    base = f"http://{args.host}:{args.port}"
    lines = [f"outguard sidecar on {base}  (OpenAPI: {base}/docs, metrics: {base}/metrics)"]
    if not keys.keys:
        lines.append(
            "warning: no API keys configured: every /v1 call will answer 401 (see --keys-file, OUTGUARD_API_KEYS)"
        )
    if config.review_db:
        lines.append(f"review page: {base}/review")
    workers = getattr(args, "workers", 1)
    if workers > 1:
        lines.append(f"{workers} workers; metrics summed over them (prometheus multiprocess mode)")
        if not config.limits_db:
            lines.append(
                f"warning: rate limits and token quotas are per worker without --limits-db (up to {workers}x each "
                "limit); give --limits-db a PostgreSQL URL to share them"
            )
    return "\n".join(lines)
