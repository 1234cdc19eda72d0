"""How the guarded proxy reports an answer, streamed or not: message, finish_reason, the `outguard` field, review,
and the error an upstream outage becomes."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from guardrails import Context, Engine, Report
from guardrails.guard import GuardResult
from service.review_ids import scoped
from service.state import AppState


def withheld(result: GuardResult, report: Report) -> bool:
    """The guard did not deliver the model's answer as it was checked (a last resort, or a failing verdict)."""
    return result.source == "last_resort" or report.verdict.needs_action


def finish_reason(result: GuardResult, report: Report) -> str:
    """OpenAI's vocabulary: `content_filter` when the guard withheld the model's answer, else the provider's own
    (`stop`, `length`, `tool_calls`), `stop` when it gave none."""
    if withheld(result, report):
        return "content_filter"
    if result.message is not None and result.message.get("tool_calls"):
        return "tool_calls"
    return result.finish_reason or "stop"


def delivered_message(result: GuardResult) -> dict[str, Any]:
    """The assistant message: the provider's own (tool calls with checked arguments, refusal...) or the text."""
    if result.message is not None:
        return result.message
    return {"role": "assistant", "content": result.output}


def shown_report(report: Report, result: GuardResult, engine: Engine) -> Report:
    """The report a client may see. For a withheld answer it describes the rejected answer without quoting it:
    every finding's value masked, the texts and edits left out (the client must not get what the guard refused)."""
    if result.source != "last_resort":
        return report
    ids = {f.rule_id for f in (*report.findings, *report.residual)}
    masked = report.redacted(ids)
    return masked.model_copy(update={"output": "", "original": "", "edits": [], "masked": True})


def outguard_info(report: Report, source: str, attempts: int, review_id: str | None) -> dict[str, Any]:
    """The `outguard` field; `report` is the redacted one (see `outgoing`), as everything that leaves."""
    return {
        "verdict": report.verdict.value,
        "source": source,
        "attempts": attempts,
        "review_id": review_id,
        "report": report.model_dump(mode="json", by_alias=True),
    }


def upstream_failed(result: GuardResult, engine: Engine) -> bool:
    """No provider answered and the policy wants the client told (`regeneration.on_upstream_error: error`)."""
    return result.outage and engine.policy.regeneration.on_upstream_error == "error"


def upstream_error(result: GuardResult) -> tuple[int, dict[str, Any]]:
    """The HTTP status and OpenAI-shaped body for an outage: 504 when time ran out, 503 when a provider said it
    is overloaded (429/503), else 502. The message names no provider and quotes nothing it sent."""
    attempts = result.attempts
    if any(a.error_timeout for a in attempts):
        status, code, what = 504, "upstream_timeout", "the upstream LLM did not answer in time"
    elif any(a.error_status in (429, 503) for a in attempts):
        status, code, what = 503, "upstream_unavailable", "the upstream LLM is overloaded or unavailable"
    else:
        status, code, what = 502, "upstream_error", "the upstream LLM failed"
    body = {
        "error": {
            "message": f"{what} ({len(attempts)} attempt(s))",
            "type": "upstream_error",
            "param": None,
            "code": code,
        },
        "outguard": {"source": "error", "verdict": None, "attempts": len(attempts), "review_id": None},
    }
    return status, body


def upstream_error_response(result: GuardResult) -> JSONResponse:
    status, body = upstream_error(result)
    return JSONResponse(body, status_code=status)


async def queue_for_review(
    state: AppState, engine: Engine, report: Report, ctx: Context | None, key_name: str
) -> str | None:
    """Queue `report` (already redacted: the queue is read by people and exported) when the policy says so; the
    request id is scoped by the caller's key (service/review_ids.py)."""
    if state.reviews is None or not engine.should_sample_for_review(report):
        return None
    item, _created = await run_in_threadpool(
        state.reviews.submit, report, scoped(ctx, key_name), sampled=report.verdict.value != "review"
    )
    return str(item.id)
