"""The admin's JSON API for the review page: end every session of a reviewer; read and replace the routing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from guardrails.reviews import ReviewSessions, ReviewStore, RouteGroup, Routing, routing
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


class RoutingDoc(BaseModel):
    groups: dict[str, RouteGroup] = Field(description="Group name -> members, policies and finding codes routed")
    updated_by: str | None = None
    updated_at: str | None = None


def _queue(state: AppState) -> ReviewStore:
    if state.reviews is None:
        raise ApiError(404, "not_configured", "this service has no review queue (start it with --review-db URL)")
    return state.reviews


# Not under /v1/reviews/: GET /v1/reviews/{item_id} is matched first.
@router.get("/v1/reviewer-groups", response_model=RoutingDoc, responses=ERROR_RESPONSES)
async def get_routing(
    state: Annotated[AppState, Depends(app_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.ADMIN))],
) -> RoutingDoc:
    """The routing of the queue to reviewer groups (what /review/routing shows)."""
    stored = await run_in_threadpool(routing.load, _queue(state).engine)
    return RoutingDoc.model_validate(routing.as_json(stored))


@router.put("/v1/reviewer-groups", response_model=RoutingDoc, responses=ERROR_RESPONSES)
async def put_routing(
    request: Request,
    body: Routing,
    state: Annotated[AppState, Depends(app_state)],
    key: Annotated[ApiKey, Depends(require(Scope.ADMIN))],
) -> RoutingDoc:
    """Replace the routing (audited; every replica reads it within seconds, this one at once)."""
    store = _queue(state)
    await run_in_threadpool(lambda: routing.save(store.engine, body, actor=f"key:{key.name}"))
    request.app.state.review_routing.clear()
    stored = await run_in_threadpool(routing.load, store.engine)
    return RoutingDoc.model_validate(routing.as_json(stored))
