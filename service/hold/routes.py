"""The held answer's endpoints: the proxy's 202, the long-poll for the result, the webhook test and delivery log."""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from service import webhooks
from service.auth import ApiKey, Scope
from service.deps import app_state, require
from service.errors import ERROR_RESPONSES, ApiError
from service.hold.runtime import Holds
from service.hold.store import HeldAnswer
from service.state import AppState

router = APIRouter(tags=["reviews"])
_POLL_S = 0.25


def holds(state: AppState) -> Holds:
    if state.holds is None:
        raise ApiError(404, "not_configured", "this service has no review queue, so nothing can be held")
    held: Holds = state.holds
    return held


async def asked_webhook(state: AppState, key: ApiKey, url: str | None) -> str | None:
    """Check a request's webhook before anything is spent on it: 400 when the target or the key's secret is wrong."""
    if url is None:
        return None
    h = holds(state)
    if h.secret_for(key.name) is None:
        raise ApiError(400, "webhook_not_allowed", f"API key {key.name!r} has no webhook secret configured")
    try:
        return await run_in_threadpool(webhooks.check_target, url, h.cfg.webhooks)
    except webhooks.WebhookRefused as exc:
        raise ApiError(400, "webhook_refused", str(exc)) from exc


async def hold_answer(
    state: AppState, key: ApiKey, policy: str, *, body: dict[str, Any], released_finish: str, webhook: str | None
) -> JSONResponse:
    """Store the completion `body` (choice 0's review id names it) and answer 202 with where to get it."""
    h = holds(state)
    item_id = body["outguard"]["review_id"]
    kept = {**body, "choices": [{**body["choices"][0], "finish_reason": released_finish}]}
    row = await run_in_threadpool(
        lambda: h.store.hold(item_id, key.name, policy, kept, timeout_s=h.cfg.timeout_s, webhook=webhook)
    )
    return _pending(row, body["outguard"])


def _pending(row: HeldAnswer, info: dict[str, Any] | None = None) -> JSONResponse:
    content: dict[str, Any] = {
        "id": row.id,
        "object": "outguard.held",
        "status": "held",
        "result_url": f"/v1/reviews/{row.id}/result",
        "expires_at": int(row.deadline_at),
    }
    if info is not None:  # the reasons it was held (the report is redacted like every report that leaves)
        content["outguard"] = info
    return JSONResponse(
        content,
        status_code=202,
        headers={"Location": content["result_url"], "Retry-After": "1", "Cache-Control": "no-store"},
    )


@router.get("/v1/reviews/{item_id}/result", responses=ERROR_RESPONSES)
async def held_result(
    item_id: str,
    state: Annotated[AppState, Depends(app_state)],
    key: Annotated[ApiKey, Depends(require(Scope.VALIDATE))],
    wait: Annotated[float, Query(ge=0, le=300, description="Seconds to wait for a decision (capped)")] = 0,
) -> JSONResponse:
    """A held answer's outcome: 200 with the chat completion (approved, edited, rejected or timed out), or 202 with
    Retry-After while it waits. Only the key that asked sees it; any other key gets 404, as for an unknown id."""
    h = holds(state)
    deadline = time.monotonic() + min(wait, h.cfg.max_poll_s)
    while True:
        row = await run_in_threadpool(h.store.get, item_id)
        if row is None or row.key_name != key.name:
            raise ApiError(404, "not_found", f"no held answer {item_id!r}")
        row = await run_in_threadpool(h.resolve, row)
        if row.released and row.result is not None:
            return JSONResponse(row.result, headers={"Cache-Control": "no-store"})
        left = deadline - time.monotonic()
        if left <= 0:
            response = _pending(row)
            response.headers["Retry-After"] = str(max(1, math.ceil(min(5.0, row.deadline_at - time.time()))))
            return response
        await asyncio.sleep(min(_POLL_S, left))


class WebhookTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000)


@router.post("/v1/webhooks/test", responses=ERROR_RESPONSES)
async def webhook_test(
    body: WebhookTest,
    state: Annotated[AppState, Depends(app_state)],
    key: Annotated[ApiKey, Depends(require(Scope.VALIDATE))],
) -> dict[str, Any]:
    """Send one signed `ping` to `url` with the key's secret (the same checks and signature as real deliveries)."""
    h = holds(state)
    url = await asked_webhook(state, key, body.url)
    assert url is not None
    secret = h.secret_for(key.name)
    assert secret is not None
    payload = json.dumps({"type": "ping", "id": "test"}, separators=(",", ":")).encode()
    result = await webhooks.deliver(url, payload, secret, "test", h.cfg.webhooks)
    return {"delivered": result.ok, "status": result.status, "error": result.error}


@router.get("/v1/webhooks/deliveries", responses=ERROR_RESPONSES)
async def webhook_deliveries(
    state: Annotated[AppState, Depends(app_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.ADMIN))],
    held_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Every delivery attempt, newest first: held id, key, attempt, URL, HTTP status or error, time (admins only)."""
    rows = await run_in_threadpool(holds(state).store.delivery_log, held_id, limit)
    return {"deliveries": rows}
