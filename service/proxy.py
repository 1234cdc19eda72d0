"""POST /v1/chat/completions: an OpenAI-compatible guarded proxy to the configured upstream.

Non-streaming requests run a `Guard` (validate, regenerate with feedback within the policy's budget, fall
back to the last-resort answer). Streaming requests go through a `StreamValidator`: only text every
streaming check has cleared is sent, redactions are applied before release, and the whole output is
validated at the end. When that final verdict needs action and the budget allows, the proxy retracts what
it sent and delivers a regenerated answer (see the `outguard` field of the chunks).

Extra request fields (not sent upstream): `outguard: {"policy": NAME, "context": {...}}`.
Every answer carries `outguard: {verdict, source, attempts, review_id, report}`.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from guardrails import Context, Engine, Report
from guardrails.guard import Budget, Guard, GuardEvent, GuardResult, LLMError, StreamValidator, feedback_messages
from service.auth import ApiKey, Scope
from service.deps import ready_state, require
from service.errors import ERROR_RESPONSES, ApiError
from service.state import AppState

router = APIRouter(tags=["proxy"])
log = logging.getLogger("outguard.service")

_FORWARDED = {"temperature", "top_p", "max_tokens", "stop", "presence_penalty", "frequency_penalty", "seed", "n"}


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = Field(max_length=50)
    content: str


class OutguardOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str | None = None
    context: Context | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = Field(default=None, description="Ignored: the proxy sends the configured upstream model")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    outguard: OutguardOptions | None = None


def _upstream(state: AppState) -> Any:
    if state.upstream is not None:
        return state.upstream
    cfg = state.config.upstream
    if cfg is None:
        raise ApiError(
            404, "not_configured", "no upstream LLM configured (start with --upstream-url and --upstream-model)"
        )
    from guardrails.guard import OpenAIChatClient

    api_key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
    state.upstream = OpenAIChatClient(cfg.base_url, cfg.model, api_key, cfg.timeout_s, cfg.max_retries)
    return state.upstream


def _listener(state: AppState) -> Any:
    def listen(event: GuardEvent) -> None:
        kind = getattr(event, "kind", None) or getattr(event, "type", None)
        if kind:
            state.metrics.stream_events.labels(str(kind)).inc()

    return listen


def _engine(state: AppState, name: str | None) -> Engine:
    policy = name or state.default_policy
    engine = state.engines.get(policy)
    if engine is None:
        raise ApiError(404, "unknown_policy", f"unknown policy {policy!r}; served: {', '.join(sorted(state.engines))}")
    return engine


async def _queue(state: AppState, engine: Engine, report: Report, ctx: Context | None) -> str | None:
    if state.reviews is None or not engine.should_sample_for_review(report):
        return None
    item, _created = await run_in_threadpool(
        state.reviews.submit, report, ctx, sampled=report.verdict.value != "review"
    )
    return str(item.id)


def _outguard(result_report: Report, source: str, attempts: int, review_id: str | None) -> dict[str, Any]:
    return {
        "verdict": result_report.verdict.value,
        "source": source,
        "attempts": attempts,
        "review_id": review_id,
        "report": result_report.model_dump(mode="json", by_alias=True),
    }


@router.post("/v1/chat/completions", responses=ERROR_RESPONSES)
async def chat_completions(
    body: ChatRequest,
    state: Annotated[AppState, Depends(ready_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.VALIDATE))],
) -> Any:
    """OpenAI-compatible chat completions, validated by outguard (SSE when `stream` is true)."""
    options = body.outguard or OutguardOptions()
    engine = _engine(state, options.policy)
    client = _upstream(state)
    messages = [{"role": m.role, "content": m.content} for m in body.messages]
    params = {k: v for k, v in (body.model_extra or {}).items() if k in _FORWARDED}
    ctx = options.context
    model = getattr(client, "model", None) or "upstream"
    if body.stream:
        return StreamingResponse(
            _stream(state, engine=engine, client=client, messages=messages, params=params, ctx=ctx, model=model),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    guard = Guard(engine, client, listeners=[_listener(state)])
    result: GuardResult = await guard.arun(messages, ctx, **params)
    state.metrics.observe_report(result.report)
    review_id = await _queue(state, engine, result.report, ctx)
    finish = "content_filter" if result.source == "last_resort" else "stop"
    return JSONResponse(
        {
            "id": f"chatcmpl-og-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": result.output}, "finish_reason": finish}
            ],
            "usage": result.usage.model_dump(),
            "outguard": _outguard(result.report, result.source, len(result.attempts), review_id),
        }
    )


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def _stream(
    state: AppState,
    *,
    engine: Engine,
    client: Any,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    ctx: Context | None,
    model: str,
) -> AsyncIterator[bytes]:
    cid = f"chatcmpl-og-{uuid.uuid4().hex[:24]}"
    validator = StreamValidator(engine, ctx, listeners=[_listener(state)])
    yield _chunk(cid, model, {"role": "assistant", "content": ""})
    report: Report | None = None
    try:
        async for piece in client.astream(messages, **params):
            for event in validator.feed(piece):
                if event.type == "text" and event.text:
                    yield _chunk(cid, model, {"content": event.text})
                elif event.type == "retract":
                    yield _chunk(
                        cid, model, {}, outguard={"type": "retract", "offset": event.offset, "reason": event.reason}
                    )
        for event in validator.finish():
            if event.type == "text" and event.text:
                yield _chunk(cid, model, {"content": event.text})
            elif event.type == "retract":
                yield _chunk(
                    cid, model, {}, outguard={"type": "retract", "offset": event.offset, "reason": event.reason}
                )
            elif event.type == "final":
                report = event.report
    except LLMError as exc:
        log.warning("proxy stream: upstream failed: %s", type(exc).__name__)
        yield _chunk(cid, model, {}, "error", outguard={"type": "error", "message": "upstream failed"})
        yield b"data: [DONE]\n\n"
        return
    assert report is not None
    source, attempts = "primary", 1
    if report.verdict.needs_action and engine.policy.regeneration.max_attempts > 1:
        # The streamed answer failed the whole-output checks: everything sent was retracted above.
        # Regenerate (not streamed) with feedback, within what is left of the policy's budget.
        retry_messages, _chars = feedback_messages(messages, report.original, report)
        guard = Guard(
            engine,
            client,
            budget=Budget(max_attempts=engine.policy.regeneration.max_attempts - 1),
            listeners=[_listener(state)],
        )
        result = await guard.arun(retry_messages, ctx, **params)
        report, source, attempts = result.report, result.source, 1 + len(result.attempts)
        yield _chunk(cid, model, {"content": result.output}, outguard={"type": "regenerated", "source": source})
    state.metrics.observe_report(report)
    review_id = await _queue(state, engine, report, ctx)
    finish = "content_filter" if source == "last_resort" or report.verdict.needs_action else "stop"
    yield _chunk(cid, model, {}, finish, outguard=_outguard(report, source, attempts, review_id))
    yield b"data: [DONE]\n\n"
