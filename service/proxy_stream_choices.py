"""A streamed request with `n > 1`: every choice judged whole, regenerated alone, then streamed as OpenAI streams it.

The upstream is asked once, `stream: true` and `n` with every other field as given (StreamedUpstream); its chunks are
demultiplexed by `choices[].index` (OpenAIChatClient keeps each further choice apart in `StreamStats.others`) into
one answer per choice, and `Guard.arun_choices` judges each on its own and regenerates a failing one alone (`n` left
out, not streamed), as the non-streamed path does. Release is always `final` for n > 1: a retract on one choice
would reach a reader of another, so no choice's text leaves before every choice has its verdict. A request that
asked for `cleared` is told so (the response header `X-Outguard-Release: final` and `outguard.release` on the first
chunk). While the choices are judged only choice 0's role chunk and keep-alive comments go out; the other role
chunks follow once the choices are known (an upstream that sent fewer than `n` choices leaves no empty index).

Then, per index in order: the content in one delta, a declared refusal, the checked tool calls (one delta per
call), and the choice's finish chunk carrying its `outguard` info; `stream_options.include_usage` adds the usage
chunk (summed over every attempt of every choice) before `[DONE]`. When any choice's verdict is `review` and the
request is held, the completion waits as a whole (service/hold/stream.py), as it would non-streamed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from guardrails import Context, Engine
from guardrails.guard import DEFAULT_LAST_RESORT, Guard, GuardResult, LLMResponse, Usage
from service.hold import shape
from service.hold.stream import held_stream, released_finish
from service.proxy_answer import (
    delivered_message,
    finish_reason,
    outguard_info,
    queue_for_review,
    shown_report,
    upstream_error,
    upstream_failed,
)
from service.proxy_stream import Chunks, Release, StreamRun
from service.redaction import outgoing
from service.state import AppState

log = logging.getLogger("outguard.service")

_DONE = b"data: [DONE]\n\n"
_ROLE = {"role": "assistant", "content": ""}


def wants_choices(params: dict[str, Any]) -> int | None:
    """The `n` of a request that asks for more than one choice, else None."""
    n = params.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else None


class StreamedUpstream:
    """The upstream for one streamed run. With `choices` (n > 1) its first call, the one asking for every choice,
    is streamed and demultiplexed into one LLMResponse per choice. Every call that does not stream (a regeneration,
    n = 1 or not) goes without `stream_options`, which an upstream refuses (400) on a request that does not stream.
    Every other attribute (name, model, astream, supports_*) is the wrapped client's, so the Guard hands the same
    arguments and streams an n = 1 answer through the client itself."""

    def __init__(self, client: Any, *, choices: bool) -> None:
        self._client = client
        self._first = choices

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __call__(self, messages: list[dict[str, Any]], /, **params: Any) -> Any:
        return self._client(messages, **_unstreamed(params))  # the proxy's runs are async: not used by it

    async def acomplete(self, messages: list[dict[str, Any]], /, **kwargs: Any) -> Any:
        first, self._first = self._first, False
        astream = getattr(self._client, "astream", None)
        if first and callable(astream):
            return await self._streamed(astream, messages, kwargs)
        # Not streamed: an LLM without `astream` (asked for every choice in one plain call), or a regeneration.
        acomplete = getattr(self._client, "acomplete", None)
        if callable(acomplete):
            return await acomplete(messages, **_unstreamed(kwargs))
        value = await asyncio.to_thread(self._client, messages, **_unstreamed(kwargs))
        return await value if inspect.isawaitable(value) else value  # a plain function around an async client

    async def _streamed(self, astream: Any, messages: list[dict[str, Any]], kwargs: dict[str, Any]) -> LLMResponse:
        fields = {**kwargs, **(kwargs.get("upstream_params") or {})}
        n = wants_choices(fields) or 1
        deltas = astream(messages, **kwargs)
        parts: list[str] = []
        try:
            async for delta in deltas:
                parts.append(delta)
        finally:
            await deltas.aclose()
        stats = deltas.stats
        name = str(getattr(self._client, "name", "") or "primary")
        first = _response(name, "".join(parts), stats, usage=stats.usage)
        # Choices in index order; an index the upstream never sent is no choice (as a short non-streamed answer).
        others = [_response(name, "".join(stats.others[i].parts), stats.others[i]) for i in sorted(stats.others)]
        return first.model_copy(update={"model": stats.model, "alternatives": others[: n - 1]})


def _unstreamed(params: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in params.items() if k != "stream_options"}
    upstream = out.get("upstream_params")
    if isinstance(upstream, dict):
        out["upstream_params"] = {k: v for k, v in upstream.items() if k != "stream_options"}
    return out


def _response(name: str, text: str, stats: Any, usage: Usage | None = None) -> LLMResponse:
    message = stats.message(text)
    return LLMResponse(
        text=text,
        provider=name,
        usage=usage or Usage(),
        model=stats.model,
        message=message if isinstance(message, dict) else None,
        finish_reason=stats.finish_reason,
    )


async def completion(
    state: AppState, engine: Engine, results: list[GuardResult], *, ctx: Context | None, key_name: str, model: str
) -> dict[str, Any]:
    """The chat.completion the choices amount to (what the non-streamed proxy answers, what a hold keeps): each
    choice's report redacted, counted and queued for review when the policy says so."""
    choices: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        report = outgoing(result.report, engine)  # what leaves the process: the answer's report, the review queue
        state.metrics.observe_report(report)
        review_id = await queue_for_review(state, engine, report, ctx, key_name)
        choices.append(
            {
                "index": index,
                "message": delivered_message(result),
                "logprobs": result.logprobs,  # the delivered attempt's, only when its text is delivered as it came
                "finish_reason": finish_reason(result, report),
            }
        )
        shown = shown_report(report, result, engine)
        infos.append(outguard_info(shown, result.source, len(result.attempts), review_id))
    served = {"system_fingerprint": results[0].system_fingerprint, "service_tier": results[0].service_tier}
    return {
        "id": f"chatcmpl-og-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": sum((r.usage for r in results), Usage()).model_dump(),
        **{k: v for k, v in served.items() if v is not None},
        # Choice 0's, as before; with n > 1 every choice's under `choices`.
        "outguard": {**infos[0], "choices": infos} if len(infos) > 1 else infos[0],
    }


