"""Routes of the triage page (/review): login, the filtered queue, an item, decisions and bulk actions."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from guardrails import Severity
from guardrails.reviews import (
    CLAIM_TTL_S,
    UNDO_WINDOW_S,
    Decision,
    DecisionKind,
    FactCorrection,
    ItemFilter,
    QueueCounts,
    ReviewConflict,
    ReviewError,
    ReviewItem,
    ReviewNotFound,
    ReviewSessions,
    ReviewState,
    ReviewStore,
    Route,
    Routing,
    RoutingError,
    SortKey,
    export_jsonl,
    routing,
)
from guardrails.reviews import analytics as review_analytics
from service.auth import Reviewer, Scope
from service.facts_api import fact_writer
from service.hold.store import HeldMark
from service.ratelimit import RateLimiter
from service.review import admin, held, render
from service.review.revalidate import revalidator
from service.review.sessions import LOGIN_COOKIE, SESSION_COOKIE, Session, SessionSigner, same_token
from service.state import AppState

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(prefix="/review", include_in_schema=False)

_ITEM_ID = re.compile(r"[0-9a-f]{32}")
PAGE_SIZE = 50
SEARCH_COUNT_CAP = 1000  # a search counts its matches up to this, then says "1,000+"
BULK_LIMIT = 500
BULK_KINDS = (DecisionKind.APPROVE, DecisionKind.REJECT, DecisionKind.FALSE_POSITIVE)
STATES = {
    # The default view is everything still to judge: "assign to me" keeps an item in it (and in "next").
    "pending": [ReviewState.OPEN, ReviewState.IN_REVIEW],
    "open": [ReviewState.OPEN],
    "in_review": [ReviewState.IN_REVIEW],
    "decided": [ReviewState.DECIDED],
    "": None,
}
SORTS = {"age": "oldest first", "newest": "newest first", "severity": "worst open finding", "policy": "policy"}
SLA_S = 24 * 3600  # rows older than this are highlighted
AGES = {
    "": ("any age", None, None),
    "lt1h": ("under 1 hour", None, 3600),
    "lt24h": ("under 24 hours", None, 86400),
    "gt24h": ("over 24 hours", 86400, None),
    "gt7d": ("over 7 days", 7 * 86400, None),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _Auth:
    def __init__(self, request: Request) -> None:
        self.state: AppState = request.app.state.outguard
        self.signer: SessionSigner = request.app.state.review_signer
        self.sessions: ReviewSessions = request.app.state.review_sessions
        self.session: Session | None = self.signer.read(request.cookies.get(SESSION_COOKIE))
        self.reviewer: Reviewer | None = None

    async def check(self) -> _Auth:
        """Signed in only while the cookie's session record is live (not logged out, revoked or re-passworded)."""
        if self.session is None:
            return self
        reviewer = self.state.keys.reviewers.get(self.session.user)
        if reviewer is None or not reviewer.allows(Scope.REVIEW):
            self.session = None
            return self
        live = await run_in_threadpool(self.sessions.is_live, self.session.sid, reviewer.name, reviewer.password)
        if live:
            self.reviewer = reviewer
        else:
            self.session = None
        return self


