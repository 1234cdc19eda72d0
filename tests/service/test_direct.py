"""POST /v1/validate answered past FastAPI's router (api.direct_routes) answers exactly like the routed endpoint.

Each case goes to two apps built alike, one with the shortcut and one without: status, headers, body, the
access log line and the request metrics must be the same; only timings may differ.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from guardrails import Report
from service.middleware import ServiceMiddleware
from tests.service.conftest import KEYS, auth

RID = {"X-Request-Id": "fixed-rid-1"}


def _front(client: TestClient) -> ServiceMiddleware:
    front = client.app.front  # type: ignore[attr-defined]
    assert isinstance(front, ServiceMiddleware)
    return front


def _pair(make_client: Callable[..., TestClient], **config: Any) -> tuple[TestClient, TestClient]:
    direct, routed = make_client(**config), make_client(**config)
    assert set(_front(direct).direct) == {"/v1/validate"}
    _front(routed).direct.clear()
    return direct, routed


def _chunks() -> Iterator[bytes]:  # no content-length: only the streamed body can tell it is too large
    for _ in range(10):
        yield b"x" * 500


CASES: list[tuple[str, dict[str, Any]]] = [
    ("repaired", {"json": {"output": "Guaranteed returns; see db01.corp."}, "headers": {**auth(), **RID}}),
    ("pass", {"json": {"output": "Hello there", "request_id": "r1"}, "headers": {**auth(), **RID}}),
    ("no request id", {"json": {"output": "Hello"}, "headers": auth()}),
    ("no key", {"json": {"output": "x"}, "headers": RID}),
    ("unknown bearer", {"json": {"output": "x"}, "headers": {"Authorization": "Bearer nope", **RID}}),
    ("unknown x-api-key", {"json": {"output": "x"}, "headers": {"X-API-Key": "nope", **RID}}),
    ("x-api-key", {"json": {"output": "x"}, "headers": {"X-API-Key": KEYS["admin"], **RID}}),
    ("wrong scope", {"json": {"output": "x"}, "headers": {**auth("review"), **RID}}),
    ("unknown policy", {"json": {"output": "x", "policy": "nope"}, "headers": {**auth(), **RID}}),
    ("invalid fields", {"json": {"output": 5, "oops": "4111 1111 1111 1111"}, "headers": {**auth(), **RID}}),
    ("not json", {"content": b"{not json", "headers": {**auth(), **RID, "content-type": "application/json"}}),
    ("empty body", {"content": b"", "headers": {**auth(), **RID}}),
    ("declared too large", {"json": {"output": "x" * 5000}, "headers": {**auth(), **RID}}),
    ("streamed too large", {"content": _chunks, "headers": {**auth(), **RID, "content-type": "application/json"}}),
]


def _post(client: TestClient, request: dict[str, Any]) -> Response:
    request = {**request}
    if callable(request.get("content")):
        request["content"] = request["content"]()
    return client.post("/v1/validate", **request)


def _comparable(r: Response) -> tuple[int, dict[str, str], Any]:
    headers = dict(r.headers)
    body = r.json()
    if r.status_code == 200:
        Report.model_validate(body)
        body = {k: v for k, v in body.items() if k not in ("elapsed_ms", "review_id")}
        body["timings"] = [{k: v for k, v in t.items() if k != "ms"} for t in body["timings"]]
        headers.pop("content-length")
    if "x-request-id" not in r.request.headers:  # a fresh id each time: in the header and any error body
        rid = headers.pop("x-request-id")
        assert re.fullmatch("[0-9a-f]{32}", rid) and body.get("error", {}).pop("request_id", rid) == rid
    return r.status_code, headers, body


def _request_metrics(client: TestClient) -> list[str]:
    text = client.get("/metrics").text
    return [
        line for line in text.splitlines() if line.startswith(("outguard_requests_total", "outguard_verdicts_total"))
    ]


def test_direct_validate_answers_like_the_routed_endpoint(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    direct, routed = _pair(make_client, max_body_bytes=1000)
    statuses = []
    for name, request in CASES:
        with caplog.at_level(logging.INFO, logger="outguard.access"):
            caplog.clear()
            a = _post(direct, request)
            b = _post(routed, request)
            lines = [
                re.sub(r"[\d.]+ms|rid=[0-9a-f]{32}", "", r.getMessage())
                for r in caplog.records
                if r.name == "outguard.access"
            ]
        assert _comparable(a) == _comparable(b), name
        assert len(lines) == 2 and lines[0] == lines[1], name
        statuses.append(a.status_code)
    assert statuses == [200, 200, 200, 401, 401, 401, 200, 403, 404, 422, 422, 422, 413, 413]
    assert _request_metrics(direct) == _request_metrics(routed)
    assert 'outguard_requests_total{method="POST",route="/v1/validate",status="413"} 1.0' in _request_metrics(direct)


def test_direct_rate_limit_and_readiness_errors(make_client: Callable[..., TestClient]) -> None:
    direct, routed = _pair(make_client, rate_limit_rps=0.01, rate_limit_burst=2)
    answers = [[_post(c, CASES[1][1]) for _ in range(3)] for c in (direct, routed)]
    assert [r.status_code for r in answers[0]] == [200, 200, 429]

    def without_wait(r: Response) -> tuple[int, dict[str, str], Any]:
        # The wait is computed from the clock: the same to within the time between the two requests.
        status, headers, body = _comparable(r)
        assert int(headers.pop("retry-after")) >= 1
        headers.pop("content-length")  # the wait in the message may differ by a digit
        body["error"]["message"] = re.sub(r"[\d.]+s$", "", body["error"]["message"])
        return status, headers, body

    assert without_wait(answers[0][2]) == without_wait(answers[1][2])
    direct, routed = _pair(make_client, policies=["demo", "no-such-policy"])
    a, b = _post(direct, CASES[0][1]), _post(routed, CASES[0][1])
    assert a.status_code == 503 and _comparable(a) == _comparable(b)


def test_direct_crash_is_answered_like_the_routed_endpoint(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_a: object, **_k: object) -> Report:
        raise RuntimeError("secret internal detail")

    direct, routed = _pair(make_client)
    for c in (direct, routed):
        monkeypatch.setattr(c.app.state.outguard.engines["demo"], "validate", boom)  # type: ignore[attr-defined]
    a, b = _post(direct, CASES[0][1]), _post(routed, CASES[0][1])
    assert a.status_code == 500 and _comparable(a) == _comparable(b)


def test_direct_path_skips_the_middleware_stack_and_only_for_post_validate(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    client.get("/healthz")  # builds FastAPI's middleware stack
    app: Any = client.app
    inner, calls = app.middleware_stack, []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        calls.append((scope["method"], scope["path"]))
        await inner(scope, receive, send)

    app.middleware_stack = counting
    assert _post(client, CASES[0][1]).status_code == 200
    assert client.get("/v1/validate", headers=auth()).status_code == 405
    assert client.post("/v1/validate/batch", json={"items": [{"output": "x"}]}, headers=auth()).status_code == 200
    assert calls == [("GET", "/v1/validate"), ("POST", "/v1/validate/batch")]
    assert "/v1/validate" in client.get("/openapi.json").json()["paths"]
