"""POST /v1/chat/completions: an OpenAI-compatible guarded proxy to the configured upstream.

Both paths run one `Guard` (the policy's `regeneration` budget of attempts, tokens and seconds; the configured
fallbacks; the last-resort answer, the policy's `regeneration.last_resort` when it has one). Non-streaming requests
use `Guard.arun`; streaming requests use `Guard.astream` (see service/proxy_stream.py for how its events become SSE
chunks and the release modes).

Pass-through: every request field (known to this proxy or not: `tools`, `tool_choice`, `response_format`, `n`,
`stream_options`, `parallel_tool_calls`, sampling parameters...) and every message shape (content as a list of parts,
assistant messages with `content: null` and `tool_calls`, tool messages) reaches the upstream as the caller sent it;
the proxy sets `model` (the configured upstream's) and `stream`, and removes its own field `outguard`. Regenerations
use the policy's `regeneration.temperature`. `response_format` is the schema the JSON checks use; each tool call's
arguments are checked against its tool's `parameters` (guardrails.guard.structured). When no provider answers at
all the client gets an OpenAI-shaped 502/503/504 with `outguard.source: "error"` (unless the policy says
`regeneration.on_upstream_error: last_resort`).

Extra request fields (not sent upstream): `outguard: {"policy": NAME, "context": {...}}`; header
`X-Outguard-Release: final|cleared` picks the streaming release mode (default: the service's `stream_release`).
Quiet streams get SSE keep-alive comments every `stream_keepalive_s` (service/sse_keepalive.py).
Every answer carries `outguard: {verdict, source, attempts, review_id, report}`; the report is redacted (every
value a PII or sensitive finding detected masked, `masked: true`), and so is what the review queue stores.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from guardrails import Context, Engine
from guardrails.guard import Guard, GuardResult, as_messages
from service.auth import ApiKey, Scope
from service.config import UpstreamConfig
from service.deps import ready_state, require
from service.errors import ERROR_RESPONSES, ApiError
from service.hold.routes import asked_webhook, hold_completion
from service.hold.stream import StreamHold, released_finish
from service.limits.quota import with_stream_usage
from service.proxy_answer import upstream_error_response, upstream_failed
from service.proxy_cache import answer_cache, keep_answer
from service.proxy_runs import RunRecorder
from service.proxy_stream import Release, StreamRun, stream_completion
from service.proxy_stream_choices import StreamedUpstream, completion, stream_choices, wants_choices
from service.sse_keepalive import with_keepalives
from service.state import AppState

router = APIRouter(tags=["proxy"])


class ChatMessage(BaseModel):
    """One message as the Chat Completions API takes it; every key besides `role` and `content` is kept as sent."""

    model_config = ConfigDict(extra="allow")
    role: str = Field(max_length=50)
    content: str | list[dict[str, Any]] | None = None


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


def _unsupported_output(params: dict[str, Any]) -> JSONResponse | None:
    """Audio output is refused before any upstream call (OpenAI's 400 shape, naming the field): its transcript
    is not checked, so it could only be dropped, and an empty answer is not an answer."""
    modalities = params.get("modalities")
    if not (isinstance(modalities, list) and "audio" in modalities):
        return None
    message = (
        "audio output is not supported by the guarded proxy: outguard cannot check the audio before it is "
        'delivered; ask for text (`modalities: ["text"]`) and synthesise speech from the checked text'
    )
    error = {"message": message, "type": "invalid_request_error", "param": "modalities", "code": "unsupported_modality"}
    return JSONResponse({"error": error}, status_code=400)


def _upstream(state: AppState) -> Any:
    if state.upstream is not None:
        return state.upstream
    cfg = state.config.upstream
    if cfg is None:
        raise ApiError(
            404, "not_configured", "no upstream LLM configured (start with --upstream-url and --upstream-model)"
        )
    state.upstream = _client(cfg)
    return state.upstream


def _fallbacks(state: AppState) -> list[Any]:
    if state.fallbacks is None:
        state.fallbacks = [_client(cfg) for cfg in state.config.fallbacks]
    return state.fallbacks


def _client(cfg: UpstreamConfig) -> Any:
    from guardrails.guard import OpenAIChatClient

    api_key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
    return OpenAIChatClient(
        cfg.base_url, cfg.model, api_key, cfg.timeout_s, cfg.max_retries, max_body_bytes=cfg.max_body_bytes
    )


def _guard(state: AppState, engine: Engine, client: Any, recorder: RunRecorder, *meters: Any) -> Guard:
    # No `budget` argument: the Guard takes attempts, tokens and seconds from the policy's `regeneration`,
    # the same for streamed and plain requests (the streamed answer is attempt 1 of that budget).
    # Regenerations use the policy's `regeneration.temperature` (the Guard's default); first attempts the caller's.
    return Guard(
        engine,
        client,
        fallbacks=_fallbacks(state),
        listeners=[recorder, *meters],
        log_content=state.config.log_content,
        prices=state.metrics.prices,
    )


def _engine(state: AppState, name: str | None) -> Engine:
    policy = name or state.default_policy
    engine = state.engines.get(policy)
    if engine is None:
        raise ApiError(404, "unknown_policy", f"unknown policy {policy!r}; served: {', '.join(sorted(state.engines))}")
    return engine


@router.post("/v1/chat/completions", responses=ERROR_RESPONSES)
async def chat_completions(
    body: ChatRequest,
    state: Annotated[AppState, Depends(ready_state)],
    key: Annotated[ApiKey, Depends(require(Scope.VALIDATE))],
    *,
    release: Annotated[
        Release | None,
        Header(
            alias="X-Outguard-Release",
            description="Streaming only: `final` holds all text until the verdict, `cleared` streams and retracts",
        ),
    ] = None,
    hold: Annotated[
        str | None,
        Header(alias="X-Outguard-Hold", description="`wait`: a `review` verdict answers 202 and waits for a reviewer"),
    ] = None,
    webhook: Annotated[
        str | None,
        Header(alias="X-Outguard-Webhook", description="With a hold: where the signed outcome is POSTed"),
    ] = None,
) -> Any:
    """OpenAI-compatible chat completions, validated by outguard (SSE when `stream` is true)."""
    unsupported = _unsupported_output(body.model_extra or {})
    if unsupported is not None:
        return unsupported
    options = body.outguard or OutguardOptions()
    engine = _engine(state, options.policy)
    client = _upstream(state)
    holding = state.holds is not None and state.holds.wanted(engine.policy.name, hold)
    webhook = await asked_webhook(state, key, webhook) if holding else None
    refusal = state.quotas.admit(key.name, key.token_quota)  # before any upstream call: 429 when spent
    if refusal is not None:
        return refusal.response()
    try:
        messages = as_messages([m.model_dump(exclude_unset=True) for m in body.messages])
    except ValueError as exc:  # e.g. a user message without content: only an assistant message may omit it
        raise ApiError(422, "invalid_messages", str(exc)) from exc
    params = dict(body.model_extra or {})  # everything but model, messages, stream and outguard, as sent
    if body.stream and key.token_quota is not None:
        params = with_stream_usage(params)  # a stream is charged what the upstream reports at its end
    ctx = options.context
    model = getattr(client, "model", None) or "upstream"
    recorder = RunRecorder(state.metrics)
    client = answer_cache(state, engine, client, key.name, body.stream)  # replays deterministic answers
    n = wants_choices(params) if body.stream else None
    if body.stream:  # n > 1: one streamed upstream call for every choice, each judged whole (proxy_stream_choices)
        client = StreamedUpstream(client, choices=n is not None)
    guard = _guard(state, engine, client, recorder, state.quotas.meter(key.name, key.token_quota))
    if body.stream:
        # A held answer must not be shown before a reviewer decides: the whole answer is judged before any text;
        # with n > 1 every choice is, always (a retract on one choice would reach readers of another).
        run = StreamRun(
            state=state, engine=engine, guard=guard, recorder=recorder, messages=messages, params=params, ctx=ctx,
            model=model, release="final" if holding or n else release or state.config.stream_release,
            key_name=key.name, hold=StreamHold(key, webhook) if holding else None,
        )  # fmt: skip
        chunks = stream_completion(run) if n is None else stream_choices(run, n, release)
        return StreamingResponse(
            with_keepalives(chunks, state.config.stream_keepalive_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", "X-Outguard-Release": run.release},
        )
    # n > 1: one upstream call for every choice, each choice guarded (and regenerated) on its own.
    # One mapping, never **params: a body field named like a Guard argument (`context`, `timeout`) is the upstream's.
    results: list[GuardResult] = await guard.arun_choices(messages, ctx, upstream_params=params)
    cache_headers = await keep_answer(client, results)
    if all(upstream_failed(r, engine) for r in results):
        recorder.close("error", results[0].report.verdict, guard.providers[0][0])
        return upstream_error_response(results[0])
    answer = await completion(state, engine, results, ctx=ctx, key_name=key.name, model=model)
    recorder.close(results[0].source, results[0].report.verdict, guard.providers[0][0])
    if holding:
        # Held as a whole when any choice needs review: what a reviewer's approval releases is this very completion.
        finishes = [released_finish(r, c["message"]) for r, c in zip(results, answer["choices"], strict=True)]
        held = await hold_completion(
            state, key, policy=engine.policy.name, answer=answer, finishes=finishes, webhook=webhook
        )
        if held is not None:
            return held
    return JSONResponse(answer, headers=cache_headers)
