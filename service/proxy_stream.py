"""The guarded proxy's SSE answer: `Guard.astream` events as OpenAI `chat.completion.chunk` events.

Two release modes. `cleared`: text goes out as the streaming checks clear it; when the answer fails (a
finding, the final verdict, or the upstream dying mid-stream) a chunk with `outguard: {type: "retract",
offset, reason}` withdraws it, and the regenerated / fallback / last-resort answer follows in one chunk with
`outguard: {type: "regenerated", source}`. `final`: nothing is sent before the final verdict, then the answer
in one chunk, so a client that ignores the `outguard` field never shows withdrawn text. Either way the last
chunk has an OpenAI `finish_reason` (`stop`, `tool_calls`, or `content_filter` when the guard withheld the model's
answer). Tool calls are assembled from the upstream's deltas, checked, and sent whole (one delta per call) after
the text; `stream_options.include_usage` adds OpenAI's usage chunk (empty `choices`, usage summed over attempts)
before `[DONE]`. When no provider answers at all the stream carries an OpenAI error event (`{"error": {...},
"outguard": {"source": "error"}}`, which the SDKs raise as an APIError) unless the policy says
`on_upstream_error: last_resort`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from guardrails import Context, Engine, Report
from guardrails.guard import DEFAULT_LAST_RESORT, Guard, GuardResult, StreamEvent
from service.hold.stream import StreamHold, held_stream, released_finish
from service.proxy_answer import (
    delivered_message,
    finish_reason,
    outguard_info,
    queue_for_review,
    shown_report,
    upstream_error,
    upstream_failed,
)
from service.proxy_runs import RunRecorder
from service.redaction import outgoing
from service.state import AppState

log = logging.getLogger("outguard.service")

Release = Literal["final", "cleared"]

_DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class StreamRun:
    """One streamed request: who answers it, under which policy, and how its text may be released."""

    state: AppState
    engine: Engine
    guard: Guard
    recorder: RunRecorder
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    ctx: Context | None
    model: str
    release: Release
    key_name: str
    """The caller's API key: its request ids are its own in the review queue."""
    hold: StreamHold | None = None
    """Set when a `review` verdict waits for a reviewer (service/hold/stream.py); `release` is then `final`."""


class _Shown:
    """The text a client holds, rebuilt from `text` and `retract` events (their offsets are authoritative)."""

    def __init__(self) -> None:
        self.text = ""

    def apply(self, event: StreamEvent) -> None:
        if event.type == "text" and event.text:
            at = len(self.text) if event.offset is None else event.offset
            self.text = self.text[:at] + event.text
        elif event.type == "retract":
            self.text = self.text[: event.offset or 0]


