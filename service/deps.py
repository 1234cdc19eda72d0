"""Request dependencies: the app state, API-key authentication with scopes, and per-key rate limits."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.auth import ApiKey, Scope
from service.errors import ApiError
from service.state import AppState

_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.outguard
    return state


def _presented(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header:
        return header
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authorize(request: Request, scope: Scope) -> ApiKey:
    """Authenticate the request's API key, check its scope and take a token from its rate limit."""
    state: AppState = request.app.state.outguard
    presented = _presented(request)
    if not presented:
        raise ApiError(
            401,
            "unauthorized",
            "missing API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = state.keys.authenticate(presented)
    if key is None:
        raise ApiError(401, "unauthorized", "unknown API key", headers={"WWW-Authenticate": "Bearer"})
    request.scope.setdefault("state", {})["key_name"] = key.name
    if not key.allows(scope):
        raise ApiError(403, "forbidden", f"API key {key.name!r} lacks the {scope.value!r} scope")
    wait = state.limiter.acquire(key.name, key.rate_limit_rps, key.rate_limit_burst)
    if wait > 0:
        limit = state.limiter.limit_of(key.name)
        raise ApiError(
            429,
            "rate_limited",
            f"rate limit for key {key.name!r} ({limit.rate:g}/s, burst {limit.burst}) exceeded; retry in {wait:.2f}s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
            details=[{"limit": "key", "key": key.name, "rate_per_s": limit.rate, "burst": limit.burst}],
        )
    return key


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """The dependency form of `authorize`; the Security parameters document both schemes in the OpenAPI."""

    async def dependency(
        request: Request,
        _bearer_doc: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        _header_doc: Annotated[str | None, Security(_header)],
    ) -> ApiKey:
        return authorize(request, scope)

    return dependency


SECURITY_DOC: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]


def require_ready(request: Request) -> AppState:
    state: AppState = request.app.state.outguard
    if not state.ready.is_set():
        raise ApiError(503, "not_ready", "policies are still compiling or failed to compile; see /readyz")
    return state


async def ready_state(request: Request) -> AppState:
    state: AppState = request.app.state.outguard
    if not state.ready.is_set():
        raise ApiError(503, "not_ready", "policies are still compiling or failed to compile; see /readyz")
    return state
