"""`guardrails serve --workers N`: what each uvicorn worker process runs, and /metrics summed over the workers.

uvicorn starts workers with multiprocessing's spawn, so nothing built in the parent reaches them: the parent puts
the validated config (JSON) and the connection limits in the environment, and each worker rebuilds its own app
(keys, stores, compiled engines: engines do not pickle, and each worker pays the cold start once) from there.
What the workers share lives outside them: the review queue, suppressions and facts in their databases, rate
limits and token quotas in the limits store (`limits_db`), the session secret (one value for all, so a cookie
signed by one worker is good at the next), and the metrics in PROMETHEUS_MULTIPROC_DIR (prometheus_client's
multiprocess mode: counters and histograms summed over workers; gauges one sample per worker `pid`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from service.config import ConnectionLimits, ServiceConfig

CONFIG_ENV = "OUTGUARD_WORKER_CONFIG"
LIMITS_ENV = "OUTGUARD_WORKER_CONNECTION_LIMITS"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
PROTOCOL = "service.workers:HttpProtocol"
"""What the parent hands uvicorn as `http`: an import string each worker resolves (a class cannot be pickled)."""


def worker_app() -> object:
    """The app factory every worker calls (`uvicorn.run("service.workers:worker_app", factory=True)`)."""
    from service.app import create_app
    from service.auth import KeyRing
    from service.serve import _logging

    _logging()
    config = ServiceConfig.model_validate_json(os.environ[CONFIG_ENV])
    return create_app(config, keys=KeyRing.load(config.keys_file, config.keys_env))


def __getattr__(name: str) -> type[asyncio.Protocol]:
    # PEP 562: uvicorn's import_from_string asks this module for `HttpProtocol` in each worker.
    if name != "HttpProtocol":
        raise AttributeError(name)
    from service.connections import protocol_class

    return protocol_class(ConnectionLimits.model_validate_json(os.environ[LIMITS_ENV]))


def render_metrics(own: Callable[[], bytes]) -> bytes:
    """The exposition for /metrics: every worker's samples in multiprocess mode, else this process's (`own()`)."""
    path = os.environ.get(METRICS_DIR_ENV)
    if not path:
        return own()
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return bytes(generate_latest(registry))
