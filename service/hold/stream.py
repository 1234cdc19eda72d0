"""A held streamed answer: the proxy has judged the whole upstream answer (release mode `final`, nothing shown yet);
when the verdict is `review` the client's SSE connection stays open (the keep-alive comments of
service/sse_keepalive.py fill the silence) until a reviewer decides or `hold.max_stream_wait_s` passes.

The client sees, in order: the role chunk, one chunk with `outguard: {type: "held", id, result_url, expires_at}`
(so a client that loses the connection can still long-poll), then either the decided answer as ordinary chunks
(the text, approved or edited, or the refusal with `finish_reason: content_filter`; tool calls; the last chunk's
`outguard.held`), or, past the bound, an empty last chunk with `finish_reason: content_filter` and the same `held`
mark. Never a character of the undecided answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from guardrails.guard import GuardResult
from service.auth import ApiKey
from service.errors import ApiError
from service.hold import shape
from service.hold.routes import held_mark, holds, store_held
from service.hold.store import HeldAnswer
from service.state import AppState

_POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class StreamHold:
    """A streamed request that waits for a reviewer should its answer's verdict be `review`."""

    key: ApiKey
    webhook: str | None


def released_finish(result: GuardResult, message: dict[str, Any]) -> str:
    """The finish reason a choice gets back once approved (it reads `content_filter` while it waits)."""
    return result.finish_reason or ("tool_calls" if message.get("tool_calls") else "stop")


async def held_stream(
    state: AppState,
    hold: StreamHold,
    policy: str,
    answer: dict[str, Any],
    chunk: Callable[..., bytes],
) -> AsyncIterator[bytes]:
    """Hold `answer` (a chat.completion, one choice or several held as a whole) and stream its decided form (each
    choice in index order), or its id past the bound."""
    try:
        row = await store_held(
            state, hold.key, answer, policy=policy, webhook=hold.webhook, items=shape.reviewed("", answer)
        )
    except ApiError as exc:  # the headers are sent: the error goes out as OpenAI's stream error event (SDKs raise it)
        error = {"message": exc.message, "type": "invalid_request_error", "param": None, "code": exc.code}
        yield f"data: {json.dumps({'error': error})}\n\n".encode()
        return
    mark = {"type": "held", **held_mark(row)}
    yield chunk({}, outguard={**mark, **shape.waiting_info(row.body)})  # why it waits, never what it says
    row = await _decided(state, row)
    if not row.released or row.result is None:
        for index in range(len(answer["choices"])):
            yield chunk({}, "content_filter", index=index, outguard=mark)
        return
    outguard = row.result.get("outguard") or {}
    many = outguard.get("choices")  # n > 1: each choice's finish chunk carries its own info
    for decided in row.result["choices"]:
        index = decided.get("index", 0)
        message = decided["message"]
        if message.get("content"):
            yield chunk({"content": message["content"]}, index=index)
        if isinstance(message.get("refusal"), str):  # as the proxy streams a declared refusal: `delta.refusal`
            yield chunk({"refusal": message["refusal"]}, index=index)
        if isinstance(message.get("function_call"), dict):  # a legacy call, whole in one delta
            yield chunk({"function_call": message["function_call"]}, index=index)
        for i, call in enumerate(message.get("tool_calls") or []):
            yield chunk({"tool_calls": [{"index": i, **call}]}, index=index)
        # A reviewed choice's own decision; a choice nobody reviewed says how the completion it waited with ended.
        info = {"held": outguard.get("held"), **many[index]} if many else outguard
        yield chunk({}, decided["finish_reason"], index=index, outguard=info)


async def _decided(state: AppState, row: HeldAnswer) -> HeldAnswer:
    """The row once released, or as it is when the stream's bound runs out (the same resolve as a long-poll)."""
    h = holds(state)
    deadline = time.monotonic() + h.cfg.max_stream_wait_s
    while True:
        row = await asyncio.to_thread(h.resolve, row)
        left = deadline - time.monotonic()
        if row.released or left <= 0:
            return row
        await asyncio.sleep(min(_POLL_S, left))
