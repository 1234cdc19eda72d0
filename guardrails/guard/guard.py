"""Guard: call an LLM, validate its output, regenerate with targeted feedback within a budget, fall back.

The control flow is written once, as a generator that yields the side effects it needs (an LLM call, a
validation) and receives their results; `run` drives it synchronously and `arun` with asyncio. So both
paths take exactly the same decisions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from guardrails.context import Context
from guardrails.engine import Engine
from guardrails.findings import Report, Verdict
from guardrails.guard.budget import Budget, BudgetMeter, Usage
from guardrails.guard.events import AttemptFinished, AttemptStarted, CheckTimed, Listener, RunFinished, emit
from guardrails.guard.feedback import FeedbackSettings, feedback_messages
from guardrails.guard.llm import LLMBudgetError, LLMError, LLMResponse, Message, coerce_response, provider_name
from guardrails.guard.result import Attempt, GuardResult, Source
from guardrails.guard.stream import StreamEvent, StreamValidator

log = logging.getLogger("guardrails.guard")

DEFAULT_LAST_RESORT = "I'm sorry, I can't give a reliable answer to that right now. Please try again later."

LastResort = str | Callable[[list[Message], list[Attempt]], str]
"""A fixed answer, or a function of the original messages and every attempt made."""

# Verdicts a Guard delivers as they are; `review` is delivered too (the caller queues it, its report says so).
_ACCEPTED = (Verdict.PASS, Verdict.REPAIRED, Verdict.REVIEW)


@dataclass(frozen=True, slots=True)
class _Call:
    provider: str
    llm: Any
    messages: list[Message]
    params: dict[str, Any]
    timeout: float | None


@dataclass(frozen=True, slots=True)
class _Validate:
    text: str
    context: Context


@dataclass(frozen=True, slots=True)
class _Seed:
    """A first attempt made outside the plan (a streamed answer): its response or error, and its Report."""

    value: Any
    report: Report | None
    latency_ms: float
    started: float
    """perf_counter() when the streamed attempt began: the run's time budget counts from there."""


_Step = _Call | _Validate
_Plan = Generator[_Step, Any, GuardResult]


def as_messages(messages_or_prompt: str | Sequence[Message]) -> list[Message]:
    """A prompt string becomes one user message; a message list is checked for role/content strings."""
    if isinstance(messages_or_prompt, str):
        return [{"role": "user", "content": messages_or_prompt}]
    out: list[Message] = []
    for i, m in enumerate(messages_or_prompt):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ValueError(f"messages[{i}] must be a dict with string 'role' and 'content', got {m!r:.80}")
        out.append(dict(m))
    if not out:
        raise ValueError("messages must not be empty")
    return out


def _context_for(context: Context | dict[str, Any] | None, messages: list[Message]) -> Context:
    """The caller's context, with prompt and system prompt taken from the messages when it has none."""
    ctx = Context.coerce(context)
    update: dict[str, Any] = {}
    if ctx.prompt is None:
        users = [m["content"] for m in messages if m["role"] == "user"]
        if users:
            update["prompt"] = users[-1]
    if ctx.system_prompt is None:
        systems = [m["content"] for m in messages if m["role"] == "system"]
        if systems:
            update["system_prompt"] = "\n".join(systems)
    return ctx.model_copy(update=update) if update else ctx


