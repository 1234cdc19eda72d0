"""How the guarded proxy reports an answer, streamed or not: finish_reason, the `outguard` field, review."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from guardrails import Context, Engine, Report
from service.state import AppState


def finish_reason(source: str, report: Report) -> str:
    """OpenAI's vocabulary: `content_filter` when the guard withheld the model's answer, else `stop`."""
    return "content_filter" if source == "last_resort" or report.verdict.needs_action else "stop"


def outguard_info(report: Report, source: str, attempts: int, review_id: str | None) -> dict[str, Any]:
    """The `outguard` field; `report` is the redacted one (see `outgoing`), as everything that leaves."""
    return {
        "verdict": report.verdict.value,
        "source": source,
        "attempts": attempts,
        "review_id": review_id,
        "report": report.model_dump(mode="json", by_alias=True),
    }


async def queue_for_review(state: AppState, engine: Engine, report: Report, ctx: Context | None) -> str | None:
    """Queue `report` (already redacted: the queue is read by people and exported) when the policy says so."""
    if state.reviews is None or not engine.should_sample_for_review(report):
        return None
    item, _created = await run_in_threadpool(
        state.reviews.submit, report, ctx, sampled=report.verdict.value != "review"
    )
    return str(item.id)
