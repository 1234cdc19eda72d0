"""What a guarded run returns: the delivered output, its Report, every attempt and the tokens spent."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guardrails.findings import Report, Verdict
from guardrails.guard.budget import Usage
from guardrails.guard.review import Review
from guardrails.guard.structured import ToolCallCheck

Source = Literal["primary", "fallback", "repaired", "last_resort"]


class Attempt(BaseModel):
    """One LLM call and its validation. `verdict` is None when the call itself failed (see `error`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    latency_ms: float = Field(description="Wall time of the LLM call alone")
    usage: Usage = Usage()
    verdict: Verdict | None = None
    error: str | None = None
    error_detail: str | None = None
    """What the provider sent with its failure (an error body, a bad stream event): it can quote the model's text
    and PII, so it stays in process; logs carry it only with `log_content`."""
    error_status: int | None = Field(default=None, description="The provider's HTTP status, when it answered one")
    error_timeout: bool = Field(default=False, description="The call failed because time ran out")
    number: int = Field(default=1, description="1-based position among all attempts of the run")
    validate_ms: float = Field(default=0.0, description="Wall time of validating this attempt's output")
    prompt_chars: int = Field(default=0, description="Characters of the messages sent (original + feedback)")
    feedback_chars: int = Field(default=0, description="Characters of the feedback messages alone (0 on a first try)")
    model: str | None = None
    cost: float | None = Field(
        default=None, description="Estimated cost of the call in the price table's currency (None: no price known)"
    )


class GuardResult(BaseModel):
    """The answer a user sees and how it came to be.

    `source`: `primary` (the first provider's output passed as is), `fallback` (a fallback provider's output
    passed as is), `repaired` (the engine repaired an output without another call; see `provider`),
    `last_resort` (every provider failed or the budget ran out: the configured degraded answer).

    `report` describes the answer that was delivered, or, for a last resort, the last answer rejected (the
    empty answer when no provider answered at all: see `outage`), never the degraded text itself.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: str
    report: Report
    attempts: list[Attempt]
    usage: Usage
    source: Source
    provider: str | None = Field(default=None, description="Provider whose output was delivered (None: last resort)")
    reason: str | None = Field(default=None, description="Why the last resort was used")
    elapsed_ms: float = 0.0
    message: dict[str, Any] | None = Field(
        default=None, description="The delivered assistant message when it carries tool calls (arguments checked)"
    )
    tool_calls: list[ToolCallCheck] = Field(default_factory=list, description="Each tool call's check, in order")
    finish_reason: str | None = Field(default=None, description="The provider's, for the delivered answer")
    logprobs: dict[str, Any] | None = Field(
        default=None,
        description="The delivered attempt's `logprobs`, only when the output is that attempt's text as it came "
        "(after a repair they would describe tokens nobody is shown: None)",
    )
    system_fingerprint: str | None = Field(default=None, description="The delivered attempt's, as its provider said")
    service_tier: str | None = Field(default=None, description="The delivered attempt's, as its provider said")
    cost: float | None = Field(
        default=None,
        description="Estimated cost of every attempt, in the price table's currency; None when an attempt used tokens "
        "at no known price (or the Guard has no price table), so a partial sum never reads as the whole",
    )
    held: bool = Field(
        default=False,
        description="A `review` verdict nobody has decided yet (Guard(on_review=) returned None): no "
        "output; deliver it later by `review_id`",
    )
    review_id: str | None = Field(default=None, description="The held answer's id (when `on_review` was asked)")
    review: Review | None = Field(default=None, description="The reviewer's decision, when one was made")

    @property
    def degraded(self) -> bool:
        return self.source == "last_resort"

    @property
    def outage(self) -> bool:
        """The last resort was delivered because no provider answered at all (every attempt failed)."""
        return self.degraded and bool(self.attempts) and all(a.verdict is None for a in self.attempts)
