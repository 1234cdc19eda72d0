"""Spans of one guarded run: the run, a child per attempt, and in each attempt a child for the provider call.

A Guard's control flow is a generator driven by run()/arun() (guardrails/guard/guard.py), so the driver tells
this object where an attempt starts (`attempt`) and where its call returned (`called`); the validations that
follow happen while that attempt is the current span, so the engine's validation spans land under it. What an
attempt was (provider, model, verdict, tokens, cost) is known only from the run's result, so attributes are set
and every span ended in `finish`, with the end times recorded as they happened.

The run's span is never made current (a streamed run lives in an async generator, whose context the consumer
owns between yields); attempts are made current only inside one driver call, attached and detached there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from guardrails.telemetry._otel import tracer, tracing


@dataclass(slots=True)
class _AttemptSpans:
    span: Any
    call: Any
    call_end: int | None = None
    end: int | None = None


@dataclass(slots=True)
class GuardTrace:
    """The spans of one run. Use guard_trace(); it returns NO_TRACE when tracing is off."""

    run: Any
    attempts: list[_AttemptSpans] = field(default_factory=list)
    _token: Any = None

    def attempt(self, provider: str, *, current: bool = True) -> None:
        """A new attempt begins with a call to `provider` (the previous attempt ends here)."""
        from opentelemetry.trace import SpanKind, set_span_in_context

        self.detach()
        now = time.time_ns()
        if self.attempts and self.attempts[-1].end is None:
            self.attempts[-1].end = now
        t = tracer()
        span = t.start_span(
            "outguard.guard.attempt",
            context=set_span_in_context(self.run),
            start_time=now,
            attributes={"outguard.provider": provider, "outguard.attempt": len(self.attempts) + 1},
        )
        call = t.start_span(
            "outguard.llm.call",
            context=set_span_in_context(span),
            kind=SpanKind.CLIENT,
            start_time=now,
            attributes={"outguard.provider": provider},
        )
        self.attempts.append(_AttemptSpans(span, call))
        if current:
            self._attach(span)

    def called(self) -> None:
        """The provider answered (or failed): the call's span ends here, the attempt goes on with validation."""
        if self.attempts and self.attempts[-1].call_end is None:
            self.attempts[-1].call_end = time.time_ns()

    @contextmanager
    def current(self) -> Iterator[None]:
        """The latest attempt as the current span for a block (a streamed answer's final validation)."""
        if not self.attempts:
            yield
            return
        self._attach(self.attempts[-1].span)
        try:
            yield
        finally:
            self.detach()

    def _attach(self, span: Any) -> None:
        from opentelemetry import context
        from opentelemetry.trace import set_span_in_context

        self.detach()
        self._token = context.attach(set_span_in_context(span))

    def detach(self) -> None:
        """Stop making the attempt current (at the end of the driver call that attached it)."""
        if self._token is not None:
            from opentelemetry import context

            context.detach(self._token)
            self._token = None

    def finish(self, result: Any) -> None:
        """The run is over: attributes from `result` (a GuardResult), then every span ends."""
        self.detach()
        now = time.time_ns()
        attempts = list(getattr(result, "attempts", []))
        # Attempts made outside this trace (the first call of an n > 1 request) come first: align from the end.
        offset = max(0, len(attempts) - len(self.attempts))
        for i, spans in enumerate(self.attempts):
            a = attempts[offset + i] if offset + i < len(attempts) else None
            if a is not None:
                attrs = attempt_attributes(a)
                spans.span.set_attributes(attrs)
                spans.call.set_attributes({k: v for k, v in attrs.items() if not k.startswith("outguard.verdict")})
                if a.verdict is None:
                    _error(spans.call, a)
                    _error(spans.span, a)
            spans.call.end(end_time=spans.call_end or spans.end or now)
            spans.span.end(end_time=spans.end or now)
        self.run.set_attributes(run_attributes(result))
        if getattr(result, "source", None) == "last_resort":
            from opentelemetry.trace import Status, StatusCode

            self.run.set_status(Status(StatusCode.ERROR, "last_resort"))
        self.run.end(end_time=now)

    def close(self) -> None:
        """End whatever is open without a result (the run raised, or its consumer went away)."""
        self.detach()
        now = time.time_ns()
        for spans in self.attempts:
            if spans.span.is_recording():
                spans.call.end(end_time=spans.call_end or now)
                spans.span.end(end_time=spans.end or now)
        if self.run.is_recording():
            self.run.end(end_time=now)


def _error(span: Any, attempt: Any) -> None:
    from opentelemetry.trace import Status, StatusCode

    # The error's type, status and timeout flag only: its message may quote the provider's answer.
    kind = (attempt.error or "error").split(":", 1)[0][:80]
    span.set_attribute("outguard.error.type", kind)
    if attempt.error_status is not None:
        span.set_attribute("http.response.status_code", attempt.error_status)
    span.set_attribute("outguard.error.timeout", bool(attempt.error_timeout))
    span.set_status(Status(StatusCode.ERROR, kind))


def attempt_attributes(attempt: Any) -> dict[str, Any]:
    """An Attempt's span attributes: OpenTelemetry's gen_ai names for model and tokens, outguard's for the rest."""
    attrs: dict[str, Any] = {
        "outguard.provider": attempt.provider,
        "outguard.attempt": attempt.number,
        "gen_ai.usage.input_tokens": attempt.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": attempt.usage.completion_tokens,
        "outguard.prompt.chars": attempt.prompt_chars,
        "outguard.feedback.chars": attempt.feedback_chars,
    }
    if attempt.model:
        attrs["gen_ai.response.model"] = attempt.model
    if attempt.verdict is not None:
        attrs["outguard.verdict"] = attempt.verdict.value
    cost = getattr(attempt, "cost", None)
    if cost is not None:
        attrs["outguard.cost"] = cost
    return attrs


def run_attributes(result: Any) -> dict[str, Any]:
    report = result.report
    attrs: dict[str, Any] = {
        "outguard.policy": report.policy,
        "outguard.policy_version": report.policy_version,
        "outguard.verdict": report.verdict.value,
        "outguard.source": result.source,
        "outguard.attempts": len(result.attempts),
        "outguard.codes": sorted({f.code for f in report.findings}),
        "outguard.delivered.chars": len(result.output),
        "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": result.usage.completion_tokens,
    }
    if result.provider:
        attrs["outguard.provider"] = result.provider
    cost = getattr(result, "cost", None)
    if cost is not None:
        attrs["outguard.cost"] = cost
    return attrs


class _NoTrace:
    """What a run gets when tracing is off: every hook does nothing."""

    __slots__ = ()

    def attempt(self, provider: str, *, current: bool = True) -> None:
        pass

    def called(self) -> None:
        pass

    @contextmanager
    def current(self) -> Iterator[None]:
        yield

    def detach(self) -> None:
        pass

    def finish(self, result: Any) -> None:
        pass

    def close(self) -> None:
        pass


NO_TRACE = _NoTrace()


def guard_trace(policy: str) -> GuardTrace | _NoTrace:
    """The spans for a new run under `policy` (child of the current span), or NO_TRACE when tracing is off."""
    if not tracing():
        return NO_TRACE
    span = tracer().start_span("outguard.guard.run", attributes={"outguard.policy": policy})
    return GuardTrace(span)