async def _auth(request: Request) -> _Auth:
    return await _Auth(request).check()


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _redirect(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _redirect("/review/login?" + urlencode({"next": target}))


@dataclass(frozen=True, slots=True)
class _Desk:
    """A signed-in reviewer at a sidecar with a review queue: what every page of the queue needs."""

    auth: _Auth
    reviewer: Reviewer
    session: Session
    store: ReviewStore


async def _desk(request: Request) -> _Desk | Response:
    """The reviewer's desk, or the answer to give instead: the login page, or 404 without a queue."""
    auth = await _auth(request)
    reviewer, session = auth.reviewer, auth.session
    if reviewer is None or session is None:
        return _to_login(request)
    store = auth.state.reviews
    if store is None:
        return _page(request, "error.html", {"message": "This service has no review queue configured."}, 404)
    return _Desk(auth, reviewer, session, store)


def _safe_next(value: str | None) -> str:
    # Only local review paths: never redirect a reviewer to another site after login.
    if value and value.startswith("/review") and "//" not in value and "\\" not in value:
        return value
    return "/review"


def _filter_from(params: Any, reviewer: Reviewer, route: Route | None = None) -> tuple[ItemFilter, dict[str, str]]:
    """The queue filter of a page's query. `route`: what is routed to the reviewer's groups, which the
    default view shows (view=all shows everything in the reviewer's scope)."""
    keys = ("state", "code", "severity", "policy", "age", "q", "sort", "view", "held")
    raw = {k: str(params.get(k, "") or "") for k in keys}
    if "state" not in params:
        raw["state"] = "pending"
    raw["held"] = "1" if raw["held"] == "1" else ""
    age = AGES.get(raw["age"], AGES[""])
    mine = raw["view"] == "mine"
    routed = route is not None and raw["view"] == ""
    try:
        states = STATES[raw["state"]]
        SortKey(raw["sort"] or "age")
        f = ItemFilter(
            states=[ReviewState.IN_REVIEW] if mine else states,
            code=raw["code"][:20] or None,
            severity=Severity(raw["severity"]) if raw["severity"] else None,
            policy=raw["policy"][:200] or None,
            policies=reviewer.visible_policies(),
            older_than_s=age[1],
            newer_than_s=age[2],
            assignee=reviewer.name if mine else None,
            text=raw["q"][:500] or None,
            route_policies=list(route.policies) if routed and route is not None else None,
            route_codes=list(route.codes) if routed and route is not None else None,
        )
    except (KeyError, ValueError):
        f = ItemFilter(states=STATES["pending"], policies=reviewer.visible_policies())
        raw = dict.fromkeys(keys, "") | {"state": "pending"}
    return f, raw


async def _held_only(state: AppState, f: ItemFilter, raw: dict[str, str]) -> ItemFilter:
    """The filter narrowed to items a client is waiting on when the view asks for them (`held=1`): what "next",
    a decision's next item, bulk actions and an item's neighbours work through in that view."""
    if not raw.get("held") or state.holds is None:
        return f
    waiting: list[HeldMark] = await run_in_threadpool(state.holds.store.waiting, held.HELD_VIEW_CAP)
    return f.model_copy(update={"ids": [m.item_id for m in waiting]})


def _held_page(
    store: ReviewStore, holds: Any, f: ItemFilter, after: str | None
) -> tuple[list[ReviewItem], str | None, dict[str, HeldMark], ItemFilter]:
    """The held view's page: waiting items matching the filter, nearest deadline first (blocking: run in a thread).
    Three queries whatever the queue's size: the waiting items (which is also the page's held state), which of them
    the filter keeps (ids only), the page's rows."""
    waiting: list[HeldMark] = holds.store.waiting(held.HELD_VIEW_CAP)
    f = f.model_copy(update={"ids": [m.item_id for m in waiting]})
    kept = set(store.ids(f, limit=held.HELD_VIEW_CAP))
    shown, cursor = held.page([m for m in waiting if m.item_id in kept], after, PAGE_SIZE)
    rows = store.items(f.model_copy(update={"ids": [m.item_id for m in shown]}), limit=PAGE_SIZE) if shown else []
    by_id = {r.id: r for r in rows}
    return [by_id[m.item_id] for m in shown if m.item_id in by_id], cursor, {m.item_id: m for m in shown}, f


def _route_of(route: Route | None) -> tuple[list[str], list[str]] | None:
    return (list(route.policies), list(route.codes)) if route is not None else None


def _unrouted(f: ItemFilter) -> ItemFilter:
    """The filter without its routing: "next" prefers routed items (claim_next's `route`), then takes any."""
    return f.model_copy(update={"route_policies": None, "route_codes": None})


ROUTING_TTL_S = 5.0


def _routing(request: Request, store: ReviewStore) -> routing.StoredRouting:
    """The routing, read at most every ROUTING_TTL_S per process (an admin's edit here clears it at once)."""
    cache: dict[str, tuple[float, routing.StoredRouting]] = request.app.state.review_routing
    hit = cache.get("routing")
    now = time.monotonic()
    if hit is not None and now - hit[0] < ROUTING_TTL_S:
        return hit[1]
    stored = routing.load(store.engine)
    cache["routing"] = (now, stored)
    return stored


async def _route(request: Request, store: ReviewStore | None, reviewer: Reviewer) -> Route | None:
    if store is None:
        return None
    stored = await run_in_threadpool(_routing, request, store)
    return stored.routing.route_for(reviewer.name)


def _sort(raw: dict[str, str]) -> SortKey:
    return SortKey(raw.get("sort") or "age")


def _visible(item: ReviewItem, reviewer: Reviewer) -> bool:
    allowed = reviewer.visible_policies()
    return allowed is None or item.policy in allowed


async def _reviewer_post(request: Request) -> tuple[_Auth, Reviewer, dict[str, Any]] | Response:
    """A POST from a signed-in reviewer with a valid CSRF token: (auth, reviewer, form), else the refusal."""
    auth = await _auth(request)
    if auth.reviewer is None or auth.session is None:
        return Response("log in first", status_code=401)
    form = await _form(request)
    if not same_token(form.get("csrf_token"), auth.session.csrf):
        return Response("CSRF token missing or wrong", status_code=403)
    return auth, auth.reviewer, form


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return {k: v if len(v) > 1 or k in {"ids", "fingerprint"} else v[0] for k, v in out.items()}


def _age(created: dt.datetime) -> str:
    seconds = max(0, int((dt.datetime.now(dt.UTC) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- login ------------------------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = _page(request, "login.html", {"csrf": token, "next": _safe_next(next), "error": None})
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/review", max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    auth = await _auth(request)
    form = await _form(request)
    nxt = _safe_next(form.get("next"))
    if not same_token(form.get("csrf_token"), request.cookies.get(LOGIN_COOKIE)):
        return _page(request, "login.html", {"csrf": "", "next": nxt, "error": "Session expired; reload."}, 403)
    name, password = str(form.get("username", ""))[:100], str(form.get("password", ""))[:1000]
    limiter: RateLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "-"
    if limiter.acquire(f"{client}\x1f{name}") > 0:
        ctx = {"csrf": request.cookies.get(LOGIN_COOKIE), "next": nxt, "error": "Too many attempts; wait a minute."}
        return _page(request, "login.html", ctx, 429)
    reviewer = await run_in_threadpool(auth.state.keys.login, name, password)
    if reviewer is None or not reviewer.allows(Scope.REVIEW):
        ctx = {"csrf": request.cookies.get(LOGIN_COOKIE), "next": nxt, "error": "Wrong name or password."}
        return _page(request, "login.html", ctx, 401)
    cookie, session = auth.signer.issue(reviewer.name)
    expires = dt.datetime.fromtimestamp(session.expires, dt.UTC)
    await run_in_threadpool(auth.sessions.start, session.sid, reviewer.name, reviewer.password, expires)
    response = _redirect(nxt)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=auth.state.config.secure_cookies,
        path="/review",
        max_age=auth.signer.ttl_s,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/review")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    auth = await _auth(request)
    form = await _form(request)
    if auth.session is not None and not same_token(form.get("csrf_token"), auth.session.csrf):
        return Response("CSRF token missing or wrong", status_code=403)
    if auth.session is not None:  # the cookie is dead from now on, wherever a copy of it is
        await run_in_threadpool(auth.sessions.revoke, auth.session.sid, "logout")
    response = _redirect("/review/login")
    response.delete_cookie(SESSION_COOKIE, path="/review")
    return response


# -- queue -----------------------------------------------------------------------------------------


@router.get("")
async def queue(request: Request) -> Response:
    desk = await _desk(request)
    if isinstance(desk, Response):
        return desk
    store = desk.store
    route = await _route(request, store, desk.reviewer)
    f, raw = _filter_from(request.query_params, desk.reviewer, route)
    after = str(request.query_params.get("after", ""))[:500] or None
    holds = desk.auth.state.holds
    marks: dict[str, HeldMark] = {}
    if raw["held"] and holds is not None:
        items, cursor, marks, f = await run_in_threadpool(_held_page, store, holds, f, after)
    else:
        items, cursor = await run_in_threadpool(lambda: store.page(f, sort=_sort(raw), after=after, limit=PAGE_SIZE))
        if holds is not None and items:
            marks = await run_in_threadpool(holds.store.marks, [i.id for i in items])
    counts = await run_in_threadpool(lambda: store.counts(f, cap=SEARCH_COUNT_CAP))
    now = time.time()
    action = holds.cfg.timeout_action if holds is not None else "block"
    notices = {i.id: held.notice(marks.get(i.id), i, now, action) for i in items}
    facets = await run_in_threadpool(_facets, request.app.state.review_facets, store, desk.reviewer)
    query = urlencode({k: v for k, v in raw.items() if v or k == "state"})
    return _page(
        request,
        "queue.html",
        {
            "reviewer": desk.reviewer,
            "csrf": desk.session.csrf,
            "items": items,
            "counts": counts,
            "facets": facets,
            "filters": raw,
            "query": query,
            "after": after,
            "cursor": cursor,
            "severities": [s.value for s in Severity],
            "states": list(STATES),
            "sorts": SORTS,
            "ages": AGES,
            "age": _age,
            "overdue": lambda item: (dt.datetime.now(dt.UTC) - item.created_at).total_seconds() > SLA_S,
            "open_findings": lambda item: render.open_findings(item.report),
            "bulk_kinds": [k.value for k in BULK_KINDS],
            "bulk_limit": BULK_LIMIT,
            "done": request.query_params.get("done"),
            "route": route if f.routed else None,
            "notices": notices,
            "unheld_query": urlencode({k: v for k, v in raw.items() if (v or k == "state") and k != "held"}),
            "can_hold": holds is not None,
        },
    )


FACETS_TTL_S = 30.0
_Facets = dict[tuple[str, ...] | None, tuple[float, QueueCounts]]


def _facets(cache: _Facets, store: ReviewStore, reviewer: Reviewer) -> QueueCounts:
    """Every value a filter can take (the dropdowns' counts), whatever is selected now. Counted over the whole
    queue, so kept for FACETS_TTL_S: the numbers beside a dropdown's options may lag; the page's own counts
    (of the filtered set) never do."""
    scope = reviewer.visible_policies()
    key = tuple(sorted(scope)) if scope is not None else None
    hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < FACETS_TTL_S:
        return hit[1]
    counts = store.counts(ItemFilter(policies=scope))
    if len(cache) > 1000:
        cache.clear()
    cache[key] = (now, counts)
    return counts


# -- item ------------------------------------------------------------------------------------------


async def _load_item(auth: _Auth, item_id: str) -> ReviewItem | None:
    if auth.state.reviews is None or auth.reviewer is None or len(item_id) > 64:
        return None
    try:
        item: ReviewItem = await run_in_threadpool(auth.state.reviews.get, item_id)
    except ReviewNotFound:
        return None
    return item if _visible(item, auth.reviewer) else None


@router.get("/items/{item_id}")
async def item_page(request: Request, item_id: str) -> Response:
    auth = await _auth(request)
    if auth.reviewer is None or auth.session is None:
        return _to_login(request)
    item = await _load_item(auth, item_id)
    store = auth.state.reviews
    if item is None or store is None:
        return _page(request, "error.html", {"message": "No such item, or not in your scope."}, 404)
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in {"error", "notice", "done"}])
    f, raw = _filter_from(request.query_params, auth.reviewer, await _route(request, store, auth.reviewer))
    f = await _held_only(auth.state, f, raw)
    prev_id, next_id = await run_in_threadpool(lambda: store.neighbours(item, f, sort=_sort(raw)))
    holds = auth.state.holds
    mark = (await run_in_threadpool(holds.store.marks, [item.id])).get(item.id) if holds is not None else None
    action = holds.cfg.timeout_action if holds is not None else "block"
    report = item.report
    fact_finding = next((f for f in report.findings if f.evidence.fact), None)
    fact_hint = fact_finding.evidence.fact if fact_finding else None
    # The value the output claims: what a reviewer who says "the output was right" writes as the fact.
    claimed = fact_finding.evidence.details.get("claimed") if fact_finding else None
    sources = render.sources_of(item.context)
    return _page(
        request,
        "item.html",
        {
            "reviewer": auth.reviewer,
            "csrf": auth.session.csrf,
            "item": item,
            "report": report,
            "findings": report.findings,
            "segments": render.highlight(item.output, report.findings),
            "diff": render.diff(item.output, item.delivered),
            "evidence": render.evidence_rows,
            "passages": lambda finding: render.source_passages(item.output, finding, sources),
            "audit": await run_in_threadpool(store.audit_trail, item.id),
            "query": query,
            "prev_id": prev_id,
            "next_id": next_id,
            "can_fix_facts": auth.reviewer.allows(Scope.ADMIN) and auth.state.facts is not None,
            "fact_hint": fact_hint,
            "fact_claimed": claimed if isinstance(claimed, str) else "",
            "context_json": json.dumps(item.context, indent=2, ensure_ascii=False),
            "prompt": render.prompt_of(item.context),
            "open_count": len(render.open_findings(report)),
            "claimed_by_other": item.claimed_by_other(auth.reviewer.name, dt.datetime.now(dt.UTC)),
            "can_undo": _can_undo(item, auth.reviewer.name),
            "error": request.query_params.get("error"),
            "notice": request.query_params.get("notice"),
            "age": _age,
            "held_notice": held.notice(mark, item, time.time(), action),
        },
    )


def _can_undo(item: ReviewItem, reviewer: str) -> bool:
    if item.state is not ReviewState.DECIDED or item.decided_by != reviewer or item.decided_at is None:
        return False
    return (dt.datetime.now(dt.UTC) - item.decided_at).total_seconds() <= UNDO_WINDOW_S


def _decision_from(form: dict[str, Any], kind: DecisionKind) -> Decision:
    fps = form.get("fingerprint")
    fact = None
    if kind is DecisionKind.CORRECT_FACT:
        fact = FactCorrection(
            entity=str(form.get("fact_entity", "")),
            attribute=str(form.get("fact_attribute", "")),
            value=str(form.get("fact_value", "")),
            type=str(form.get("fact_type", "")) or None,
            unit=str(form.get("fact_unit", "")) or None,
            currency=str(form.get("fact_currency", "")) or None,
            source=str(form.get("fact_source", "")) or None,
        )
    return Decision(
        kind=kind,
        note=str(form.get("note", ""))[:10_000] or None,
        edited_output=str(form["edited_output"]) if kind is DecisionKind.APPROVE_EDIT else None,
        fingerprints=list(fps) if fps and kind is DecisionKind.FALSE_POSITIVE else None,
        fact=fact,
    )


@router.post("/items/{item_id}/decide")
async def decide(request: Request, item_id: str) -> Response:
    checked = await _reviewer_post(request)
    if isinstance(checked, Response):
        return checked
    auth, reviewer, form = checked
    item = await _load_item(auth, item_id)
    if item is None or auth.state.reviews is None:
        return _page(request, "error.html", {"message": "No such item, or not in your scope."}, 404)
    back = str(form.get("query", ""))[:2000]
    try:
        kind = DecisionKind(str(form.get("decision", "")))
        if kind is DecisionKind.CORRECT_FACT and not reviewer.allows(Scope.ADMIN):
            raise ReviewError("correcting a fact needs the admin scope")
        decision = _decision_from(form, kind)
        decided: ReviewItem = await run_in_threadpool(
            auth.state.reviews.decide,
            item.id,
            decision,
            actor=reviewer.name,
            fact_writer=fact_writer(auth.state),
            revalidate=revalidator(auth.state),
        )
    except (ValueError, ValidationError, KeyError, ReviewError) as exc:
        message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        if isinstance(exc, ReviewConflict):
            message = str(exc)
        sep = "&" if back else ""
        return _redirect(f"/review/items/{item.id}?{back}{sep}" + urlencode({"error": message[:300]}))
    if kind is DecisionKind.CORRECT_FACT:  # the re-validation's outcome is shown on the item itself
        sep = "&" if back else ""
        return _redirect(f"/review/items/{item.id}?{back}{sep}" + urlencode({"notice": _revalidated(decided)}))
    # Next: the first item nobody else holds (claimed for this reviewer), so two reviewers working the
    # same filter never land on the same item (the form's next_id, the page's neighbour, is not used).
    route = await _route(request, auth.state.reviews, reviewer)
    f, raw = _filter_from(dict(parse_qsl(back)), reviewer, route)
    f = await _held_only(auth.state, f, raw)
    prefer = _route_of(route) if f.routed else None
    claimed = await run_in_threadpool(
        lambda: (
            auth.state.reviews.claim_next(reviewer.name, _unrouted(f), sort=_sort(raw), skip=[item.id], route=prefer)
            if auth.state.reviews is not None
            else None
        )
    )
    nxt = claimed.id if claimed is not None else ""
    target = f"/review/items/{nxt}?{back}" if nxt else f"/review?{back}"
    return _redirect(target + ("&" if "?" in target and not target.endswith("?") else "") + f"done={kind.value}")


def _revalidated(item: ReviewItem) -> str:
    if item.state is ReviewState.DECIDED:
        return f"Fact corrected. The output was validated again ({item.verdict}) and released."
    codes = ", ".join(item.codes) or "none"
    return (
        f"Fact corrected. The output was validated again and is still flagged ({item.verdict}: {codes}); "
        "it stays in the queue."
    )


@router.post("/items/{item_id}/claim")
async def claim(request: Request, item_id: str) -> Response:
    checked = await _reviewer_post(request)
    if isinstance(checked, Response):
        return checked
    auth, reviewer, form = checked
    item = await _load_item(auth, item_id)
    if item is None or auth.state.reviews is None:
        return _page(request, "error.html", {"message": "No such item, or not in your scope."}, 404)
    assignee = None if form.get("release") else reviewer.name
    store = auth.state.reviews
    try:
        await run_in_threadpool(
            lambda: store.assign(item.id, assignee, actor=reviewer.name, lease=True) if store is not None else None
        )
    except ReviewConflict as exc:
        return _redirect(f"/review/items/{item.id}?" + urlencode({"error": str(exc)}))
    return _redirect(f"/review/items/{item.id}?{str(form.get('query', ''))[:2000]}")


@router.post("/bulk")
async def bulk(request: Request) -> Response:
    """Apply one decision to the checked items, or to every item matching the filter (capped)."""
    checked = await _reviewer_post(request)
    if isinstance(checked, Response):
        return checked
    auth, reviewer, form = checked
    store = auth.state.reviews
    if store is None:
        return Response("no review queue", status_code=404)
    try:
        kind = DecisionKind(str(form.get("decision", "")))
    except ValueError:
        kind = DecisionKind.CORRECT_FACT
    if kind not in BULK_KINDS:
        return _redirect("/review?" + urlencode({"done": "bulk:unsupported decision"}))
    back = str(form.get("query", ""))[:2000]
    f, _raw = _filter_from(dict(parse_qsl(back)), reviewer, await _route(request, store, reviewer))
    f = await _held_only(auth.state, f, _raw)
    f = f.model_copy(update={"state": f.state if f.state is not ReviewState.DECIDED else ReviewState.OPEN})
    if form.get("scope") == "filter":
        ids = await run_in_threadpool(store.ids, f, limit=BULK_LIMIT)
    else:
        ids = [str(i) for i in (form.get("ids") or [])][:BULK_LIMIT]
    # Nothing happens in bulk without the reviewer seeing how many items it touches: the first POST shows
    # the count and the second (confirmed=N) applies it, to at most those N (the queue may grow meanwhile).
    try:
        confirmed = int(str(form.get("confirmed", "")))
    except ValueError:
        confirmed = -1
    if confirmed < 0 and form.get("scope") != "filter":
        actionable = []
        for item_id in ids:
            item = await _load_item(auth, item_id)
            if item is not None and item.state is not ReviewState.DECIDED:
                actionable.append(item.id)
        ids = actionable
    if confirmed < 0 and not ids:
        return _redirect(f"/review?{back}&" + urlencode({"done": f"bulk {kind.value}: nothing to apply it to"}))
    if confirmed < 0:
        fields = [(k, v) for k, v in form.items() if k not in {"csrf_token", "ids"}]
        ctx = {
            "reviewer": reviewer,
            "csrf": auth.session.csrf if auth.session else "",
            "kind": kind.value,
            "count": len(ids),
            "ids": ids if form.get("scope") != "filter" else [],
            "fields": fields,
            "query": back,
        }
        return _page(request, "confirm.html", ctx)
    ids = ids[:confirmed]
    done = skipped = 0
    for item_id in ids:
        item = await _load_item(auth, item_id)
        if item is None or item.state is ReviewState.DECIDED:
            skipped += 1
            continue
        try:
            await run_in_threadpool(store.decide, item.id, Decision(kind=kind, note="bulk action"), actor=reviewer.name)
            done += 1
        except ReviewError:
            skipped += 1
    return _redirect(f"/review?{back}&" + urlencode({"done": f"bulk {kind.value}: {done} decided, {skipped} skipped"}))


@router.post("/items/{item_id}/reopen")
async def reopen(request: Request, item_id: str) -> Response:
    """Take a decision back: `undo` (the decider, within minutes) or reopen with a reason (anyone, any time)."""
    checked = await _reviewer_post(request)
    if isinstance(checked, Response):
        return checked
    auth, reviewer, form = checked
    item = await _load_item(auth, item_id)
    store = auth.state.reviews
    if item is None or store is None:
        return _page(request, "error.html", {"message": "No such item, or not in your scope."}, 404)
    back = str(form.get("query", ""))[:2000]
    undo = bool(form.get("undo"))
    reason = str(form.get("reason", ""))[:10_000]
    try:
        await run_in_threadpool(lambda: store.reopen(item.id, actor=reviewer.name, reason=reason, undo=undo))
    except ReviewError as exc:
        return _redirect(f"/review/items/{item.id}?" + urlencode({"error": str(exc)[:300]}))
    notice = "Decision undone: the item is open again." if undo else "Reopened: the item is open again."
    return _redirect(f"/review/items/{item.id}?{back}{'&' if back else ''}" + urlencode({"notice": notice}))


@router.post("/next")
async def next_unclaimed(request: Request) -> Response:
    """Claim the reviewer's next item under the current filter (one they hold, else the oldest unclaimed)."""
    checked = await _reviewer_post(request)
    if isinstance(checked, Response):
        return checked
    auth, reviewer, form = checked
    store = auth.state.reviews
    if store is None:
        return Response("no review queue", status_code=404)
    back = str(form.get("query", ""))[:2000]
    route = await _route(request, store, reviewer)
    f, raw = _filter_from(dict(parse_qsl(back)), reviewer, route)
    f = await _held_only(auth.state, f, raw)
    prefer = _route_of(route) if f.routed else None
    item = await run_in_threadpool(lambda: store.claim_next(reviewer.name, _unrouted(f), sort=_sort(raw), route=prefer))
    if item is None:
        return _redirect(f"/review?{back}&" + urlencode({"done": "nothing unclaimed matches this filter"}))
    return _redirect(f"/review/items/{item.id}?{back}")


@router.get("/suppressions")
async def suppressions_page(request: Request) -> Response:
    desk = await _desk(request)
    if isinstance(desk, Response):
        return desk
    store = desk.store
    allowed = desk.reviewer.visible_policies()
    rows = await run_in_threadpool(lambda: store.suppressions(details=True))
    rows = [r for r in rows if allowed is None or r.policy in allowed]
    ctx = {"reviewer": desk.reviewer, "csrf": desk.session.csrf, "rows": rows, "done": request.query_params.get("done")}
    return _page(request, "suppressions.html", ctx)


@router.post("/suppressions/revoke")
async def revoke_suppression(request: Request) -> Response:
    checked = await _reviewer_post(request)
    if isinstance(checked, Response):
        return checked
    auth, reviewer, form = checked
    store = auth.state.reviews
    policy = str(form.get("policy", ""))[:200]
    allowed = reviewer.visible_policies()
    if store is None or (allowed is not None and policy not in allowed):
        return _page(request, "error.html", {"message": "No such suppression, or not in your scope."}, 404)
    fps = form.get("fingerprint") or [""]  # _form keeps fingerprints as a list (the decide form sends several)
    rule_id, fp = str(form.get("rule_id", ""))[:200], str(fps[0] if isinstance(fps, list) else fps)[:64]
    try:
        await run_in_threadpool(
            lambda: store.revoke_suppression(
                policy, rule_id, fp, actor=reviewer.name, reason=str(form.get("reason", ""))[:2000]
            )
        )
    except ReviewError as exc:
        return _redirect("/review/suppressions?" + urlencode({"done": str(exc)[:300]}))
    return _redirect("/review/suppressions?" + urlencode({"done": f"revoked {rule_id} {fp}"}))


@router.get("/export.jsonl")
async def export(request: Request) -> Response:
    """Decided items as labelled JSONL, for the signed-in reviewer's policies (what `/v1/reviews/export`
    gives an API key). Each row names its policy and the rules directories this sidecar serves, so that
    `guardrails eval FILE` can score the policy it came from."""
    desk = await _desk(request)
    if isinstance(desk, Response):
        return desk
    store = desk.store
    f = ItemFilter(policies=desk.reviewer.visible_policies())
    dirs = [str(d) for d in desk.auth.state.config.rules_dirs]
    buf = io.StringIO()
    await run_in_threadpool(lambda: export_jsonl(store.decided(f), buf, rules_dirs=dirs))
    response = Response(buf.getvalue(), media_type="application/x-ndjson")
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Disposition"] = 'attachment; filename="review-decisions.jsonl"'
    return response


@router.get("/analytics")
async def analytics_page(request: Request) -> Response:
    desk = await _desk(request)
    if isinstance(desk, Response):
        return desk
    store = desk.store
    f = ItemFilter(policies=desk.reviewer.visible_policies())
    data = await run_in_threadpool(lambda: review_analytics(store, f))
    ctx = {"reviewer": desk.reviewer, "csrf": desk.session.csrf, "a": data}
    return _page(request, "analytics.html", ctx)


@router.get("/routing")
async def routing_page(request: Request) -> Response:
    """Who is in which group and what is routed to it; an admin edits it here (YAML, validated as data)."""
    desk = await _desk(request)
    if isinstance(desk, Response):
        return desk
    stored = await run_in_threadpool(routing.load, desk.store.engine)
    return _routing_page(request, desk, stored, stored.routing.to_yaml())


def _routing_page(
    request: Request,
    desk: _Desk,
    stored: routing.StoredRouting,
    text: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = {
        "reviewer": desk.reviewer,
        "csrf": desk.session.csrf,
        "stored": stored,
        "groups": sorted(stored.routing.groups.items()),
        "mine": stored.routing.groups_of(desk.reviewer.name),
        "can_edit": desk.reviewer.allows(Scope.ADMIN),
        "text": text,
        "error": error,
        "done": request.query_params.get("done"),
    }
    return _page(request, "routing.html", ctx, status)


@router.post("/routing")
async def save_routing(request: Request) -> Response:
    checked = await _reviewer_post(request)
    if isinstance(checked, Response):
        return checked
    auth, reviewer, form = checked
    store = auth.state.reviews
    if store is None or auth.session is None:
        return Response("no review queue", status_code=404)
    if not reviewer.allows(Scope.ADMIN):
        return _page(request, "error.html", {"message": "Changing the routing needs the admin scope."}, 403)
    text = str(form.get("routing", ""))[:200_000]
    desk = _Desk(auth, reviewer, auth.session, store)
    try:
        new = Routing.from_yaml(text, origin="routing")
    except RoutingError as exc:
        stored = await run_in_threadpool(routing.load, store.engine)
        return _routing_page(request, desk, stored, text, error=str(exc)[:500], status=400)
    unknown = sorted({m for g in new.groups.values() for m in g.members} - set(auth.state.keys.reviewers))
    await run_in_threadpool(lambda: routing.save(store.engine, new, actor=reviewer.name))
    request.app.state.review_routing.clear()
    note = f"saved; not reviewers of this service: {', '.join(unknown)}" if unknown else "saved"
    return _redirect("/review/routing?" + urlencode({"done": note[:300]}))


def _claim_ttl_s() -> float:
    """OUTGUARD_REVIEW_CLAIM_MINUTES: how long a claim holds before "next" hands the item on (default 15)."""
    raw = os.environ.get("OUTGUARD_REVIEW_CLAIM_MINUTES", "")
    try:
        minutes = float(raw) if raw else CLAIM_TTL_S / 60
    except ValueError:
        minutes = CLAIM_TTL_S / 60
    return max(1.0, minutes) * 60


def install(app: FastAPI) -> None:
    state: AppState = app.state.outguard
    app.state.review_facets = {}
    app.state.review_routing = {}
    app.state.review_signer = SessionSigner(state.config.session_secret, state.config.session_ttl_s)
    # Sessions live beside the queue (shared by replicas); without a queue, in this process only.
    reviews = state.reviews
    if reviews is not None:
        reviews.claim_ttl_s = _claim_ttl_s()
        seed = os.environ.get("OUTGUARD_REVIEW_ROUTING", "")
        if seed:  # a file seeds an empty database; afterwards the admin's edits on /review/routing rule
            routing.seed_from_file(reviews.engine, seed)
    app.state.review_sessions = ReviewSessions(reviews.engine) if reviews is not None else ReviewSessions.in_memory()
    app.include_router(admin.router)
    n = state.config.login_attempts_per_minute
    app.state.login_limiter = RateLimiter(n / 60.0, n)
    app.include_router(router)
    app.mount("/review/static", StaticFiles(directory=str(HERE / "static")), name="review-static")
