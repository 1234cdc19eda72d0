"""Errors answered as JSON, never with internals: {"error": {"code", "message", "details"?, "request_id"?}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from guardrails import OutguardError, Problem

log = logging.getLogger("outguard.service")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. unauthorized, not_found, invalid_request")
    message: str
    details: list[dict[str, Any]] | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(OutguardError):
    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.details = status, code, message, headers, details


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "not_ready",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse, "description": c.replace("_", " ")} for s, c in _STATUS_CODES.items()
}


def error_response(
    request: Request | None, status: int, code: str, message: str, *, details: Any = None, headers: Any = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    rid = getattr(request.state, "request_id", None) if request is not None else None
    if rid:
        body["request_id"] = rid
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def problem_details(problems: list[Problem], limit: int = 20) -> list[dict[str, Any]]:
    """Load problems as the JSON list the CLI prints as lines: each Problem's fields (type, file, rule,
    loc, line, column, hint) plus `message`, the whole sentence (capped) that older clients read."""
    return [{**p.model_dump(exclude_none=True), "message": str(p)[:500]} for p in problems[:limit]]


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Field locations, types and messages only: pydantic's `input` would echo the caller's text (maybe PII).
    return [
        {
            "field": ".".join(str(p) for p in err.get("loc", ())),
            "type": str(err.get("type", ""))[:100],
            "message": str(err.get("msg", ""))[:300],
        }
        for err in exc.errors()[:20]
    ]


async def api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(request, exc.status, exc.code, exc.message, details=exc.details, headers=exc.headers)


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(
        request, 422, "invalid_request", "the request body is invalid", details=_validation_details(exc)
    )


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(request, exc.status_code, code, message, headers=getattr(exc, "headers", None))


HANDLED = (ApiError, RequestValidationError, StarletteHTTPException)
"""What the handlers below answer; anything else is a crash (500, see ServiceMiddleware)."""


async def answer(request: Request, exc: ApiError | RequestValidationError | StarletteHTTPException) -> JSONResponse:
    """The handler FastAPI would pick for `exc`, for routes answered outside its router."""
    if isinstance(exc, ApiError):
        return await api_error(request, exc)
    if isinstance(exc, RequestValidationError):
        return await invalid_request(request, exc)
    return await http_error(request, exc)


def install(app: FastAPI) -> None:
    app.exception_handler(ApiError)(api_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(StarletteHTTPException)(http_error)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        # The type and where it happened, not the message: messages can carry the caller's text.
        log.error(
            "internal error %s on %s %s",
            type(exc).__name__,
            request.method,
            request.url.path,
            extra={"request_id": getattr(request.state, "request_id", None)},
        )
        return error_response(request, 500, "internal", "internal error; the request was logged without its content")
