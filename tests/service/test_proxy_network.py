"""The guarded proxy over real sockets: `guardrails serve --upstream-url` in a subprocess, a fake
OpenAI-compatible upstream (stdlib HTTP server) on loopback, and an SSE client reading chunk by chunk."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import KEYS
from tests.service.server import running_server

pytestmark = pytest.mark.slow

ANSWER = "Your order ships from warehouse-3.internal today. Anything else I can help with? " * 8


class _Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if not body.get("stream"):
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": ANSWER}}]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for i in range(0, len(ANSWER), 5):
            chunk = {"choices": [{"delta": {"content": ANSWER[i : i + 5]}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_streamed_and_plain_completions_over_http(tmp_path: Path, upstream: str) -> None:
    with running_server(tmp_path, "--upstream-url", upstream, "--upstream-model", "fake") as server:
        headers = {"Authorization": f"Bearer {KEYS['validate']}"}
        request = {"model": "any", "messages": [{"role": "user", "content": "where is my order?"}]}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            plain = client.post("/v1/chat/completions", json=request).json()
            assert plain["choices"][0]["message"]["content"] == ANSWER.replace(
                "warehouse-3.internal", "[internal host]"
            )
            assert plain["outguard"]["verdict"] == "repaired"

            # A client that handles retracts asks for text as it is cleared.
            events = _stream(client, {**request, "stream": True}, {"X-Outguard-Release": "cleared"})
            text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)  # type: ignore[index]
            assert text == ANSWER.replace("warehouse-3.internal", "[internal host]")
            assert "warehouse-3" not in text
            assert len(events) > 4  # released in several chunks (the regex lookbehind holds back 200 chars)
            assert events[-1]["outguard"]["verdict"] == "repaired"  # type: ignore[index]
            # By default the answer is held until the verdict: one content chunk.
            held = _stream(client, {**request, "stream": True}, {})
            contents = [e["choices"][0]["delta"].get("content") for e in held]  # type: ignore[index]
            assert [c for c in contents if c] == [text]
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'outguard_verdicts_total{policy="demo",verdict="repaired"} 3.0' in metrics


def _stream(client: httpx.Client, request: dict[str, object], headers: dict[str, str]) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    with client.stream("POST", "/v1/chat/completions", json=request, headers=headers) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                events.append(json.loads(line[6:]))
    return events
