"""create_app(config): the FastAPI application with its state, middleware, routes and error handlers."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

import guardrails
from guardrails.reviews import ReviewStore
from service import api, errors, facts_api
from service.auth import KeyRing
from service.cache import build_caches, close_caches
from service.config import ServiceConfig
from service.limits import open_limits
from service.metrics import Metrics, setup_operations
from service.middleware import ServiceMiddleware
from service.state import AppState

VERSION = "0.1.0"


class ServiceApp(FastAPI):
    """FastAPI with a front door: requests its `front` layer takes (POST /v1/validate) are answered by that
    layer before Starlette's middleware stack (server-error, telemetry and body-limit wrappers, each wrapping
    receive and send again). The front layer does what those do for this path: JSON 500s, the size limit,
    logs and metrics. Everything else, lifespan included, goes through FastAPI as usual."""

    front: ServiceMiddleware | None = None

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is not None and not self.root_path and not scope.get("root_path") and front.takes(scope):
            scope["app"] = self
            await front(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def build_state(
    config: ServiceConfig, keys: KeyRing | None = None, upstream: Any = None, fallbacks: list[Any] | None = None
) -> AppState:
    limiter, quotas = open_limits(config.limits_db, config.rate_limit_rps, config.rate_limit_burst)
    state = AppState(
        config=config,
        keys=keys if keys is not None else KeyRing.load(config.keys_file, config.keys_env),
        metrics=Metrics(),
        limiter=limiter,
        quotas=quotas,
        upstream=upstream,
        fallbacks=fallbacks,
    )
    if config.review_db:
        state.reviews = ReviewStore.open(config.review_db)
        from service.hold import Holds

        state.holds = Holds(state.reviews, config.hold)
    if config.facts_db:
        state.facts = facts_api.open_facts(config.facts_db)
    build_caches(state)  # after the stores: the caches share a table in one of their databases
    # Traces from OTEL_* variables, the price table, the review backlog gauges (docs/operations.md).
    setup_operations(state.metrics, state.reviews, config.prices_file)
    return state


def create_app(
    config: ServiceConfig,
    *,
    keys: KeyRing | None = None,
    load_sync: bool = False,
    upstream: Any = None,
    fallbacks: list[Any] | None = None,
) -> ServiceApp:
    """The sidecar. Policies compile in a background thread (so /healthz answers at once) unless `load_sync`.

    `upstream` and `fallbacks` are LLM clients for the proxy that replace those built from the config."""
    state = build_state(config, keys, upstream, fallbacks)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not state.ready.is_set() and not state.loading:
            threading.Thread(target=state.load_engines, name="outguard-compile", daemon=True).start()
        if state.holds is not None:
            state.holds.start()  # resolves held answers nobody polls, delivers webhooks (resumes after a restart)
        yield
        if state.holds is not None:
            await state.holds.stop()
        await close_caches(state)  # the shared cache tier writes through the review store's connections
        if state.reviews is not None:
            state.reviews.close()
        for client in [state.upstream, *(state.fallbacks or [])]:
            closer = getattr(client, "aclose", None)
            if closer is not None:
                await closer()

    app = ServiceApp(
        title="outguard sidecar",
        version=VERSION,
        description=(
            "Validate LLM outputs with the outguard library over HTTP: the same Report JSON as "
            "`guardrails.Engine.validate`, a guarded OpenAI-compatible proxy, the review queue and facts."
        ),
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served below from a packaged Swagger UI: FastAPI's own page loads it from a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        **_telemetry(),
    )
    _serve_swagger_ui(app)
    app.state.outguard = state
    if load_sync:
        state.load_engines()
    errors.install(app)
    app.include_router(api.router)
    app.include_router(facts_api.router)
    from service.hold import routes as hold_routes

    app.include_router(hold_routes.router)
    try:
        from service import proxy

        app.include_router(proxy.router)
    except ImportError:  # pragma: no cover - guardrails.guard not installed
        pass
    from service.review import web

    web.install(app)
    app.add_middleware(ServiceMiddleware, max_body=config.max_body_bytes, metrics=state.metrics)
    app.front = ServiceMiddleware(
        app.router, max_body=config.max_body_bytes, metrics=state.metrics, direct=api.direct_routes(app)
    )
    app.state.guardrails_version = getattr(guardrails, "__version__", VERSION)
    return app


def _telemetry() -> dict[str, Any]:
    """FastAPI's OpenTelemetry bridge (FastAPI >= 0.142) off, unless its own opt-in is set at start.

    The service's metrics are Prometheus (/metrics); left on, the bridge asks the global OpenTelemetry
    providers on every request (three os.environ lookups) only to learn that none is configured."""
    try:
        import fastapi.telemetry  # noqa: F401
    except ImportError:  # pragma: no cover - older FastAPI: no bridge, nothing to switch off
        return {}
    if os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def _serve_swagger_ui(app: FastAPI) -> None:
    """/docs with the Swagger UI files that the fastapi-swagger package ships (v5, which reads OpenAPI 3.1),
    so the page works offline. Only its files are used: its own routes read them on every request."""
    from importlib.resources import files

    assets = files("fastapi_swagger") / "resources"
    app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="swagger-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )
