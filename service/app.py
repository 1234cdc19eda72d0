"""create_app(config): the FastAPI application with its state, middleware, routes and error handlers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

import guardrails
from guardrails.reviews import ReviewStore
from service import api, errors, facts_api
from service.auth import KeyRing
from service.config import ServiceConfig
from service.metrics import Metrics
from service.middleware import ServiceMiddleware
from service.ratelimit import RateLimiter
from service.state import AppState

VERSION = "0.1.0"


def build_state(config: ServiceConfig, keys: KeyRing | None = None, upstream: Any = None) -> AppState:
    state = AppState(
        config=config,
        keys=keys if keys is not None else KeyRing.load(config.keys_file, config.keys_env),
        metrics=Metrics(),
        limiter=RateLimiter(config.rate_limit_rps, config.rate_limit_burst),
        upstream=upstream,
    )
    if config.review_db:
        state.reviews = ReviewStore.open(config.review_db)
    if config.facts_db:
        state.facts = facts_api.open_facts(config.facts_db)
    return state


def create_app(
    config: ServiceConfig, *, keys: KeyRing | None = None, load_sync: bool = False, upstream: Any = None
) -> FastAPI:
    """The sidecar. Policies compile in a background thread (so /healthz answers at once) unless `load_sync`."""
    state = build_state(config, keys, upstream)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not state.ready.is_set() and not state.loading:
            threading.Thread(target=state.load_engines, name="outguard-compile", daemon=True).start()
        yield
        if state.reviews is not None:
            state.reviews.close()
        closer = getattr(state.upstream, "aclose", None)
        if closer is not None:
            await closer()

    app = FastAPI(
        title="outguard sidecar",
        version=VERSION,
        description=(
            "Validate LLM outputs with the outguard library over HTTP: the same Report JSON as "
            "`guardrails.Engine.validate`, a guarded OpenAI-compatible proxy, the review queue and facts."
        ),
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.outguard = state
    if load_sync:
        state.load_engines()
    errors.install(app)
    app.include_router(api.router)
    app.include_router(facts_api.router)
    try:
        from service import proxy

        app.include_router(proxy.router)
    except ImportError:  # pragma: no cover - guardrails.guard not installed
        pass
    from service.review import web

    web.install(app)
    app.add_middleware(ServiceMiddleware, max_body=config.max_body_bytes, metrics=state.metrics)
    app.state.guardrails_version = getattr(guardrails, "__version__", VERSION)
    return app
