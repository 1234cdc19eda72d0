"""The known-facts API (get, set, import) when a facts store is configured, and the review page's fact writer."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, UploadFile
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from service.auth import ApiKey, Scope
from service.deps import app_state, require
from service.errors import ERROR_RESPONSES, ApiError
from service.state import AppState

try:  # the facts store ships with guardrails.facts; without it the API answers 404 not_configured
    from guardrails.facts import FactStore
except ImportError:  # pragma: no cover - only when guardrails.facts is absent
    FactStore = None

router = APIRouter(tags=["facts"])

MAX_IMPORT_BYTES = 50 * 1024 * 1024


def open_facts(url: str) -> Any:
    if FactStore is None:
        raise RuntimeError("guardrails.facts is not available in this installation")
    return FactStore.open(url)


def _facts(state: AppState) -> Any:
    if state.facts is None:
        raise ApiError(404, "not_configured", "this service has no facts store (start it with --facts-db URL)")
    return state.facts


def _value(value: Any) -> Any:
    # A reviewer types a bare value; the store wants a typed one. Bare scalars become text/number values.
    if isinstance(value, dict):
        return value
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    return {"type": "text", "value": str(value)}


def fact_writer(state: AppState) -> Any:
    """The callable ReviewStore.decide uses for `correct_fact`, or None when no facts store is configured."""
    if state.facts is None:
        return None
    store = state.facts

    def write(entity: str, attribute: str, value: Any, source: str | None, actor: str) -> dict[str, Any]:
        fact = store.set(
            {"entity": entity, "attribute": attribute, "value": _value(value), "source": source or f"review:{actor}"}
        )
        return dict(fact.model_dump(mode="json"))

    return write


@router.get("/v1/facts", responses=ERROR_RESPONSES)
async def get_facts(
    state: Annotated[AppState, Depends(app_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.VALIDATE))],
    entity: Annotated[str, Query(min_length=1, max_length=2000)],
    attribute: Annotated[str | None, Query(max_length=2000)] = None,
    at: dt.date | None = None,
) -> list[dict[str, Any]]:
    store = _facts(state)
    facts = await run_in_threadpool(store.get, entity, attribute, at)
    return [f.model_dump(mode="json") for f in facts]


@router.post("/v1/facts", responses=ERROR_RESPONSES)
async def set_fact(
    state: Annotated[AppState, Depends(app_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.ADMIN))],
    fact: Annotated[dict[str, Any], Body(description="A Fact: entity, attribute, value (typed), valid_from...")],
) -> dict[str, Any]:
    store = _facts(state)
    try:
        written = await run_in_threadpool(store.set, fact)
    except (ValidationError, ValueError) as exc:
        details = None
        if isinstance(exc, ValidationError):
            details = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()[:20]]
        raise ApiError(422, "invalid_fact", "the fact is invalid", details=details) from exc
    return dict(written.model_dump(mode="json"))


@router.post("/v1/facts/import", responses=ERROR_RESPONSES)
async def import_facts(
    state: Annotated[AppState, Depends(app_state)],
    _key: Annotated[ApiKey, Depends(require(Scope.ADMIN))],
    file: UploadFile,
    format: Annotated[str | None, Query(pattern="^(csv|jsonl|json)$")] = None,
) -> dict[str, Any]:
    """Import a CSV or JSONL file of facts; row errors are reported, good rows are kept."""
    store = _facts(state)
    suffix = Path(file.filename or "facts").suffix if format is None else f".{format}"
    fd, tmp = tempfile.mkstemp(suffix=suffix or ".csv")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await file.read(1 << 20):
                out.write(chunk)
        result = await run_in_threadpool(store.import_file, tmp, format)
    except ValueError as exc:
        raise ApiError(422, "invalid_file", str(exc)[:500]) from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dict(result.model_dump(mode="json"))
