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
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from guardrails.context import Context
from guardrails.engine import Engine
from guardrails.findings import Action, Finding, FindingStatus, Report, Verdict
from guardrails.guard.budget import Budget, BudgetMeter, Usage
from guardrails.guard.events import AttemptFinished, AttemptStarted, CheckTimed, Listener, RunFinished, emit
from guardrails.guard.feedback import FeedbackSettings
from guardrails.guard.llm import (
    LLMBudgetError,
    LLMError,
    LLMResponse,
    Message,
    coerce_response,
    content_text,
    provider_name,
)
from guardrails.guard.result import Attempt, GuardResult, Source
from guardrails.guard.review import OnReview, review_async, review_sync
from guardrails.guard.stream import StreamEvent, StreamValidator
from guardrails.guard.structured import (
    ToolCallCheck,
    answer_calls,
    call_parts,
    custom_tools,
    delivered_message,
    is_custom,
    output_context,
    regeneration_messages,
    tool_schemas,
)
from guardrails.telemetry import PriceTable, guard_trace

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


@dataclass(frozen=True, slots=True)
class _Answer:
    """One provider answer and what was decided about it: its text's Report and each tool call's check."""

    response: LLMResponse
    report: Report
    checks: list[ToolCallCheck]


_Step = _Call | _Validate
_Plan = Generator[_Step, Any, GuardResult]


Release = Literal["cleared", "final"]


def as_messages(messages_or_prompt: str | Sequence[Message]) -> list[Message]:
    """A prompt string becomes one user message; a message list is checked for the shapes the Chat Completions
    API takes: a string `role`, and `content` as a string, a list of parts, or null (an assistant message with
    `tool_calls`). Every other key is kept as given."""
    if isinstance(messages_or_prompt, str):
        return [{"role": "user", "content": messages_or_prompt}]
    out: list[Message] = []
    for i, m in enumerate(messages_or_prompt):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ValueError(f"messages[{i}] must be a dict with a string 'role', got {m!r:.80}")
        content = m.get("content")
        if content is None and m["role"] != "assistant":
            raise ValueError(f"messages[{i}] ({m['role']}) needs 'content' (only an assistant message may omit it)")
        if not (content is None or isinstance(content, str | list)):
            raise ValueError(f"messages[{i}].content must be a string, a list of parts or null, got {content!r:.80}")
        out.append(dict(m))
    if not out:
        raise ValueError("messages must not be empty")
    return out


