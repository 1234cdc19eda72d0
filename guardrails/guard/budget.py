"""Budgets for a guarded run (attempts, tokens, seconds) and the token usage they are spent in."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class Usage(BaseModel):
    """Token usage as the provider reported it. Adding two usages sums every field (the details key by key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)
    prompt_tokens_details: dict[str, int] | None = None
    completion_tokens_details: dict[str, int] | None = None
    """OpenAI's breakdowns (`cached_tokens`, `reasoning_tokens`, ...), when the provider sent them."""

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            prompt_tokens_details=_add_details(self.prompt_tokens_details, other.prompt_tokens_details),
            completion_tokens_details=_add_details(self.completion_tokens_details, other.completion_tokens_details),
        )

    @model_serializer(mode="wrap")
    def _without_absent_details(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # A provider that sent no details gets none back: the three counts, as before details existed.
        data: dict[str, object] = handler(self)
        return {k: v for k, v in data.items() if v is not None or not k.endswith("_details")}

    @property
    def tokens(self) -> int:
        """Total tokens, from total_tokens or (when a provider leaves it out) prompt + completion."""
        return self.total_tokens or self.prompt_tokens + self.completion_tokens


def _add_details(a: dict[str, int] | None, b: dict[str, int] | None) -> dict[str, int] | None:
    if a is None or b is None:
        return a if b is None else b
    return {k: a.get(k, 0) + b.get(k, 0) for k in {**a, **b}}


@dataclass(frozen=True, slots=True)
class Budget:
    """How much a Guard may spend on one run.

    `max_attempts` counts LLM calls per provider (the primary and each fallback get their own);
    `max_tokens` and `max_seconds` cover the whole run, so once they are spent no provider is asked again
    and the last-resort answer is delivered.
    """

    max_attempts: int = 3
    max_tokens: int | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"Budget.max_attempts must be >= 1, got {self.max_attempts}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"Budget.max_tokens must be >= 1 or None, got {self.max_tokens}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"Budget.max_seconds must be > 0 or None, got {self.max_seconds}")


@dataclass(slots=True)
class BudgetMeter:
    """The run-wide part of a budget being spent: tokens used so far and the clock."""

    budget: Budget
    started: float = field(default_factory=time.perf_counter)
    usage: Usage = field(default_factory=Usage)

    def spend(self, usage: Usage) -> None:
        self.usage = self.usage + usage

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def remaining_seconds(self) -> float | None:
        if self.budget.max_seconds is None:
            return None
        return max(0.0, self.budget.max_seconds - self.elapsed())

    def exhausted(self) -> str | None:
        """Why no further call may be made, or None while tokens and seconds remain."""
        b = self.budget
        if b.max_tokens is not None and self.usage.tokens >= b.max_tokens:
            return f"token budget of {b.max_tokens} spent ({self.usage.tokens} used)"
        if b.max_seconds is not None and self.elapsed() >= b.max_seconds:
            return f"time budget of {b.max_seconds:g} s spent"
        return None
