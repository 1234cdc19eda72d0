"""What one guarded proxy run did, learnt from the Guard's events: attempts timed, tokens and cost counted, how the
answer came about."""

from __future__ import annotations

import time

from guardrails import Verdict
from guardrails.guard import AttemptFinished, GuardEvent, RunFinished
from service.metrics import Metrics


class RunRecorder:
    """A Guard listener for one run: counts events by type and observes each attempt's latency.

    Every run, streamed or not, ends with the Guard's `RunFinished` (a streamed answer is judged by the same
    plan, as its first attempt); `close()` still records a single attempt itself should a run end without one.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.finished: RunFinished | None = None
        self.failed_attempts = 0
        self.answered_attempts = 0
        self._started = time.perf_counter()

    def __call__(self, event: GuardEvent) -> None:
        kind = getattr(event, "kind", None) or getattr(event, "type", None)
        if kind:
            self.metrics.stream_events.labels(str(kind)).inc()
        if isinstance(event, AttemptFinished):
            a = event.attempt
            verdict = a.verdict.value if a.verdict is not None else "error"
            self.metrics.observe_attempt(a.provider, verdict, a.latency_ms / 1000.0)
            u = a.usage
            if u.prompt_tokens or u.completion_tokens:
                self.metrics.observe_usage(a.provider, a.model, u.prompt_tokens, u.completion_tokens, a.cost)
            if a.verdict is None:
                self.failed_attempts += 1
            else:
                self.answered_attempts += 1
        elif isinstance(event, RunFinished):
            self.finished = event

    @property
    def attempts(self) -> int:
        """Attempts made so far: the regeneration loop's count, or the one streamed attempt."""
        return self.finished.attempts if self.finished is not None else 1

    @property
    def replaced(self) -> bool:
        """True when the delivered answer is not the first attempt's own text (regenerated, fallback, last resort)."""
        f = self.finished
        return f is not None and (f.attempts > 1 or f.source in ("fallback", "last_resort"))

    @property
    def outage(self) -> bool:
        """The run ended in the last resort because no provider answered at all (GuardResult.outage)."""
        f = self.finished
        return f is not None and f.source == "last_resort" and self.failed_attempts > 0 and not self.answered_attempts

    def close(self, source: str, verdict: Verdict, provider: str) -> None:
        """The answer was delivered: count the run by source (and the streamed attempt, by `provider`, when it
        stood alone)."""
        if self.finished is None:
            seconds = time.perf_counter() - self._started
            self.metrics.observe_attempt(provider, verdict.value, seconds)
        self.metrics.count_run(source)