class Chunks:
    """`chat.completion.chunk` events of one streamed completion, each for one choice (`index`, 0 unless n > 1)."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-og-{uuid.uuid4().hex[:24]}"
        self.model = model

    def __call__(self, delta: dict[str, Any], finish: str | None = None, *, index: int = 0, **extra: Any) -> bytes:
        return self._event({"choices": [{"index": index, "delta": delta, "finish_reason": finish}], **extra})

    def usage(self, usage: dict[str, Any]) -> bytes:
        """OpenAI's last chunk under `stream_options.include_usage`: no choices, the whole run's usage."""
        return self._event({"choices": [], "usage": usage})

    def _event(self, fields: dict[str, Any]) -> bytes:
        head = {"id": self.id, "object": "chat.completion.chunk", "created": int(time.time()), "model": self.model}
        return f"data: {json.dumps({**head, **fields}, ensure_ascii=False)}\n\n".encode()


def _retract_reason(reason: str | None) -> str:
    # The Guard names a failed provider and quotes its error, which can carry upstream hosts and bodies:
    # the client learns only that the upstream failed; the log has the details.
    if reason and reason.startswith("provider "):
        return "the upstream failed mid-stream"
    return reason or "withdrawn"


async def stream_completion(run: StreamRun) -> AsyncIterator[bytes]:
    chunk = Chunks(run.model)
    yield chunk({"role": "assistant", "content": ""})
    shown = _Shown()  # what the client holds (cleared mode) or will be given (final mode)
    try:
        final: StreamEvent | None = None
        async for event in run.guard.astream(run.messages, run.ctx, upstream_params=run.params):
            if event.type == "final":
                final = event
                continue
            sent_before = len(shown.text)
            shown.apply(event)
            if run.release == "final":
                continue
            if event.type == "text" and event.text:
                if run.recorder.outage and run.engine.policy.regeneration.on_upstream_error == "error":
                    continue  # the client gets the error event, never the apology as if it were an answer
                yield chunk({"content": event.text}, **_replacement(run.recorder))
            elif event.type == "retract" and sent_before:
                reason = _retract_reason(event.reason)
                yield chunk({}, outguard={"type": "retract", "offset": event.offset or 0, "reason": reason})
        assert final is not None and final.result is not None, "Guard.astream always ends with its result"
        result = final.result
        if upstream_failed(result, run.engine):
            run.recorder.close("error", result.report.verdict, run.guard.providers[0][0])
            _status, body = upstream_error(result)
            yield f"data: {json.dumps(body)}\n\n".encode()
            yield _DONE
            return
        report, source = outgoing(result.report, run.engine), result.source
        run.state.metrics.observe_report(report)
        review_id = await queue_for_review(run.state, run.engine, report, run.ctx, run.key_name)
    except Exception as exc:
        # Not an upstream failure (the Guard turns those into fallbacks and the last resort) but our own:
        # the client still gets a withdrawal, a degraded answer and a valid end instead of a broken stream.
        # The traceback only with log_content: exception messages can quote the text they were handed.
        log.error("proxy stream failed: %s", type(exc).__name__, exc_info=run.state.config.log_content)
        if shown.text and run.release == "cleared":
            yield chunk({}, outguard={"type": "retract", "offset": 0, "reason": "the guard failed"})
        run.state.metrics.count_run("last_resort")
        yield chunk({"content": _last_resort(run.guard)}, outguard={"type": "regenerated", "source": "last_resort"})
        yield chunk({}, "content_filter", outguard={"type": "error", "source": "last_resort"})
        yield _DONE
        return
    run.recorder.close(source, report.verdict, run.guard.providers[0][0])
    outguard = outguard_info(shown_report(report, result, run.engine), source, run.recorder.attempts, review_id)
    async for data in _ending(run, chunk, text=shown.text, result=result, report=report, outguard=outguard):
        yield data
    if _wants_usage(run.params):
        yield chunk.usage(result.usage.model_dump())
    yield _DONE


def _ending(
    run: StreamRun, chunk: Chunks, *, text: str, result: GuardResult, report: Report, outguard: dict[str, Any]
) -> AsyncIterator[bytes]:
    """What follows the verdict: the answer, or, for a `review` answer that must wait, the held stream."""
    if run.hold is not None and outguard["review_id"] is not None and report.verdict.value == "review":
        return _held(run, chunk, result, outguard)
    return _delivered(run, chunk, text=text, result=result, report=report, outguard=outguard)


async def _delivered(
    run: StreamRun, chunk: Chunks, *, text: str, result: GuardResult, report: Report, outguard: dict[str, Any]
) -> AsyncIterator[bytes]:
    """The answer's end: the text held until the verdict (`final` mode), the checked tool calls, the last chunk."""
    if run.release == "final" and text:
        yield chunk({"content": text}, **_replacement(run.recorder))
    reason = finish_reason(result, report)
    refusal = (result.message or {}).get("refusal")
    if isinstance(refusal, str):  # a declared refusal, checked: OpenAI streams it as `delta.refusal`, not content
        yield chunk({"refusal": refusal})
    legacy = (result.message or {}).get("function_call") if reason == "function_call" else None
    if isinstance(legacy, dict):  # a legacy call, its arguments checked: whole, in one delta
        yield chunk({"function_call": legacy})
    calls = (result.message or {}).get("tool_calls") if reason == "tool_calls" else None
    for i, call in enumerate(calls or []):
        yield chunk({"tool_calls": [{"index": i, **call}]})
    yield chunk({}, reason, outguard=outguard)


def _held(run: StreamRun, chunk: Chunks, result: GuardResult, outguard: dict[str, Any]) -> AsyncIterator[bytes]:
    """A `review` answer that waits for the reviewer: judged whole in `final` mode, nothing of it shown yet. What
    the decision releases is the completion the non-streamed proxy would have held."""
    assert run.hold is not None
    message = delivered_message(result)
    answer = {
        "id": chunk.id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": chunk.model,
        "choices": [{"index": 0, "message": message, "finish_reason": released_finish(result, message)}],
        "usage": result.usage.model_dump(),
        "outguard": outguard,
    }
    return held_stream(run.state, run.hold, run.engine.policy.name, answer, chunk)


def _wants_usage(params: dict[str, Any]) -> bool:
    options = params.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _last_resort(guard: Guard) -> str:
    """The Guard's last-resort text (the policy's, in the proxy); this failure path calls no function for it."""
    return guard.last_resort if isinstance(guard.last_resort, str) else DEFAULT_LAST_RESORT


def _replacement(recorder: RunRecorder) -> dict[str, Any]:
    """The `outguard` mark on text that replaces the first attempt (it follows a retract in cleared mode)."""
    if recorder.finished is None or not recorder.replaced:
        return {}
    return {"outguard": {"type": "regenerated", "source": recorder.finished.source}}