def _context_for(context: Context | dict[str, Any] | None, messages: list[Message]) -> Context:
    """The caller's context, with prompt and system prompt taken from the messages when it has none."""
    ctx = Context.coerce(context)
    update: dict[str, Any] = {}
    if ctx.prompt is None:
        users = [content_text(m.get("content")) for m in messages if m["role"] == "user"]
        if users:
            update["prompt"] = users[-1]
    if ctx.system_prompt is None:
        systems = [content_text(m.get("content")) for m in messages if m["role"] in ("system", "developer")]
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
    exception. The first call to each provider sends the caller's parameters as given; regenerations use
    `temperature` (default: the policy's `regeneration.temperature`, 0: retries are deterministic; None: the
    caller's own parameters again).

    `run(..., response_format=...)` makes the JSON checks use that schema; `tools=[...]` has each tool call's
    arguments validated against its tool's `parameters` (guardrails.guard.structured).

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
        temperature: float | Literal["policy"] | None = "policy",
        listeners: Sequence[Listener] = (),
        feedback: FeedbackSettings | None = None,
        log_content: bool = False,
        prices: PriceTable | None = None,
        on_review: OnReview | None = None,
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
        self.temperature: float | None = regen.temperature if isinstance(temperature, str) else temperature
        self.listeners = tuple(listeners)
        self.feedback = feedback or FeedbackSettings()
        self.log_content = log_content
        self.prices = prices
        self.on_review = on_review
        # A refusal the model declares in the API's `refusal` field is not one hiding in an answer: the rules
        # that look for those (the bundled `refusals` pack) have nothing to say about it (see _declared_refusal).
        self._refusal_rules = frozenset(r.rule.id for r in engine.rules if r.pack == "refusals")
        """Decides `review` verdicts before delivery (guardrails.guard.review); None: delivered as before."""
        """What tokens cost (guardrails.telemetry.PriceTable): each attempt's and the run's `cost` come from it."""
        """Log what a provider sent with its failure (error bodies, bad stream events): off, since the model's
        text and PII ride in them. The failure itself (provider, type, status) is always logged."""

    # -- drivers ------------------------------------------------------------------------------------

    def run(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        *,
        upstream_params: Mapping[str, Any] | None = None,
        **llm_params: Any,
    ) -> GuardResult:
        """Generate, validate, regenerate and fall back synchronously. Never raises for provider failures.

        The request's fields for the LLM (`temperature`, `tools`, `response_format`...) come as keyword arguments
        or as one mapping, `upstream_params`, whose keys are never read as this method's own arguments (a field
        named `context` or `timeout` is the upstream's); with both, the mapping's win. A client that sets
        `supports_upstream_params = True` (OpenAIChatClient) is handed them as that one mapping too."""
        params = _upstream_fields(llm_params, upstream_params)
        result = self._drive(self._plan(messages_or_prompt, context, params))
        return review_sync(result, self.on_review, self._policy_last_resort)

    def _drive(self, plan: _Plan, trace: Any = None) -> GuardResult:
        """Drive `plan`; its spans go to `trace` when a streamed run began one (and end with the run)."""
        value: Any = None
        trace = guard_trace(self.engine.policy.name) if trace is None else trace
        try:
            step = next(plan)
            while True:
                if isinstance(step, _Call):
                    trace.attempt(step.provider)
                    try:
                        value = step.llm(step.messages, **_call_kwargs(step.llm, step.params, step.timeout))
                        if inspect.isawaitable(value):
                            _close(value)
                            value = TypeError("an async LLM needs Guard.arun, not Guard.run")
                    except Exception as exc:
                        value = exc
                    trace.called()
                else:
                    value = self.engine.validate(step.text, step.context)
                step = plan.send(value)
        except StopIteration as stop:
            result: GuardResult = stop.value
            trace.finish(result)
            return result
        finally:
            trace.close()

    async def arun(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        *,
        upstream_params: Mapping[str, Any] | None = None,
        **llm_params: Any,
    ) -> GuardResult:
        """Like run(), for async (or sync, run in a thread) LLMs; the time budget cancels a call in flight."""
        params = _upstream_fields(llm_params, upstream_params)
        result = await self._adrive(self._plan(messages_or_prompt, context, params))
        return await review_async(result, self.on_review, self._policy_last_resort)

    async def arun_choices(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        *,
        upstream_params: Mapping[str, Any] | None = None,
        **llm_params: Any,
    ) -> list[GuardResult]:
        """arun() for `n > 1`: one call asks the primary for every choice (`n` sent as given), then each choice
        is judged on its own and, when it fails, regenerated alone (`n` left out of its later calls) within its
        own budget, concurrently. Choice 0's result carries the first call's usage. Without `n > 1`: [arun()]."""
        llm_params = _upstream_fields(llm_params, upstream_params)
        n = llm_params.get("n")
        if not isinstance(n, int) or n <= 1:
            return [await self.arun(messages_or_prompt, context, upstream_params=llm_params)]
        original = as_messages(messages_or_prompt)
        ctx = _context_for(context, original)
        name, llm = self.providers[0]
        t0 = time.perf_counter()
        value: Any
        try:
            value = await _acall(_Call(name, llm, original, llm_params, self.budget.max_seconds))
            response = coerce_response(value, name)
            values: list[Any] = [response.model_copy(update={"alternatives": []})]
            values += [alt.model_copy(update={"usage": Usage()}) for alt in response.alternatives[: n - 1]]
        except Exception as exc:
            values = [exc] * n  # every choice goes on to the fallbacks
        latency = (time.perf_counter() - t0) * 1000
        single = {k: v for k, v in llm_params.items() if k != "n"}
        plans = [self._adrive(self._plan(original, ctx, single, seed=_Seed(v, None, latency, t0))) for v in values]
        results = await asyncio.gather(*plans)
        return [await review_async(r, self.on_review, self._policy_last_resort) for r in results]

    async def _adrive(self, plan: _Plan, trace: Any = None) -> GuardResult:
        """Drive `plan` with asyncio; its spans go to `trace` when a streamed run began one (and ends it)."""
        value: Any = None
        trace = guard_trace(self.engine.policy.name) if trace is None else trace
        try:
            step = next(plan)
            while True:
                if isinstance(step, _Call):
                    trace.attempt(step.provider)
                    try:
                        value = await _acall(step)
                    except Exception as exc:
                        value = exc
                    trace.called()
                else:
                    value = await self.engine.avalidate(step.text, step.context)
                step = plan.send(value)
        except StopIteration as stop:
            result: GuardResult = stop.value
            trace.finish(result)
            return result
        finally:
            trace.close()

    # -- streaming ------------------------------------------------------------------------------------

    def stream(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        *,
        release: Release = "cleared",
        upstream_params: Mapping[str, Any] | None = None,
        **llm_params: Any,
    ) -> Iterator[StreamEvent]:
        """Stream the primary's answer through a StreamValidator; regenerate (not streamed) when it fails.

        Yields the validator's events. When the streamed answer needs a regeneration or the provider fails
        mid-stream, the consumer first gets the findings and a `retract` for anything released, then the
        regular regeneration / fallback / last-resort loop runs (the streamed answer counts as attempt 1) and
        its answer arrives as one `text` event and a `final` event whose `source` says where it came from and
        whose `result` is the whole run (usage summed over attempts, the delivered message with its checked
        tool calls). `release="final"` holds every text event back: the delivered answer arrives as one `text`
        event just before `final` (findings still come as they are found, and no `retract` is ever needed).
        `release` is the Guard's own option: it is never sent to the LLM (a field of that name for the LLM goes in
        `upstream_params`). Other arguments as run().

        What a streaming LLM object implements (anything else is run with run() and delivered the same way):
        `stream(messages, **params) -> Iterable[str]`, the content deltas in order. Optional: accepting
        `timeout=` (seconds left in the run's budget) when it sets `supports_timeout = True`; taking the request's
        fields as one mapping, `upstream_params=`, when it sets `supports_upstream_params = True`; a `close()` on the
        iterable (called when the Guard stops reading early); and, read after the last delta, `.usage` (a
        `Usage`), `.stats.model`, and `.stats.message(text)` (the assistant message with its `tool_calls`) on the
        iterable, as OpenAIChatClient's ChatStream has.
        """
        params = _upstream_fields(llm_params, upstream_params)
        for event in self._held(self._stream(messages_or_prompt, context, params), release):
            emit(self.listeners, event)
            yield event

    async def astream(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None = None,
        *,
        release: Release = "cleared",
        upstream_params: Mapping[str, Any] | None = None,
        **llm_params: Any,
    ) -> AsyncIterator[StreamEvent]:
        """stream() for asyncio. A streaming LLM object implements `astream(messages, **params)` returning an
        async iterable of content deltas (with the same optional parts as stream(): `timeout=`, `aclose()`,
        `.usage`, `.stats`); one with only a sync `stream()` is read in a worker thread, a delta at a time;
        others go through arun()."""
        held = release == "final"
        pending: list[StreamEvent] = []
        params = _upstream_fields(llm_params, upstream_params)
        async for event in self._astream(messages_or_prompt, context, params):
            for out in _hold(event, held, pending):
                emit(self.listeners, out)
                yield out

    def _held(self, events: Iterator[StreamEvent], release: Release) -> Iterator[StreamEvent]:
        held = release == "final"
        pending: list[StreamEvent] = []
        for event in events:
            yield from _hold(event, held, pending)

    def _stream(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None,
        llm_params: dict[str, Any],
    ) -> Iterator[StreamEvent]:
        """The events of stream(), before listeners see them."""
        original = as_messages(messages_or_prompt)
        ctx = _context_for(context, original)
        name, llm = self.providers[0]
        streamer = getattr(llm, "stream", None)
        if not callable(streamer):
            yield from _result_events(self.run(original, ctx, upstream_params=llm_params))
            return
        validator = StreamValidator(self.engine, output_context(ctx, llm_params))
        received: list[str] = []
        t0 = time.perf_counter()
        error: Exception | None = None
        deltas: Any = None
        # The streamed answer is attempt 1; never the current span (a generator: its consumer owns the context).
        trace = guard_trace(self.engine.policy.name)
        trace.attempt(name, current=False)
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
        trace.called()
        with trace.current():  # the final validation of the streamed answer goes under its attempt
            timing = _Seed(None, None, latency, t0)
            seed, events = self._after_stream(
                validator, received=received, error=error, name=name, timing=timing, deltas=deltas
            )
        yield from events
        if seed is not None:
            shown = validator.released if seed.report is not None and seed.report.verdict in _ACCEPTED else ""
            yield from _result_events(self._drive(self._plan(original, ctx, llm_params, seed=seed), trace), shown)
        else:
            trace.close()

    async def _astream(
        self,
        messages_or_prompt: str | Sequence[Message],
        context: Context | dict[str, Any] | None,
        llm_params: dict[str, Any],
    ) -> AsyncIterator[StreamEvent]:
        """The events of astream(), before listeners see them."""
        original = as_messages(messages_or_prompt)
        ctx = _context_for(context, original)
        name, llm = self.providers[0]
        streamer = getattr(llm, "astream", None)
        sync_streamer = getattr(llm, "stream", None)
        if not callable(streamer) and not callable(sync_streamer):
            for event in _result_events(await self.arun(original, ctx, upstream_params=llm_params)):
                yield event
            return
        validator = StreamValidator(self.engine, output_context(ctx, llm_params))
        received: list[str] = []
        t0 = time.perf_counter()
        error: Exception | None = None
        deltas: Any = None
        deadline = None if self.budget.max_seconds is None else t0 + self.budget.max_seconds
        trace = guard_trace(self.engine.policy.name)
        trace.attempt(name, current=False)
        try:
            if callable(streamer):
                deltas = streamer(original, **self._stream_params(llm, llm_params))
            else:
                # A sync iterator, read in a worker thread so the event loop (and the time budget) keeps going.
                start: Callable[..., Any] = sync_streamer  # type: ignore[assignment]  # callable, checked above
                deltas = _ThreadedDeltas(
                    await asyncio.to_thread(start, original, **self._stream_params(llm, llm_params))
                )
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
        if isinstance(deltas, _ThreadedDeltas):
            deltas = deltas.inner
        trace.called()
        with trace.current():  # the final validation of the streamed answer goes under its attempt
            timing = _Seed(None, None, latency, t0)
            seed, events = self._after_stream(
                validator, received=received, error=error, name=name, timing=timing, deltas=deltas
            )
        for event in events:
            yield event
        if seed is not None:
            shown = validator.released if seed.report is not None and seed.report.verdict in _ACCEPTED else ""
            result = await self._adrive(self._plan(original, ctx, llm_params, seed=seed), trace)
            for event in _result_events(result, shown):
                yield event
        else:
            trace.close()

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
        """Events that close the streamed attempt, and the seed for the plan when it must go on (a regeneration,
        or tool calls to check before anything of them is released)."""
        if error is not None:
            log.warning("guard: provider %s failed mid-stream: %s", name, self._loggable(error))
            events = []
            if validator.released:
                events.append(validator.retract_all(f"provider {name} failed mid-stream: {_describe(error)}"))
            return dataclasses.replace(timing, value=error), events
        events = validator.finish()
        report = events[-1].report
        assert report is not None
        # Streaming clients that report usage afterwards (OpenAIChatClient's ChatStream) keep the accounting whole.
        usage = getattr(deltas, "usage", None)
        stats = getattr(deltas, "stats", None)
        text = "".join(received)
        message_of = getattr(stats, "message", None)
        message = message_of(text) if callable(message_of) else None
        response = LLMResponse(
            text=text,
            provider=name,
            usage=usage if isinstance(usage, Usage) else Usage(),
            model=getattr(stats, "model", None),
            message=message if isinstance(message, dict) else None,
            finish_reason=getattr(stats, "finish_reason", None),
        )
        # The final event comes from the plan, which checks the tool calls or regenerates; the findings and the
        # retract (a rejected answer) went out already.
        return dataclasses.replace(timing, value=response, report=report), events[:-1]

    def _stream_params(self, llm: Any, params: dict[str, Any]) -> dict[str, Any]:
        # The streamed answer is a first attempt: the caller's parameters as given.
        return _call_kwargs(llm, params, self.budget.max_seconds)

    def _retry_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """What a regeneration sends: the caller's parameters, with the Guard's `temperature` when it has one."""
        out = dict(params)
        if self.temperature is not None:
            out["temperature"] = self.temperature
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
        out_ctx = output_context(ctx, params)
        tools, customs = tool_schemas(params), custom_tools(params)
        run_id = ctx.request_id or uuid.uuid4().hex[:16]
        meter = BudgetMeter(self.budget) if seed is None else BudgetMeter(self.budget, started=seed.started)
        retry_params = self._retry_params(params)
        attempts: list[Attempt] = []
        rejected: _Answer | None = None
        stop_reason: str | None = None
        for index, (name, llm) in enumerate(self.providers):
            # Each provider starts from the caller's own messages: its predecessor's failures are not its own.
            messages, fb_chars = original, 0
            for _ in range(self.budget.max_attempts):
                stop_reason = meter.exhausted()
                if stop_reason and seed is None:  # a streamed answer already arrived: it is judged, not dropped
                    break
                number = len(attempts) + 1
                emit(self.listeners, AttemptStarted(run_id=run_id, number=number, provider=name, feedback=fb_chars > 0))
                if seed is not None:  # the first attempt already happened (a streamed answer)
                    value, latency = seed.value, seed.latency_ms
                else:
                    t0 = time.perf_counter()
                    call_params = retry_params if fb_chars else params
                    value = yield _Call(name, llm, messages, call_params, meter.remaining_seconds())
                    latency = (time.perf_counter() - t0) * 1000
                prompt_chars = sum(len(content_text(m.get("content"))) for m in messages)
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
                        error_status=getattr(value, "status", None), error_timeout=_timed_out(value),
                    )  # fmt: skip
                    attempts.append(attempt)
                    emit(self.listeners, AttemptFinished(run_id=run_id, attempt=attempt))
                    stop_reason = f"provider {name} failed: {error}"
                    seed = None
                    break  # a failing provider is abandoned for the next one
                meter.spend(response.usage)
                t1 = time.perf_counter()
                calls = answer_calls(response)
                if response.refusal is not None:
                    # Checked like any output (PII, secrets, leaks), as text: a refusal is not the JSON answer.
                    refused = yield _Validate(response.refusal, _text_context(ctx))
                    report = self._declared_refusal(refused)
                elif seed is not None and seed.report is not None:
                    report = seed.report
                else:
                    # An answer that is only tool calls has no JSON to check against response_format.
                    text_ctx = ctx if calls and not response.text else out_ctx
                    report = yield _Validate(response.text, text_ctx)
                seed = None
                checks = yield from _check_calls(calls, ctx, tools, customs)
                verdict = Verdict.strongest([report.verdict, *(c.verdict for c in checks)])
                attempt = Attempt(
                    provider=name,
                    latency_ms=latency,
                    usage=response.usage,
                    verdict=verdict,
                    number=number,
                    validate_ms=(time.perf_counter() - t1) * 1000,
                    prompt_chars=prompt_chars,
                    feedback_chars=fb_chars,
                    model=response.model,
                    cost=self._cost(name, response),
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
                answer = _Answer(response, report, checks)
                if verdict in _ACCEPTED:
                    repaired = verdict is Verdict.REPAIRED or any(c.verdict is Verdict.REPAIRED for c in checks)
                    source: Source = "repaired" if repaired else "primary" if index == 0 else "fallback"
                    return self._finish(
                        run_id=run_id, meter=meter, output=report.output, answer=answer, attempts=attempts,
                        source=source, provider=name, reason=None,
                    )  # fmt: skip
                rejected = answer
                messages, fb_chars = regeneration_messages(original, response, report, checks, self.feedback)
                stop_reason = f"provider {name}: verdict {verdict} after {self.budget.max_attempts} attempt(s)"
            if meter.exhausted():
                stop_reason = meter.exhausted()
                break
        text = self._last_resort_text(original, attempts)
        if rejected is None:
            # No provider answered: the report describes what arrived (nothing), never the degraded answer,
            # which is the operator's text (argument or policy), checked when it is written.
            rejected = _Answer(LLMResponse(text=""), (yield _Validate("", ctx)), [])
        return self._finish(
            run_id=run_id, meter=meter, output=text, answer=rejected, attempts=attempts, source="last_resort",
            provider=None, reason=stop_reason,
        )  # fmt: skip

    def _declared_refusal(self, report: Report) -> Report:
        """The report of a declared refusal's text: findings of the refusal-detecting rules suppressed (the API
        already says it is a refusal; regenerating it would pay for the same refusal again) and the verdict
        weighed without them. Every other finding stands: PII is redacted, a leak still blocks."""
        rules = self._refusal_rules

        def suppress(findings: list[Finding]) -> list[Finding]:
            return [
                f.model_copy(update={"status": FindingStatus.SUPPRESSED})
                if f.rule_id in rules and f.status is FindingStatus.OPEN
                else f
                for f in findings
            ]

        if not any(f.rule_id in rules for f in (*report.findings, *report.residual)):
            return report
        findings, residual = suppress(report.findings), suppress(report.residual)
        still_open = residual if report.edits else findings
        unrepaired = self.engine.policy.unrepaired_action
        verdicts = [Verdict.REPAIRED] if report.edits else []
        verdicts += [
            Verdict.for_action(unrepaired if f.action is Action.REPAIR else f.action)
            for f in still_open
            if f.status is FindingStatus.OPEN
        ]
        verdict = Verdict.strongest(verdicts)
        regeneration = report.regeneration
        if regeneration is not None:
            reasons = [r for r in regeneration.reasons if r.rule_id not in rules]
            regeneration = regeneration.model_copy(update={"reasons": reasons}) if reasons else None
        return report.model_copy(
            update={
                "findings": findings,
                "residual": residual,
                "verdict": verdict,
                "regeneration": regeneration if verdict is Verdict.REGENERATE else None,
            }
        )

    def _cost(self, provider: str, response: LLMResponse) -> float | None:
        if self.prices is None:
            return None
        u = response.usage
        return self.prices.cost(provider, response.model, u.prompt_tokens, u.completion_tokens)

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
        answer: _Answer,
        attempts: list[Attempt],
        source: Source,
        provider: str | None,
        reason: str | None,
    ) -> GuardResult:
        usage = sum((a.usage for a in attempts), Usage())
        unpriced = any(a.cost is None and a.usage.tokens for a in attempts)
        priced = [a.cost for a in attempts if a.cost is not None]
        cost = None if unpriced or self.prices is None else sum(priced, 0.0)
        elapsed = meter.elapsed() * 1000
        report = answer.report
        delivered = source != "last_resort"
        response = answer.response
        # Logprobs describe the tokens the provider sent: kept only when those are what is delivered, as they came.
        sent = response.refusal if response.refusal is not None else response.text
        logprobs = response.logprobs if delivered and output == sent else None
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
            message=delivered_message(answer.response, output, answer.checks) if delivered else None,
            tool_calls=answer.checks,
            finish_reason=answer.response.finish_reason if delivered else None,
            cost=cost,
            logprobs=logprobs,
            system_fingerprint=response.system_fingerprint if delivered else None,
            service_tier=response.service_tier if delivered else None,
        )


