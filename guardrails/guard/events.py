"""Observability: typed events a Guard and a StreamValidator deliver to listener callables.

A listener is any `Callable[[GuardEvent], None]`. Listeners run inline, so they must be quick (count,
log, observe a histogram); an exception in a listener is logged and swallowed, never breaking a run.
The sidecar's Prometheus metrics and request logs are built on these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, Union

from pydantic import BaseModel, ConfigDict

from guardrails.findings import Verdict
from guardrails.guard.budget import Usage
from guardrails.guard.result import Attempt, Source

if TYPE_CHECKING:
    from guardrails.guard.stream import StreamEvent

log = logging.getLogger("guardrails.guard")


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    run_id: str


class AttemptStarted(_Event):
    kind: Literal["attempt_started"] = "attempt_started"
    number: int
    provider: str
    feedback: bool
    """True when this attempt carries regeneration feedback."""


class AttemptFinished(_Event):
    kind: Literal["attempt_finished"] = "attempt_finished"
    attempt: Attempt


class CheckTimed(_Event):
    kind: Literal["check_timed"] = "check_timed"
    number: int
    rule_id: str
    check: str
    ms: float


class RunFinished(_Event):
    kind: Literal["run_finished"] = "run_finished"
    source: Source
    verdict: Verdict
    provider: str | None
    attempts: int
    usage: Usage
    elapsed_ms: float
    reason: str | None = None


GuardEvent = Union[AttemptStarted, AttemptFinished, CheckTimed, RunFinished, "StreamEvent"]
Listener = Callable[[GuardEvent], None]


def emit(listeners: Sequence[Listener], event: GuardEvent) -> None:
    """Deliver an event to every listener; a failing listener is logged, the others still run."""
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            log.exception("guard listener %r failed on %s", listener, type(event).__name__)