def held_form(answer: dict[str, Any], results: list[GuardResult]) -> dict[str, Any] | None:
    """`answer` as a hold keeps it when any choice waits for a reviewer (each choice with the finish reason it gets
    back once approved), else None."""
    infos = answer["outguard"].get("choices") or [answer["outguard"]]
    if not shape.needs_hold(infos):
        return None
    finishes = [released_finish(r, c["message"]) for r, c in zip(results, answer["choices"], strict=True)]
    return {**answer, "choices": [{**c, "finish_reason": f} for c, f in zip(answer["choices"], finishes, strict=True)]}


def choice_chunks(chunk: Chunks, choice: dict[str, Any], outguard: dict[str, Any] | None) -> list[bytes]:
    """One decided choice as OpenAI streams it: its text, a declared refusal, a legacy call or the tool calls (each
    whole, in one delta), then its finish chunk with `outguard`."""
    index, message, reason = choice["index"], choice["message"], choice["finish_reason"]
    out: list[bytes] = []
    if message.get("content"):
        out.append(chunk({"content": message["content"]}, index=index))
    if isinstance(message.get("refusal"), str):  # OpenAI streams a declared refusal as `delta.refusal`
        out.append(chunk({"refusal": message["refusal"]}, index=index))
    if reason == "function_call" and isinstance(message.get("function_call"), dict):
        out.append(chunk({"function_call": message["function_call"]}, index=index))
    if reason == "tool_calls":
        out += [chunk({"tool_calls": [{"index": i, **c}]}, index=index) for i, c in enumerate(message["tool_calls"])]
    extra = {"outguard": outguard} if outguard is not None else {}
    out.append(chunk({}, reason, index=index, **extra))
    return out


async def stream_choices(run: StreamRun, n: int, asked: Release | None) -> AsyncIterator[bytes]:
    """The SSE answer to a streamed request for `n` choices; `asked`: the release mode the request named (told
    when it asked for `cleared`)."""
    chunk = Chunks(run.model)
    told = {"type": "release", "release": "final", "asked": asked}
    yield chunk(_ROLE, index=0, outguard=told) if asked == "cleared" else chunk(_ROLE, index=0)  # says nothing yet
    try:
        results: list[GuardResult] = await run.guard.arun_choices(run.messages, run.ctx, upstream_params=run.params)
        if all(upstream_failed(r, run.engine) for r in results):
            run.recorder.close("error", results[0].report.verdict, run.guard.providers[0][0])
            _status, body = upstream_error(results[0])
            yield f"data: {json.dumps(body)}\n\n".encode()
            yield _DONE
            return
        answer = await completion(run.state, run.engine, results, ctx=run.ctx, key_name=run.key_name, model=run.model)
        kept = held_form(answer, results) if run.hold is not None else None
        # Every chunk is made before the first is sent: a failure here still ends the stream with the last resort.
        decided = [] if kept is not None else _decided(chunk, answer)
    except Exception as exc:
        # Our own failure, not the upstream's (the Guard turns those into fallbacks and the last resort): nothing of
        # any choice was shown, so each gets the last resort and a valid end instead of a broken stream.
        log.error("proxy stream (n > 1) failed: %s", type(exc).__name__, exc_info=run.state.config.log_content)
        run.state.metrics.count_run("last_resort")
        for index in range(n):
            yield chunk({**(_ROLE if index else {}), "content": _last_resort(run.guard)}, index=index)
            yield chunk({}, "content_filter", index=index, outguard={"type": "error", "source": "last_resort"})
        yield _DONE
        return
    run.recorder.close(results[0].source, results[0].report.verdict, run.guard.providers[0][0])
    # The other role chunks once the choices are known: an upstream that sent fewer than `n` leaves no empty index.
    for index in range(1, len(results)):
        yield chunk(_ROLE, index=index)
    if run.hold is not None and kept is not None:
        async for data in held_stream(run.state, run.hold, run.engine.policy.name, kept, chunk):
            yield data
    for data in decided:
        yield data
    options = run.params.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        yield chunk.usage(answer["usage"])
    yield _DONE


def _decided(chunk: Chunks, answer: dict[str, Any]) -> list[bytes]:
    """Every choice's chunks, in index order, each finish chunk with that choice's `outguard` info."""
    infos = answer["outguard"].get("choices") or [answer["outguard"]]  # one choice: its info is the top level
    return [data for c, info in zip(answer["choices"], infos, strict=True) for data in choice_chunks(chunk, c, info)]


def _last_resort(guard: Guard) -> str:
    """The Guard's last-resort text (the policy's, in the proxy); this failure path calls no function for it."""
    return guard.last_resort if isinstance(guard.last_resort, str) else DEFAULT_LAST_RESORT