def _result_events(result: GuardResult, shown: str = "") -> Iterator[StreamEvent]:
    """A finished GuardResult as stream events: its output as one text event (less what the consumer holds
    already: `shown`, the streamed answer when it was accepted as it was), then `final`. A declared refusal is
    no text: it is in `final`'s result (`message.refusal`), and what was shown is withdrawn."""
    text = _delivered_text(result)
    if text and text.startswith(shown):
        if len(text) > len(shown):
            yield StreamEvent(type="text", text=text[len(shown) :], offset=len(shown))
    elif text:
        if shown:
            yield StreamEvent(type="retract", offset=0, reason="replaced by the checked answer")
        yield StreamEvent(type="text", text=text, offset=0)
    elif shown:
        yield StreamEvent(type="retract", offset=0, reason="replaced by the checked answer")
    yield StreamEvent(type="final", report=result.report, offset=len(text), source=result.source, result=result)


def _delivered_text(result: GuardResult) -> str:
    """The text a stream delivers: the output, unless it is a declared refusal (delivered as `refusal`)."""
    message = result.message or {}
    return "" if message.get("refusal") is not None and message.get("content") is None else result.output


def _hold(event: StreamEvent, held: bool, pending: list[StreamEvent]) -> list[StreamEvent]:
    """Release mode `final`: text and retracts are dropped, the delivered answer goes out whole before `final`."""
    if not held:
        return [event]
    if event.type in ("text", "retract"):
        return []
    if event.type != "final":
        return [event]
    output = (
        _delivered_text(event.result) if event.result is not None else (event.report.output if event.report else "")
    )
    out = [StreamEvent(type="text", text=output, offset=0)] if output else []
    return [*out, event]


