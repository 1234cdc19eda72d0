"""The admin's handle on review-page sessions: end every session of a reviewer (JSON API, admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from guardrails.reviews import ReviewSessions
from service.auth import ApiKey, Scope
from service.deps import app_state, require
from service.errors import ERROR_RESPONSES, ApiError
from service.state import AppState

router = APIRouter(tags=["reviews"])


class EndedSessions(BaseModel):
    reviewer: str
    ended: int = Field(description="Sessions that were live and are now revoked")


@router.delete("/v1/reviewers/{name}/sessions", response_model=EndedSessions, responses=ERROR_RESPONSES)
async def end_sessions(
    request: Request,
    name: Annotated[str, Path(min_length=1, max_length=100)],
    state: Annotated[AppState, Depends(app_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.ADMIN))],
) -> EndedSessions:
    """Sign a reviewer out everywhere at once (a lost laptop, a leaver): their cookies stop working now."""
    if name not in state.keys.reviewers:
        raise ApiError(404, "not_found", f"no reviewer {name!r} in this service's keys")
    sessions: ReviewSessions = request.app.state.review_sessions
    ended = await run_in_threadpool(sessions.revoke_user, name, "ended by an admin")
    return EndedSessions(reviewer=name, ended=ended)
