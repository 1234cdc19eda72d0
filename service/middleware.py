"""ASGI middleware: request ids, a hard body-size limit, an access log that never carries content, and (when
tracing is on) a server span that joins the caller's trace from its W3C `traceparent` header."""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guardrails.telemetry import tracer, tracing
from service.metrics import Metrics

log = logging.getLogger("outguard.access")

REQUEST_ID: ContextVar[str] = ContextVar("outguard_request_id", default="-")
"""The id of the request being answered: set by ServiceMiddleware, inherited by every task and worker thread the
request starts (the streamed answer, validations in threads), so any log line can name it."""


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id` (the current request's, or "-" outside one) for the log format."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


READ_TIMEOUT = "outguard.read_timeout"
"""Set in a request's scope["state"] when the server cut its body off at the deadline and answered 408 itself
(service/connections.py)."""


class _TooLarge(HTTPException):
    """Raised from receive(): an HTTPException so that FastAPI's body parser lets it through (413, as JSON)."""


def _json_error(status: int, code: str, message: str, request_id: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"error": {"code": code, "message": message, "request_id": request_id}}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, body


class ServiceMiddleware:
    """One pure-ASGI layer (cheaper than several BaseHTTPMiddleware) for ids, limits, logs and metrics."""

    def __init__(
        self, app: ASGIApp, *, max_body: int, metrics: Metrics, direct: dict[str, ASGIApp] | None = None
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.metrics = metrics
        self.direct = direct or {}
        """POST paths answered without the app's router (see api.direct_routes)."""

    def takes(self, scope: Scope) -> bool:
        """True for a request this layer answers through `direct`, without the app behind it."""
        return scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        raw_rid = headers.get(b"x-request-id", b"")[:100].decode("latin-1")
        rid = raw_rid if raw_rid and raw_rid.isprintable() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        # Not reset afterwards: the server runs each request in a task of its own, whose context ends with it.
        REQUEST_ID.set(rid)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _send_error(send, 413, "payload_too_large", self._too_large(), rid)
            self._done(scope, 413, t0, rid)
            return
        received = 0
        # Started after the size check above: a refused body is not worth a trace.
        traced = _server_span(scope, headers) if tracing() else None

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge(413, self._too_large())
            return message

        answer = _Answer()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.started = True
                answer.status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        app = self.app
        if scope["method"] == "POST" and not scope.get("root_path"):
            app = self.direct.get(scope["path"], app)
        await self._run(app, scope, (limited_receive, send_wrapper, send), answer, rid)
        self._done(scope, answer.status, t0, rid)
        if traced is not None:
            _end_server_span(traced, scope, answer.status)

    def _too_large(self) -> str:
        return f"request body over the limit of {self.max_body} bytes"

    async def _run(self, app: ASGIApp, scope: Scope, io: tuple[Receive, Send, Send], answer: _Answer, rid: str) -> None:
        """The app on this request; whatever it raises is answered here (when nothing was sent yet) and
        recorded in `answer.status`. `io` is (limited receive, wrapped send, the server's send)."""
        receive, send_wrapper, send = io
        try:
            await app(scope, receive, send_wrapper)
        except _TooLarge:
            if not answer.started:
                await _send_error(send, 413, "payload_too_large", self._too_large(), rid)
            answer.status = 413
        except ClientDisconnect:
            # Gone, or cut off by the body deadline (service/connections.py answered 408): not a crash, and
            # attackers decide how often it happens, so it goes to the access log only.
            answer.status = 408 if scope["state"].get(READ_TIMEOUT) else 499
        except Exception as exc:
            # Answered and logged here, never re-raised: the server would log the traceback, and exception
            # messages can carry the caller's text. The type and route are enough to find the bug.
            route = getattr(scope.get("route"), "path", "unmatched")
            log.error("internal error %s on %s %s rid=%s", type(exc).__name__, scope["method"], route, rid)
            if not answer.started:
                await _send_error(
                    send, 500, "internal", "internal error; the request was logged without its content", rid
                )
            answer.status = 500

    def _done(self, scope: Scope, status: int, t0: float, rid: str) -> None:
        elapsed = time.perf_counter() - t0
        route = scope.get("route")
        path_template = getattr(route, "path", None)
        if path_template is None:
            path_template = "/review/static" if scope.get("path", "").startswith("/review/static/") else "unmatched"
        self.metrics.requests.labels(path_template, scope["method"], str(status)).inc()
        self.metrics.latency.labels(path_template).observe(elapsed)
        # Path template, not the raw path or query string: those can carry user data.
        log.info(
            "%s %s %d %.2fms rid=%s key=%s",
            scope["method"],
            path_template,
            status,
            elapsed * 1000,
            rid,
            scope.get("state", {}).get("key_name", "-"),
        )


@dataclass
class _Answer:
    """What the app sent so far: whether the response started, and its status (500 until it says)."""

    started: bool = False
    status: int = 500


async def _send_error(send: Send, status: int, code: str, message: str, rid: str) -> None:
    start, body = _json_error(status, code, message, rid)
    await send(start)
    await send({"type": "http.response.body", "body": body})


def _server_span(scope: Scope, headers: dict[bytes, bytes]) -> tuple[Any, Any]:
    """A SERVER span for this request, child of the caller's span when it sent `traceparent` (the propagators of
    OTEL_PROPAGATORS, W3C trace context by default), made current for the request's task and what it starts."""
    from opentelemetry import context, propagate, trace

    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items() if k in _PROPAGATION_HEADERS}
    parent = propagate.extract(carrier)
    span = tracer().start_span(
        scope["method"], context=parent, kind=trace.SpanKind.SERVER, attributes={"http.request.method": scope["method"]}
    )
    token = context.attach(trace.set_span_in_context(span, parent))
    return span, token


_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


def _end_server_span(traced: tuple[Any, Any], scope: Scope, status: int) -> None:
    from opentelemetry import context
    from opentelemetry.trace import Status, StatusCode

    span, token = traced
    # The route's template, never the path: paths and query strings can carry user data.
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    span.update_name(f"{scope['method']} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()
    context.detach(token)