class _ThreadedDeltas:
    """A sync delta iterator read from asyncio: each `next()` runs in a worker thread."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._it = iter(inner)

    def __aiter__(self) -> _ThreadedDeltas:
        return self

    async def __anext__(self) -> Any:
        value = await asyncio.to_thread(next, self._it, _END)
        if value is _END:
            raise StopAsyncIteration
        return value

    async def aclose(self) -> None:
        await asyncio.to_thread(_close, self.inner)


_END = object()


def _upstream_fields(llm_params: dict[str, Any], upstream_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request's fields for the LLM: keyword ones, then the explicit mapping's (which win)."""
    return {**llm_params, **upstream_params} if upstream_params else llm_params


def _call_kwargs(llm: Any, params: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    """How `llm` is handed the request's fields and the time left: as one mapping when it takes one (so no field
    can be read as its own `timeout`), else as keyword arguments, as a plain callable `(messages, **params)` takes
    them; `timeout=` only to a client that says it accepts it."""
    if getattr(llm, "supports_upstream_params", False):
        kwargs: dict[str, Any] = {"upstream_params": dict(params)}
    else:
        kwargs = dict(params)
    if timeout is not None and getattr(llm, "supports_timeout", False):
        kwargs["timeout"] = timeout
    return kwargs


def _check_calls(
    calls: list[dict[str, Any]], ctx: Context, tools: dict[str, dict[str, Any]], customs: set[str]
) -> Generator[_Step, Any, list[ToolCallCheck]]:
    """Each call's check: a function's arguments against its `parameters`, a custom tool's input as text; a
    call to a tool not offered gets no report (always a regeneration)."""
    checks: list[ToolCallCheck] = []
    for i, call in enumerate(calls):
        call_id, fn_name, args = call_parts(call)
        report: Report | None = None
        if is_custom(call):
            if fn_name in customs:
                report = yield _Validate(args, _text_context(ctx))
        elif (schema := tools.get(fn_name)) is not None:
            report = yield _Validate(args, _tool_context(ctx, schema))
        checks.append(ToolCallCheck(index=i, id=call_id, name=fn_name, report=report))
    return checks


def _text_context(ctx: Context) -> Context:
    """The caller's context for text that is not the structured answer (a refusal, a custom tool's input)."""
    return ctx.model_copy(update={"schema_": None, "template": None})


def _tool_context(ctx: Context, schema: dict[str, Any]) -> Context:
    """The caller's context for a tool call's arguments: the tool's schema, and no HTML template."""
    return ctx.model_copy(update={"schema_": schema, "template": None})


def _timed_out(error: object) -> bool:
    """Whether a failed call ran out of time (the provider's timeout or the run's budget), for the gateway code."""
    return isinstance(error, TimeoutError | LLMBudgetError) or bool(getattr(error, "timeout", False))


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
    # No `timeout=` here: the call is cancelled at the budget's end instead (wait_for below).
    kwargs = _call_kwargs(llm, step.params, None)
    acomplete = getattr(llm, "acomplete", None)
    if callable(acomplete):
        pending: Any = acomplete(step.messages, **kwargs)
    elif inspect.iscoroutinefunction(llm) or inspect.iscoroutinefunction(getattr(llm, "__call__", None)):  # noqa: B004
        pending = llm(step.messages, **kwargs)
    else:
        pending = asyncio.to_thread(llm, step.messages, **kwargs)
    if step.timeout is not None:
        try:
            pending = await asyncio.wait_for(pending, timeout=step.timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"call cancelled: the run's time budget ran out after {step.timeout:.3f} s") from exc
    else:
        pending = await pending
    # A plain function may still hand back a coroutine (a lambda around an async client).
    return await pending if inspect.isawaitable(pending) else pending
