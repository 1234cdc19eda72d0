"""Hold-for-review in the library: `Guard(on_review=...)`.

When a run's verdict is `review`, the Guard hands a `HeldAnswer` to `on_review` (a function or a coroutine
function) and delivers what it decides: `Review.approve()` the answer as checked, `Review.edit(text)` the
reviewer's text (recorded in `result.review`), `Review.reject(reason)` the refusal with that reason code. A callback
that returns None (no one decided yet) gets a result marked `held` with the answer's id and no output: the caller
delivers it later, e.g. from the sidecar's review queue, and must not show anything meanwhile.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guardrails.findings import Report

if TYPE_CHECKING:
    from guardrails.guard.result import GuardResult

DEFAULT_REFUSAL = "This answer was withheld after review."


class HeldAnswer(BaseModel):
    """What a reviewer decides on: the answer as the Guard would deliver it and the report that flagged it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(description="Names this held answer (the `review_id` of a result left held)")
    output: str
    report: Report
    message: dict[str, Any] | None = Field(default=None, description="The assistant message, with tool calls")


class Review(BaseModel):
    """A reviewer's decision. Use the constructors: `Review.approve()`, `Review.edit(text)`, `Review.reject(code)`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    decision: Literal["approve", "edit", "reject"]
    output: str | None = Field(default=None, description="The edited text (edit)")
    reason: str | None = Field(default=None, max_length=100, description="The reason code (reject)")
    original: str | None = Field(default=None, description="Filled by the Guard: the held text an edit replaced")

    @classmethod
    def approve(cls) -> Review:
        return cls(decision="approve")

    @classmethod
    def edit(cls, text: str) -> Review:
        return cls(decision="edit", output=text)

    @classmethod
    def reject(cls, reason: str = "rejected") -> Review:
        return cls(decision="reject", reason=reason)


OnReview = Callable[[HeldAnswer], "Review | Awaitable[Review | None] | None"]


def _held(result: GuardResult) -> HeldAnswer | None:
    if result.report.verdict.value != "review" or result.degraded:
        return None
    return HeldAnswer(id=uuid.uuid4().hex, output=result.output, report=result.report, message=result.message)


def _apply(result: GuardResult, held: HeldAnswer, decision: Review | None, refusal: str) -> GuardResult:
    if decision is None:
        return result.model_copy(update={"output": "", "message": None, "held": True, "review_id": held.id})
    if not isinstance(decision, Review):
        raise TypeError(f"on_review must return a Review or None, got {type(decision).__name__}")
    update: dict[str, Any] = {"review_id": held.id}
    if decision.decision == "edit":
        text = decision.output or ""
        update |= {"output": text, "review": decision.model_copy(update={"original": held.output})}
        if result.message is not None:
            update["message"] = {**result.message, "content": text}
    elif decision.decision == "reject":
        update |= {"output": refusal, "message": None, "review": decision, "finish_reason": "content_filter"}
    else:
        update["review"] = decision
    return result.model_copy(update=update)


def review_sync(result: GuardResult, on_review: OnReview | None, refusal: str) -> GuardResult:
    """`run()`'s hook. A coroutine callback is run to completion here (no event loop is running in `run`)."""
    held = None if on_review is None else _held(result)
    if held is None or on_review is None:
        return result
    decision = on_review(held)
    if inspect.isawaitable(decision):
        decision = asyncio.run(_awaited(decision))
    return _apply(result, held, decision, refusal)


async def review_async(result: GuardResult, on_review: OnReview | None, refusal: str) -> GuardResult:
    """`arun()`'s hook: an awaitable decision is awaited (a reviewer may take as long as the caller allows)."""
    held = None if on_review is None else _held(result)
    if held is None or on_review is None:
        return result
    decision = on_review(held)
    if inspect.isawaitable(decision):
        decision = await decision
    return _apply(result, held, decision, refusal)


async def _awaited(value: Awaitable[Review | None]) -> Review | None:
    return await value
