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

from guardrails.reviews import FactCorrection, ReviewError
from service.auth import ApiKey, Scope
from service.deps import app_state, require
from service.errors import ERROR_RESPONSES, ApiError
from service.state import AppState

try:  # the facts store ships with guardrails.facts; without it the API answers 404 not_configured
    from guardrails.facts import FactStore

    HAVE_FACTS = True
except ImportError:  # pragma: no cover - only when guardrails.facts is absent
    HAVE_FACTS = False

router = APIRouter(tags=["facts"])

MAX_IMPORT_BYTES = 50 * 1024 * 1024


def open_facts(url: str) -> Any:
    if not HAVE_FACTS:
        raise RuntimeError("guardrails.facts is not available in this installation")
    return FactStore.open(url)


def _facts(state: AppState) -> Any:
    if state.facts is None:
        raise ApiError(404, "not_configured", "this service has no facts store (start it with --facts-db URL)")
    return state.facts


def _row(fact: FactCorrection, actor: str) -> dict[str, Any]:
    """The facts store's row for a reviewer's correction: typed value objects pass through; a bare value
    is read with its `type` (text when none is given), `unit` and `currency`, like a CSV row."""
    row: dict[str, Any] = {
        "entity": fact.entity,
        "attribute": fact.attribute,
        "source": fact.source or f"review:{actor}",
    }
    if isinstance(fact.value, dict):
        row["value"] = fact.value
        return row
    kind = fact.type or (
        "boolean" if isinstance(fact.value, bool) else "number" if isinstance(fact.value, int | float) else "text"
    )
    row.update(type=kind, value=fact.value)
    if fact.unit:
        row["unit"] = fact.unit
    if fact.currency:
        row["currency"] = fact.currency
    return row


def fact_writer(state: AppState) -> Any:
    """The callable ReviewStore.decide uses for `correct_fact`, or None when no facts store is configured."""
    if state.facts is None:
        return None
    store = state.facts

    def write(fact: FactCorrection, actor: str) -> dict[str, Any]:
        try:
            written = store.set(_row(fact, actor))
        except (ValueError, ValidationError) as exc:
            raise ReviewError(f"the corrected fact is invalid: {str(exc)[:300]}") from exc
        return dict(written.model_dump(mode="json"))

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
    fact: Annotated[
        dict[str, Any],
        Body(
            description="A Fact: entity, attribute, value (typed), valid_from...",
            examples=[
                {"entity": "Acme X1", "attribute": "price", "type": "money", "value": "999", "currency": "USD"},
            ],
        ),
    ],
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
