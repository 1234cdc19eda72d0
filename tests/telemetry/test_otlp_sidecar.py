"""A real `guardrails serve` process configured only by OTEL_* variables exports its spans over OTLP/HTTP to a
collector on loopback, joined to the caller's traceparent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.service.server import running_server
from tests.telemetry.corpus import CORPUS, SECRETS

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@contextmanager
def collector() -> Iterator[tuple[str, list[Any]]]:
    """An OTLP/HTTP trace receiver: every exported span, decoded."""
    spans: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    spans.extend(scope.spans)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", spans
    finally:
        server.shutdown()
        server.server_close()


def _wait(spans: list[Any], name: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(s.name == name for s in spans):
        time.sleep(0.1)


@pytest.mark.slow
def test_sidecar_exports_joined_spans_over_otlp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with collector() as (endpoint, spans):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "outguard-test")
        with running_server(tmp_path) as server, server.client() as client:
            r = client.post("/v1/validate", json={"output": CORPUS[0]}, headers={"traceparent": TRACEPARENT})
            assert r.status_code == 200
            _wait(spans, "outguard.validate")
        names = {s.name for s in spans}
        assert {"POST /v1/validate", "outguard.validate", "outguard.check"} <= names
        server_span = next(s for s in spans if s.name == "POST /v1/validate")
        assert server_span.trace_id.hex() == TRACE_ID
        assert server_span.parent_span_id.hex() == "b7ad6b7169203331"
        validation = next(s for s in spans if s.name == "outguard.validate")
        assert validation.parent_span_id == server_span.span_id
        for span in spans:
            for attr in span.attributes:
                value = str(attr.value)
                assert not any(secret in value for secret in SECRETS), (span.name, attr.key)
