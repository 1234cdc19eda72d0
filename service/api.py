"""The JSON API: validate (single and batch), policies, rules, the review queue, health, readiness, metrics."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from guardrails import Context, Engine, Report, Severity
from guardrails.reviews import (
    Decision,
    ItemFilter,
    ReviewConflict,
    ReviewError,
    ReviewItem,
    ReviewNotFound,
    ReviewState,
    Suppression,
    export_jsonl,
)
from service import errors
from service.auth import ApiKey, Scope
from service.cache import cached_validation
from service.deps import SECURITY_DOC, app_state, authorize, ready_state, require, require_ready
from service.errors import ERROR_RESPONSES, ApiError
from service.hold.routes import HELD_RESPONSE
from service.hold.validate import ValidateHold
from service.redaction import outgoing
from service.review_ids import scoped
from service.state import AppState
from service.workers import render_metrics

router = APIRouter()
log = logging.getLogger("outguard.service")

_REPORT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Report,
        "description": "The Report, exactly as the library's report.redacted().model_dump(mode='json'): every value"
        " a PII or sensitive finding detected is masked wherever the report quotes it",
    },
    **HELD_RESPONSE,
    **ERROR_RESPONSES,
}


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    output: str = Field(description="The model output to check")
    policy: str | None = Field(default=None, description="Policy name (default: the service's default policy)")
    context: Context | None = Field(default=None, description="Sources, reference date, canaries, schema...")
    request_id: str | None = Field(
        default=None, max_length=200, description="Caller's id; the review queue stores each id once (no NUL)"
    )

    @field_validator("request_id")
    @classmethod
    def _storable_request_id(cls, value: str | None) -> str | None:
        # Refused before any work: PostgreSQL text cannot hold NUL, so the item could not be queued.
        if value is not None and "\x00" in value:
            raise ValueError("request_id must not contain NUL characters")
        return value


_M = TypeVar("_M", bound=BaseModel)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ValidateRequest] = Field(min_length=1)
    policy: str | None = Field(default=None, description="Default policy for items that name none")


class BatchResponse(BaseModel):
    reports: list[Report]


def _engine(state: AppState, name: str | None) -> Engine:
    policy = name or state.default_policy
    engine = state.engines.get(policy)
    if engine is None:
        known = ", ".join(sorted(state.engines)) or "none"
        raise ApiError(404, "unknown_policy", f"unknown policy {policy!r}; this service serves: {known}")
    return engine


def _context(req: ValidateRequest) -> Context | None:
    if req.request_id is None:
        return req.context
    return (req.context or Context()).model_copy(update={"request_id": req.request_id})


async def validate_one(
    state: AppState,
    req: ValidateRequest,
    default_policy: str | None = None,
    *,
    observe: bool = True,
    scope: str = "",
    keep: Callable[[Report], None] | None = None,
) -> Report:
    """Validate one request's output; `observe=False` leaves the report's metrics to the caller (who records
    them after answering). `scope` (the API key's name) keeps one caller's cached results from another's.
    `keep` sees the report before it is redacted (a held call keeps the output it may later deliver)."""
    engine = _engine(state, req.policy or default_policy)
    ctx = _context(req)
    speed = state.speed[engine.policy.name]
    # A caller's schema or free-form fields (custom rules may read patterns there) can make any policy slow, up
    # to its deadline: such a request never runs on the event loop, or /healthz would wait for it.
    hit, run, blocking = cached_validation(state, engine, req.output, ctx, scope)  # run: engine.validate or cache's
    if hit is not None:
        report = hit
    elif (
        not blocking
        and speed.fast(state.config.inline_below_ms)
        and (ctx is None or (ctx.schema_ is None and not ctx.extra))
    ):
        # Measured fast: a thread hop would cost more than the validation itself.
        report = run(req.output, ctx)
    else:
        report = await asyncio.to_thread(run, req.output, ctx)
    if not report.cached:  # a cached report's elapsed_ms measures the validation that made it, not this one
        speed.add(report.elapsed_ms)
    if keep is not None:
        keep(report)
    # Everything after this point leaves the process (answer, review queue, metrics): redacted from here on.
    report = outgoing(report, engine)
    if observe:
        state.metrics.observe_report(report)
    if state.config.log_content:
        log.info(
            "validated policy=%s verdict=%s codes=%s output=%r",
            report.policy,
            report.verdict.value,
            _codes(report),
            req.output,
        )
    elif log.isEnabledFor(logging.DEBUG):  # off in production: skip building the code list too
        # Codes and counts only: output text and context never reach the logs unless log_content is on.
        log.debug(
            "validated policy=%s verdict=%s codes=%s chars=%d",
            report.policy,
            report.verdict.value,
            _codes(report),
            len(req.output),
        )
    if state.reviews is not None and engine.should_sample_for_review(report):
        # Commit before answering: the caller gets an id only for an item that is on disk.
        item, created = await run_in_threadpool(
            state.reviews.submit, report, scoped(ctx, scope), sampled=report.verdict.value != "review"
        )
        state.metrics.review_submissions.labels(str(created).lower()).inc()
        report = report.model_copy(update={"review_id": item.id})
    return report


def _codes(report: Report) -> str:
    return ",".join(sorted({f.code for f in report.findings})) or "-"


def _json(report: Report) -> bytes:
    return report.model_dump_json(by_alias=True).encode()


def _body_doc(schema: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        },
        "security": SECURITY_DOC,
    }


def _parse_bytes(body: bytes, model: type[_M]) -> _M:
    """Parse the JSON body straight into the model (one pass in pydantic-core, no dependency machinery)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


async def _read_body(receive: Receive) -> bytes:
    """The request body from ASGI messages: what `Request.body()` does, without its async generator."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _validated(
    request: Request, read_body: Callable[[], Awaitable[bytes]]
) -> tuple[AppState, Report, Response | None]:
    # The hot path: auth, readiness and parsing by hand, because FastAPI's dependency resolution costs
    # more than a rule-only validation (see tests/bench/bench_service.py). The body is read after the key is
    # checked, as the routed endpoint does. The third value is the 202 of a held `review` verdict.
    key = authorize(request, Scope.VALIDATE)
    state = require_ready(request)
    req = _parse_bytes(await read_body(), ValidateRequest)
    hold = await ValidateHold.asked(state, key, req.policy, request.headers) if state.holds is not None else None
    report = await validate_one(state, req, observe=False, scope=key.name, keep=hold.keep if hold else None)
    return state, report, await hold.answer(report) if hold is not None else None


@router.post(
    "/v1/validate",
    tags=["validate"],
    summary="Validate one output; answers the library's Report",
    responses=_REPORT_RESPONSE,
    response_class=Response,
    openapi_extra=_body_doc("ValidateRequest"),
)
async def validate(request: Request) -> Response:
    state, report, held = await _validated(request, request.body)
    state.metrics.observe_report(report)
    return held or Response(_json(report), media_type="application/json")


def direct_routes(app: FastAPI) -> dict[str, ASGIApp]:
    """POST paths that ServiceMiddleware hands straight to their endpoint, past FastAPI's routing layers.

    FastAPI's layers (exception middleware, matching against every route, the request-response wrapper)
    cost a third of a rule-only validation. The route stays registered (the OpenAPI document and any request
    the shortcut does not take use it); answered here: the same endpoint logic, the same error handlers, the
    same headers as `Response` writes. The report's metrics are recorded once the answer is sent: they are
    bookkeeping, not part of the caller's wait."""
    route = next(r for r in router.routes if isinstance(r, APIRoute) and r.path == "/v1/validate")

    async def validate_direct(scope: AsgiScope, receive: Receive, send: Send) -> None:
        scope.update(route=route, endpoint=validate, path_params={})
        request = Request(scope, receive)
        try:
            state, report, held = await _validated(request, partial(_read_body, receive))
        except errors.HANDLED as exc:
            response = await errors.answer(request, exc)
            await response(scope, receive, send)
            return
        if held is not None:
            await held(scope, receive, send)
            state.metrics.observe_report(report)
            return
        payload = _json(report)
        headers = [(b"content-length", str(len(payload)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        state.metrics.observe_report(report)

    return {route.path: validate_direct}


@router.post(
    "/v1/validate/batch",
    tags=["validate"],
    summary="Validate many outputs; reports in input order",
    responses={200: {"model": BatchResponse}, **ERROR_RESPONSES},
    response_class=Response,
)
async def validate_batch(
    body: BatchRequest,
    state: Annotated[AppState, Depends(ready_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.VALIDATE))],
) -> Response:
    if len(body.items) > state.config.max_batch:
        raise ApiError(413, "batch_too_large", f"{len(body.items)} items; the limit is {state.config.max_batch}")
    for item in body.items:
        _engine(state, item.policy or body.policy)  # fail the batch before doing any work
    reports = [await validate_one(state, item, body.policy, scope=_key.name) for item in body.items]
    payload = b'{"reports":[' + b",".join(_json(r) for r in reports) + b"]}"
    return Response(payload, media_type="application/json")


class PolicyInfo(BaseModel):
    name: str
    version: str
    description: str
    rules: list[str] = Field(description="Rule ids this policy runs")
    default: bool


class RuleInfo(BaseModel):
    id: str
    code: str
    check: str
    severity: Severity
    action: str
    status: str
    pack: str
    message: str
    description: str
    policies: list[str] = Field(description="Served policies that run this rule (with their overrides)")


@router.get("/v1/policies", tags=["rules"], response_model=list[PolicyInfo], responses=ERROR_RESPONSES)
async def policies(
    state: Annotated[AppState, Depends(ready_state)], _key: Annotated[ApiKey, Depends(require(Scope.VALIDATE))]
) -> list[PolicyInfo]:
    return [
        PolicyInfo(
            name=name,
            version=e.compiled.version,
            description=e.policy.description,
            rules=[c.rule.id for c in e.rules],
            default=name == state.default_policy,
        )
        for name, e in sorted(state.engines.items())
    ]


@router.get("/v1/rules", tags=["rules"], response_model=list[RuleInfo], responses=ERROR_RESPONSES)
async def rules(
    state: Annotated[AppState, Depends(ready_state)], _key: Annotated[ApiKey, Depends(require(Scope.VALIDATE))]
) -> list[RuleInfo]:
    used: dict[str, list[str]] = {}
    for name, e in state.engines.items():
        for c in e.rules:
            used.setdefault(c.rule.id, []).append(name)
    out = []
    for loaded in sorted(state.ruleset.rules.values() if state.ruleset else [], key=lambda r: r.rule.code):
        r = loaded.rule
        out.append(
            RuleInfo(
                id=r.id,
                code=r.code,
                check=r.check,
                severity=r.severity,
                action=r.action.value,
                status=r.status.value,
                pack=loaded.pack,
                message=r.message,
                description=r.description,
                policies=sorted(used.get(r.id, [])),
            )
        )
    return out


# -- review queue (JSON) ----------------------------------------------------------------------------


def _reviews(state: AppState) -> Any:
    if state.reviews is None:
        raise ApiError(404, "not_configured", "this service has no review queue (start it with --review-db URL)")
    return state.reviews


class ReviewList(BaseModel):
    total: int
    items: list[ReviewItem]


@router.get("/v1/reviews", tags=["reviews"], response_model=ReviewList, responses=ERROR_RESPONSES)
async def list_reviews(
    state: Annotated[AppState, Depends(app_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.REVIEW))],
    *,
    review_state: Annotated[ReviewState | None, Query(alias="state")] = None,
    code: Annotated[str | None, Query(max_length=20)] = None,
    severity: Severity | None = None,
    policy: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ReviewList:
    store = _reviews(state)
    f = ItemFilter(state=review_state, code=code, severity=severity, policy=policy)
    items = await run_in_threadpool(store.items, f, limit=limit, offset=offset)
    total = await run_in_threadpool(store.count, f)
    return ReviewList(total=total, items=items)


@router.get("/v1/reviews/export", tags=["reviews"], responses=ERROR_RESPONSES, response_class=PlainTextResponse)
async def export_reviews(
    state: Annotated[AppState, Depends(app_state)], _key: Annotated[ApiKey, Depends(require(Scope.REVIEW))]
) -> PlainTextResponse:
    """Decided items as labelled JSONL (`guardrails eval FILE --text-field text --label-field flagged`)."""
    store = _reviews(state)
    buf = io.StringIO()
    dirs = [str(d) for d in state.config.rules_dirs]  # lets `guardrails eval` score the policy without --rules
    await run_in_threadpool(lambda: export_jsonl(store.decided(), buf, rules_dirs=dirs))
    return PlainTextResponse(buf.getvalue(), media_type="application/x-ndjson")


class Reopen(BaseModel):
    reason: str = Field(default="", max_length=10_000, description="Why (required unless `undo`)")
    undo: bool = Field(default=False, description="The decider's own undo, within minutes of the decision")


class Revoke(BaseModel):
    policy: str = Field(max_length=200)
    rule_id: str = Field(max_length=200)
    fingerprint: str = Field(max_length=64)
    reason: str = Field(default="", max_length=2000)


@router.get("/v1/reviews/suppressions", tags=["reviews"], response_model=list[Suppression], responses=ERROR_RESPONSES)
async def list_suppressions(
    state: Annotated[AppState, Depends(app_state)], _key: Annotated[ApiKey, Depends(require(Scope.REVIEW))]
) -> list[Suppression]:
    """Every false-positive suppression: rule, fingerprint, example text, who, when, outputs silenced since."""
    store = _reviews(state)
    rows: list[Suppression] = await run_in_threadpool(lambda: store.suppressions(details=True))
    return rows


@router.post("/v1/reviews/suppressions/revoke", tags=["reviews"], response_model=Suppression, responses=ERROR_RESPONSES)
async def revoke_suppression(
    body: Revoke, state: Annotated[AppState, Depends(app_state)], key: Annotated[ApiKey, Depends(require(Scope.REVIEW))]
) -> Suppression:
    """Lift a suppression: the finding counts again from the next validation (audited)."""
    store = _reviews(state)
    try:
        gone: Suppression = await run_in_threadpool(
            lambda: store.revoke_suppression(
                body.policy, body.rule_id, body.fingerprint, actor=f"key:{key.name}", reason=body.reason
            )
        )
    except ReviewNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    return gone


def _review_error(exc: ReviewError, invalid: str) -> ApiError:
    """A queue error as the API answers it: 404 unknown item, 409 a transition someone else made first, 422 else."""
    if isinstance(exc, ReviewNotFound):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, ReviewConflict):
        return ApiError(409, "conflict", str(exc))
    return ApiError(422, invalid, str(exc))


@router.post("/v1/reviews/{item_id}/reopen", tags=["reviews"], response_model=ReviewItem, responses=ERROR_RESPONSES)
async def reopen_review(
    item_id: str,
    body: Reopen,
    state: Annotated[AppState, Depends(app_state)],
    key: Annotated[ApiKey, Depends(require(Scope.REVIEW))],
) -> ReviewItem:
    """Take a decision back (the audit trail keeps both); a false positive's suppressions are lifted with it."""
    store = _reviews(state)
    try:
        item: ReviewItem = await run_in_threadpool(
            lambda: store.reopen(item_id, actor=f"key:{key.name}", reason=body.reason, undo=body.undo)
        )
    except ReviewError as exc:
        raise _review_error(exc, "invalid_reopen") from exc
    return item


@router.get("/v1/reviews/{item_id}", tags=["reviews"], response_model=ReviewItem, responses=ERROR_RESPONSES)
async def get_review(
    item_id: str,
    state: Annotated[AppState, Depends(app_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.REVIEW))],
) -> ReviewItem:
    try:
        item: ReviewItem = await run_in_threadpool(_reviews(state).get, item_id)
    except ReviewNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    return item


@router.post("/v1/reviews/{item_id}/decision", tags=["reviews"], response_model=ReviewItem, responses=ERROR_RESPONSES)
async def decide_review(
    item_id: str,
    decision: Decision,
    state: Annotated[AppState, Depends(app_state)],
    key: Annotated[ApiKey, Depends(require(Scope.REVIEW))],
) -> ReviewItem:
    from service.facts_api import fact_writer
    from service.review.revalidate import revalidator

    if decision.kind.value == "correct_fact" and not key.allows(Scope.ADMIN):
        raise ApiError(403, "forbidden", "correcting a fact needs the 'admin' scope")
    try:
        item: ReviewItem = await run_in_threadpool(
            _reviews(state).decide,
            item_id,
            decision,
            actor=f"key:{key.name}",
            fact_writer=fact_writer(state),
            revalidate=revalidator(state),
        )
    except ReviewError as exc:
        raise _review_error(exc, "invalid_decision") from exc
    return item


# -- operations ------------------------------------------------------------------------------------


@router.get("/healthz", tags=["operations"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"], responses={503: ERROR_RESPONSES[503]})
async def readyz(state: Annotated[AppState, Depends(app_state)]) -> JSONResponse:
    if state.ready.is_set():
        return JSONResponse({"status": "ready", "policies": sorted(state.engines)})
    message = "compiling policies and loading models" if state.loading else "policies failed to compile"
    details = errors.problem_details(state.load_errors)
    body: dict[str, Any] = {"code": "not_ready", "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=503)


@router.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
async def metrics(state: Annotated[AppState, Depends(app_state)]) -> Response:
    payload = render_metrics(state.metrics.render)  # summed over workers under `serve --workers N`
    return Response(payload, media_type="text/plain; version=0.0.4; charset=utf-8")