class Guard:
    """Guarded generation: `Guard(engine, llm, fallbacks=[...], budget=Budget(...)).run(prompt)`.

    Each provider (the primary `llm`, then each of `fallbacks`) gets up to `budget.max_attempts` calls; an
    output whose verdict is `regenerate` or `block` is re-asked with feedback built from its Report (earlier
    feedback is replaced, so the prompt does not grow). A provider that raises is abandoned for the next.
    When every provider failed, or tokens/seconds ran out, the `last_resort` answer is delivered (default: the
    policy's `regeneration.last_resort`, else DEFAULT_LAST_RESORT): the user sees a degraded answer, never an
    exception. Retries are deterministic by default (temperature 0).

    Every budget holds whatever the provider sends: a streamed answer is cut at the time budget even when
    nothing but keep-alives, empty deltas or an endless partial event arrive (asyncio: each wait for the next
    delta is bounded by the time left; sync: the client must honour `timeout=`, as OpenAIChatClient does).
    """

    def __init__(
        self,
        engine: Engine,
        llm: Any,
        *,
        fallbacks: Sequence[Any] = (),
        budget: Budget | None = None,
        last_resort: LastResort | None = None,
        temperature: float | None = 0.0,
        listeners: Sequence[Listener] = (),
        feedback: FeedbackSettings | None = None,
        log_content: bool = False,
    ) -> None:
        if not callable(llm):
            raise TypeError(f"llm must be callable (messages, **params) -> LLMResponse | str, got {type(llm).__name__}")
        for i, fb in enumerate(fallbacks):
            if not callable(fb):
                raise TypeError(f"fallbacks[{i}] must be callable, got {type(fb).__name__}")
        self.engine = engine
        providers = [llm, *fallbacks]
        self.providers: list[tuple[str, Any]] = [(provider_name(p, i), p) for i, p in enumerate(providers)]
        regen = engine.policy.regeneration
        if budget is None:
            budget = Budget(
                max_attempts=max(1, regen.max_attempts), max_tokens=regen.max_tokens, max_seconds=regen.max_seconds
            )
        self.budget = budget
        # The caller's answer wins over the policy's `regeneration.last_resort`, which wins over the built-in one.
        self._policy_last_resort = regen.last_resort or DEFAULT_LAST_RESORT
        self.last_resort = last_resort if last_resort is not None else self._policy_last_resort
        self.temperature = temperature
        self.listeners = tuple(listeners)
        self.feedback = feedback or FeedbackSettings()
        self.log_content = log_content
        """Log what a provider sent with its failure (error bodies, bad stream events): off, since the model's
        text and PII ride in them. The failure itself (provider, type, status) is always logged."""

    # -- drivers ------------------------------------------------------------------------------------

    def run(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        **llm_params: Any,
    ) -> GuardResult:
        """Generate, validate, regenerate and fall back synchronously. Never raises for provider failures."""
        return self._drive(self._plan(messages_or_prompt, context, llm_params))

    def _drive(self, plan: _Plan) -> GuardResult:
        value: Any = None
        try:
            step = next(plan)
            while True:
                if isinstance(step, _Call):
                    try:
                        kwargs = dict(step.params)
                        if step.timeout is not None and getattr(step.llm, "supports_timeout", False):
                            kwargs["timeout"] = step.timeout
                        value = step.llm(step.messages, **kwargs)
                        if inspect.isawaitable(value):
                            _close(value)
                            value = TypeError("an async LLM needs Guard.arun, not Guard.run")
                    except Exception as exc:
                        value = exc
                else:
                    value = self.engine.validate(step.text, step.context)
                step = plan.send(value)
        except StopIteration as stop:
            result: GuardResult = stop.value
            return result

    async def arun(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        **llm_params: Any,
    ) -> GuardResult:
        """Like run(), for async (or sync, run in a thread) LLMs; the time budget cancels a call in flight."""
        return await self._adrive(self._plan(messages_or_prompt, context, llm_params))

    async def _adrive(self, plan: _Plan) -> GuardResult:
        value: Any = None
        try:
            step = next(plan)
            while True:
                if isinstance(step, _Call):
                    try:
                        value = await _acall(step)
                    except Exception as exc:
                        value = exc
                else:
                    value = await self.engine.avalidate(step.text, step.context)
                step = plan.send(value)
        except StopIteration as stop:
            result: GuardResult = stop.value
            return result

    # -- streaming ------------------------------------------------------------------------------------

    def stream(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        **llm_params: Any,
    ) -> Iterator[StreamEvent]:
        """Stream the primary's answer through a StreamValidator; regenerate (not streamed) when it fails.

        Yields the validator's events. When the streamed answer needs a regeneration or the provider fails
        mid-stream, the consumer first gets the findings and a `retract` for anything released, then the
        regular regeneration / fallback / last-resort loop runs (the streamed answer counts as attempt 1) and
        its answer arrives as one `text` event and a `final` event whose `source` says where it came from.
        LLMs without a `stream` method are run with run() and delivered the same way. Arguments as run().
        """
        for event in self._stream(messages_or_prompt, context, **llm_params):
            emit(self.listeners, event)
            yield event

    async def astream(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        **llm_params: Any,
    ) -> AsyncIterator[StreamEvent]:
        """stream() for async LLMs with an `astream` method (others go through arun())."""
        async for event in self._astream(messages_or_prompt, context, **llm_params):
            emit(self.listeners, event)
            yield event

    def _stream(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        **llm_params: Any,
    ) -> Iterator[StreamEvent]:
        """The events of stream(), before listeners see them."""
        original = as_messages(messages_or_prompt)
        ctx = _context_for(context, original)
        name, llm = self.providers[0]
        streamer = getattr(llm, "stream", None)
        if not callable(streamer):
            yield from _result_events(self.run(original, ctx, **llm_params))
            return
        validator = StreamValidator(self.engine, ctx)
        received: list[str] = []
        t0 = time.perf_counter()
        error: Exception | None = None
        deltas: Any = None
        try:
            deltas = streamer(original, **self._stream_params(llm, llm_params))
            for delta in deltas:
                received.append(delta)
                yield from validator.feed(delta)
                if validator.halted:
                    break  # the answer is already lost: stop paying for it (its usage stays unknown)
        except Exception as exc:
            error = exc
        finally:
            _close(deltas)
        latency = (time.perf_counter() - t0) * 1000
        seed, events = self._after_stream(
            validator, received=received, error=error, name=name, timing=_Seed(None, None, latency, t0), deltas=deltas
        )
        yield from events
        if seed is not None:
            yield from _result_events(self._drive(self._plan(original, ctx, llm_params, seed=seed)))

    async def _astream(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        **llm_params: Any,
    ) -> AsyncIterator[StreamEvent]:
        """The events of astream(), before listeners see them."""
        original = as_messages(messages_or_prompt)
        ctx = _context_for(context, original)
        name, llm = self.providers[0]
        streamer = getattr(llm, "astream", None)
        if not callable(streamer):
            for event in _result_events(await self.arun(original, ctx, **llm_params)):
                yield event
            return
        validator = StreamValidator(self.engine, ctx)
        received: list[str] = []
        t0 = time.perf_counter()
        error: Exception | None = None
        deltas: Any = None
        deadline = None if self.budget.max_seconds is None else t0 + self.budget.max_seconds
        try:
            deltas = streamer(original, **self._stream_params(llm, llm_params))
            while True:
                try:
                    delta = await _next_delta(deltas, deadline, self.budget.max_seconds)
                except StopAsyncIteration:
                    break
                received.append(delta)
                for event in validator.feed(delta):
                    yield event
                if validator.halted:
                    break
        except Exception as exc:
            error = exc
        finally:
            aclose = getattr(deltas, "aclose", None)
            if aclose is not None:
                await aclose()
        latency = (time.perf_counter() - t0) * 1000
        seed, events = self._after_stream(
            validator, received=received, error=error, name=name, timing=_Seed(None, None, latency, t0), deltas=deltas
        )
        for event in events:
            yield event
        if seed is not None:
            for event in _result_events(await self._adrive(self._plan(original, ctx, llm_params, seed=seed))):
                yield event

    def _after_stream(
        self,
        validator: StreamValidator,
        *,
        received: list[str],
        error: Exception | None,
        name: str,
        timing: _Seed,
        deltas: Any,
    ) -> tuple[_Seed | None, list[StreamEvent]]:
        """Events that close the streamed attempt, and the seed for a regeneration when one is needed."""
        if error is not None:
            log.warning("guard: provider %s failed mid-stream: %s", name, self._loggable(error))
            events = []
            if validator.released:
                events.append(validator.retract_all(f"provider {name} failed mid-stream: {_describe(error)}"))
            return dataclasses.replace(timing, value=error), events
        events = validator.finish()
        report = events[-1].report
        assert report is not None
        if report.verdict in _ACCEPTED:
            source: Source = "repaired" if report.verdict is Verdict.REPAIRED else "primary"
            events[-1] = events[-1].model_copy(update={"source": source})
            return None, events
        # Findings and the retract went out already; the final event comes from the regeneration.
        # Streaming clients that report usage afterwards (OpenAIChatClient's ChatStream) keep the accounting whole.
        usage = getattr(deltas, "usage", None)
        response = LLMResponse(
            text="".join(received),
            provider=name,
            usage=usage if isinstance(usage, Usage) else Usage(),
            model=getattr(getattr(deltas, "stats", None), "model", None),
        )
        return dataclasses.replace(timing, value=response, report=report), events[:-1]

    def _stream_params(self, llm: Any, params: dict[str, Any]) -> dict[str, Any]:
        out = self._call_params(params)
        if self.budget.max_seconds is not None and getattr(llm, "supports_timeout", False):
            out["timeout"] = self.budget.max_seconds
        return out

    def _call_params(self, params: dict[str, Any]) -> dict[str, Any]:
        out = dict(params)
        if self.temperature is not None:
            out.setdefault("temperature", self.temperature)
        return out

    # -- the decisions, shared by both drivers -------------------------------------------------------

    def _plan(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None,
        params: dict[str, Any],
        seed: _Seed | None = None,
    ) -> _Plan:
        original = as_messages(messages_or_prompt)
        ctx = _context_for(context, original)
        run_id = ctx.request_id or uuid.uuid4().hex[:16]
        meter = BudgetMeter(self.budget) if seed is None else BudgetMeter(self.budget, started=seed.started)
        call_params = self._call_params(params)
        attempts: list[Attempt] = []
        stop_reason: str | None = None
        for index, (name, llm) in enumerate(self.providers):
            # Each provider starts from the caller's own messages: its predecessor's failures are not its own.
            messages, fb_chars = original, 0
            for _ in range(self.budget.max_attempts):
                stop_reason = meter.exhausted()
                if stop_reason:
                    break
                number = len(attempts) + 1
                emit(self.listeners, AttemptStarted(run_id=run_id, number=number, provider=name, feedback=fb_chars > 0))
                if seed is not None:  # the first attempt already happened (a streamed answer)
                    value, latency = seed.value, seed.latency_ms
                else:
                    t0 = time.perf_counter()
                    value = yield _Call(name, llm, messages, call_params, meter.remaining_seconds())
                    latency = (time.perf_counter() - t0) * 1000
                prompt_chars = sum(len(m["content"]) for m in messages)
                response: LLMResponse | None = None
                if not isinstance(value, BaseException):
                    try:
                        response = coerce_response(value, name)
                    except TypeError as exc:
                        value = exc
                if response is None:
                    error = _describe(value)
                    log.warning("guard %s: provider %s failed: %s", run_id, name, self._loggable(value))
                    attempt = Attempt(
                        provider=name, latency_ms=latency, error=error, number=number, prompt_chars=prompt_chars,
                        feedback_chars=fb_chars, error_detail=getattr(value, "detail", None),
                    )  # fmt: skip
                    attempts.append(attempt)
                    emit(self.listeners, AttemptFinished(run_id=run_id, attempt=attempt))
                    stop_reason = f"provider {name} failed: {error}"
                    seed = None
                    break  # a failing provider is abandoned for the next one
                meter.spend(response.usage)
                t1 = time.perf_counter()
                if seed is not None and seed.report is not None:
                    report: Report = seed.report
                else:
                    report = yield _Validate(response.text, ctx)
                seed = None
                attempt = Attempt(
                    provider=name,
                    latency_ms=latency,
                    usage=response.usage,
                    verdict=report.verdict,
                    number=number,
                    validate_ms=(time.perf_counter() - t1) * 1000,
                    prompt_chars=prompt_chars,
                    feedback_chars=fb_chars,
                    model=response.model,
                )
                attempts.append(attempt)
                for timing in report.timings:
                    emit(
                        self.listeners,
                        CheckTimed(
                            run_id=run_id, number=number, rule_id=timing.rule_id, check=timing.check, ms=timing.ms
                        ),
                    )
                emit(self.listeners, AttemptFinished(run_id=run_id, attempt=attempt))
                if report.verdict in _ACCEPTED:
                    source: Source = (
                        "repaired" if report.verdict is Verdict.REPAIRED else "primary" if index == 0 else "fallback"
                    )
                    return self._finish(
                        run_id=run_id, meter=meter, output=report.output, report=report, attempts=attempts,
                        source=source, provider=name, reason=None,
                    )  # fmt: skip
                messages, fb_chars = feedback_messages(original, response.text, report, self.feedback)
                stop_reason = f"provider {name}: verdict {report.verdict} after {self.budget.max_attempts} attempt(s)"
            if meter.exhausted():
                stop_reason = meter.exhausted()
                break
        text = self._last_resort_text(original, attempts)
        # Validated for an honest Report, delivered whatever its verdict: the text is the operator's (argument or
        # policy), checked when it is written, and a refused last resort would leave nothing to deliver.
        report = yield _Validate(text, ctx)
        return self._finish(
            run_id=run_id, meter=meter, output=text, report=report, attempts=attempts, source="last_resort",
            provider=None, reason=stop_reason,
        )  # fmt: skip

    def _loggable(self, error: object) -> str:
        """A provider failure for the log: what failed, and what the provider sent only with `log_content`."""
        if self.log_content:
            detail = getattr(error, "detail", None)
            return _describe(error) + (f" [provider sent: {detail!r}]" if detail else "")
        if isinstance(error, LLMError | TimeoutError):
            # LLMError messages never quote the provider (that is `detail`); the Guard writes its timeouts' own.
            return _describe(error)
        # Any other exception's text may quote what it was handed: its type, and no more.
        return type(error).__name__

    def _last_resort_text(self, original: list[Message], attempts: list[Attempt]) -> str:
        if isinstance(self.last_resort, str):
            return self.last_resort
        try:
            return str(self.last_resort(original, list(attempts)))
        except Exception:
            log.exception("guard: last_resort callable failed; using the policy's (or the built-in) answer")
            return self._policy_last_resort

    def _finish(
        self,
        *,
        run_id: str,
        meter: BudgetMeter,
        output: str,
        report: Report,
        attempts: list[Attempt],
        source: Source,
        provider: str | None,
        reason: str | None,
    ) -> GuardResult:
        usage = sum((a.usage for a in attempts), Usage())
        elapsed = meter.elapsed() * 1000
        emit(
            self.listeners,
            RunFinished(
                run_id=run_id, source=source, verdict=report.verdict, provider=provider, attempts=len(attempts),
                usage=usage, elapsed_ms=elapsed, reason=reason,
            ),
        )  # fmt: skip
        return GuardResult(
            output=output,
            report=report,
            attempts=attempts,
            usage=usage,
            source=source,
            provider=provider,
            reason=reason,
            elapsed_ms=elapsed,
        )


