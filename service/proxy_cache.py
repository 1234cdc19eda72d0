"""The guarded proxy's answer cache: a deterministic upstream call is answered once, then replayed.

What is cached: the upstream's answer to the first call of a non-streamed run, when that call was deterministic
(`temperature` 0 and at most one choice: an answer sampled at a higher temperature is one draw among many, and
OpenAI documents `seed` as best effort, so a seed alone does not qualify) and the run delivered that very answer
(source `primary` or `repaired`: no regeneration, fallback or last resort). Errors are never cached, nor are answers
the policy rejected: a replay would only pay for the same regeneration again.

A replayed answer is judged by the Guard like a fresh one (under the policy and facts of now; if it fails, the
regeneration calls the real upstream), costs no tokens (its usage is zero) and is marked by the response header
`X-Outguard-Cache: hit`. The key: the caller's API key, the policy, the upstream (URL, model, name), and the
messages and parameters exactly as they would be sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from guardrails import Engine
from guardrails.guard import GuardResult, LLMResponse, Usage
from guardrails.results_cache import CacheKey, Found, Tiers, derive
from service.state import AppState

Listener = Callable[[str, Found], None]
HEADER = "X-Outguard-Cache"


def deterministic(params: dict[str, Any]) -> bool:
    """Temperature 0 (a number; OpenAI's default is 1) and one choice."""
    temperature = params.get("temperature")
    n = params.get("n", 1)
    return (
        isinstance(temperature, int | float)
        and not isinstance(temperature, bool)
        and temperature == 0
        and (n is None or (isinstance(n, int) and not isinstance(n, bool) and n == 1))
        and not params.get("stream")
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class ProxyCache:
    def __init__(self, tiers: Tiers, *, listener: Listener | None = None) -> None:
        self.tiers = tiers
        self.listener = listener

    def wrap(self, client: Any, engine: Engine, scope: str) -> CachingClient:
        return CachingClient(self, client, engine, scope)

    def key(
        self, client: Any, engine: Engine, scope: str, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> CacheKey | None:
        if not engine.policy.cache.proxy or not deterministic(params):
            return None
        try:
            sent = _canonical(messages) + "\n" + _canonical(params)
        except (TypeError, ValueError):  # not JSON as sent: not something to key by
            return None
        upstream = "\x1f".join(str(getattr(client, a, "")) for a in ("base_url", "model", "name"))
        return derive("proxy", [scope, engine.policy.name, upstream, sent])

    async def keep(self, wrapped: CachingClient, results: list[GuardResult]) -> None:
        """After the run: keep the first call's answer when it was delivered as it came (see the module doc)."""
        fresh, key = wrapped.fresh, wrapped.key
        if fresh is None or key is None or len(results) != 1:
            return
        result = results[0]
        if result.source not in ("primary", "repaired") or len(result.attempts) != 1 or result.outage:
            return
        blob = fresh.model_dump_json().encode()
        await asyncio.to_thread(self.tiers.put, key, blob, wrapped.engine.policy.cache.proxy_ttl_s)

    def count(self, engine: Engine, found: Found) -> None:
        if self.listener is not None:
            self.listener(engine.policy.name, found)


class CachingClient:
    """The upstream client for one run: its first call answered from the cache when it can be; every other call,
    and every attribute (name, model, streaming), the wrapped client's."""

    def __init__(self, cache: ProxyCache, client: Any, engine: Engine, scope: str) -> None:
        self.cache = cache
        self._client = client
        self.engine = engine
        self._scope = scope
        self._first = True
        self.key: CacheKey | None = None
        self.fresh: LLMResponse | None = None
        """The upstream's own answer to the keyed first call (a miss), kept only if the run delivers it."""
        self.hit = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __call__(self, messages: list[dict[str, Any]], /, **params: Any) -> Any:
        # The proxy's runs are async (acomplete below); a synchronous call is the wrapped client's own.
        return self._client(messages, **params)

    async def acomplete(
        self, messages: list[dict[str, Any]], *, upstream_params: dict[str, Any] | None = None, **params: Any
    ) -> LLMResponse:
        # The Guard hands the request's fields as one mapping (the wrapped client says it takes one): key by them.
        fields = {**params, **(upstream_params or {})}
        first, self._first = self._first, False
        key = self.cache.key(self._client, self.engine, self._scope, messages, fields) if first else None
        params = {**params, "upstream_params": upstream_params} if upstream_params is not None else params
        if key is None:
            response: LLMResponse = await self._client.acomplete(messages, **params)
            return response
        self.key = key
        ttl = self.engine.policy.cache.proxy_ttl_s
        blob, found = await asyncio.to_thread(self.cache.tiers.get, key, ttl)
        replay = _decode(blob) if blob is not None else None
        self.cache.count(self.engine, found if replay is not None else Found.MISS)
        if replay is not None:
            self.hit = True
            return replay
        self.fresh = await self._client.acomplete(messages, **params)
        return self.fresh

    def headers(self) -> dict[str, str]:
        """The response header saying whether the answer was replayed (only for a run that could be cached)."""
        if self.key is None:
            return {}
        return {HEADER: "hit" if self.hit else "miss"}


def _decode(blob: bytes) -> LLMResponse | None:
    try:
        response = LLMResponse.model_validate_json(blob)
    except ValueError:
        return None
    return response.model_copy(update={"usage": Usage()})  # nothing was spent upstream for this answer


def answer_cache(state: AppState, engine: Engine, client: Any, scope: str, stream: bool) -> Any:
    """The client a proxied run calls: `client` itself, or wrapped in the answer cache when the policy opted in
    (streams are not replayed: their text is released as it is checked, a replay would be a different stream)."""
    cache: ProxyCache | None = state.proxy_cache
    if cache is None or stream or not engine.policy.cache.proxy:
        return client
    return cache.wrap(client, engine, scope)


async def keep_answer(client: Any, results: list[GuardResult]) -> dict[str, str]:
    """After a non-streamed run: keep its answer when it qualifies; the response headers saying hit or miss."""
    if not isinstance(client, CachingClient):
        return {}
    await client.cache.keep(client, results)
    return client.headers()
