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
from service.hold import shape
from service.hold.runtime import Holds
from service.hold.store import HeldAnswer
from service.state import AppState

router = APIRouter(tags=["reviews"])
_POLL_S = 0.25


class HeldAck(BaseModel):
    """The 202 body of a held answer (for the OpenAPI document; `pending` builds it)."""

    id: str = Field(description="The held answer's id (also its review id)")
    object: str = Field("outguard.held", description='Always "outguard.held"')
    status: str = Field("held", description='Always "held"')
    result_url: str = Field(description="Where to long-poll the outcome: GET /v1/reviews/{id}/result?wait=N")
    expires_at: int = Field(description="Unix time after which an undecided answer gets the timeout action")
    outguard: dict[str, Any] = Field(description="Verdicts, ids and the report, never quoting the held text")


HELD_RESPONSE: dict[int | str, dict[str, Any]] = {
    202: {
        "model": HeldAck,
        "description": "Held for a reviewer (X-Outguard-Hold: wait, or the policy is in hold.policies); Location and"
        " Retry-After say where and when to ask for the outcome",
    }
}


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


async def hold_completion(
    state: AppState,
    key: ApiKey,
    *,
    policy: str,
    answer: dict[str, Any],
    finishes: list[str],
    webhook: str | None,
) -> JSONResponse | None:
    """Hold the whole completion when any choice's verdict is `review`: 202 with where to get it, else None.

    `finishes` are the choices' finish reasons as the provider gave them: a reviewed choice carries
    `content_filter` until a reviewer approves it, then its own again."""
    infos = answer["outguard"].get("choices") or [answer["outguard"]]
    if not shape.needs_hold(infos):
        return None
    kept = {**answer, "choices": [{**c, "finish_reason": f} for c, f in zip(answer["choices"], finishes, strict=True)]}
    row = await store_held(state, key, kept, policy=policy, webhook=webhook, items=shape.reviewed("", kept))
    return pending(row)


async def store_held(
    state: AppState, key: ApiKey, body: dict[str, Any], *, policy: str, webhook: str | None, items: dict[int, str]
) -> HeldAnswer:
    """Keep `body` (what an approval releases) until the review `items` (by choice) are decided; the held answer
    is named by the first choice's item."""
    h = holds(state)
    first = items[min(items)]
    row = await run_in_threadpool(
        lambda: h.store.hold(
            first, key.name, policy, body, timeout_s=h.cfg.timeout_s, webhook=webhook, items=list(items.values())
        )
    )
    if row.key_name != key.name:
        # The queue stores a request id once, whoever sends it: this request landed on another key's held answer.
        # Nothing of that one (id, expiry, report) may answer it, and its own answer must not go out unreviewed.
        raise ApiError(409, "conflict", "this request_id is already in use; send a request_id of your own")
    return row


def pending(row: HeldAnswer) -> JSONResponse:
    """The 202 for a held answer: its id, where and until when to get it, and why it waits (never what it says)."""
    content = {**held_mark(row), "outguard": shape.waiting_info(row.body)}
    return JSONResponse(
        content,
        status_code=202,
        headers={"Location": content["result_url"], "Retry-After": "1", "Cache-Control": "no-store"},
    )


def held_mark(row: HeldAnswer) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "outguard.held",
        "status": "held",
        "result_url": f"/v1/reviews/{row.id}/result",
        "expires_at": int(row.deadline_at),
    }


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
            response = JSONResponse(held_mark(row), status_code=202, headers={"Cache-Control": "no-store"})
            response.headers["Location"] = f"/v1/reviews/{row.id}/result"
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