def _result_events(result: GuardResult) -> Iterator[StreamEvent]:
    """A finished GuardResult as stream events: its whole output as one text event, then `final`."""
    if result.output:
        yield StreamEvent(type="text", text=result.output, offset=0)
    yield StreamEvent(type="final", report=result.report, offset=len(result.output), source=result.source)


def _describe(error: object) -> str:
    if isinstance(error, BaseException):
        text = str(error) or type(error).__name__
        return f"{type(error).__name__}: {text[:300]}"
    return repr(error)[:300]


async def _next_delta(deltas: Any, deadline: float | None, budget: float | None) -> Any:
    """The next delta; LLMBudgetError once the run's time budget is spent, whatever the stream is doing."""
    if deadline is None:
        return await anext(deltas)
    left = deadline - time.perf_counter()
    if left <= 0:
        raise LLMBudgetError(f"stream cut off: the time budget of {budget:g} s ran out")
    try:
        return await asyncio.wait_for(anext(deltas), timeout=left)
    except TimeoutError as exc:
        raise LLMBudgetError(f"stream cut off: the time budget of {budget:g} s ran out") from exc


def _close(awaitable: object) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()


async def _acall(step: _Call) -> Any:
    llm = step.llm
    acomplete = getattr(llm, "acomplete", None)
    if callable(acomplete):
        pending: Any = acomplete(step.messages, **step.params)
    elif inspect.iscoroutinefunction(llm) or inspect.iscoroutinefunction(getattr(llm, "__call__", None)):  # noqa: B004
        pending = llm(step.messages, **step.params)
    else:
        pending = asyncio.to_thread(llm, step.messages, **step.params)
    if step.timeout is not None:
        try:
            pending = await asyncio.wait_for(pending, timeout=step.timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"call cancelled: the run's time budget ran out after {step.timeout:.3f} s") from exc
    else:
        pending = await pending
    # A plain function may still hand back a coroutine (a lambda around an async client).
    return await pending if inspect.isawaitable(pending) else pending
