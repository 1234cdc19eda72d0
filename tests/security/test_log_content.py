"""Red-team finding 8: the Guard's log lines carry upstream error bodies and bad stream events (the model's text,
PII) without `--log-content`, and they lack a timestamp and the request id.

A real sidecar in front of an upstream that fails in three ways that quote content: an HTTP error whose body
repeats the prompt's PII, a stream event that is not JSON, a stream event that is a provider error. Without
`--log-content` no log line may carry that content; every log line has a timestamp and the request's id; with
`--log-content` the operator does get the provider's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security._upstream import Writer, upstream
from tests.service.conftest import KEYS
from tests.service.server import Server, running_server

pytestmark = pytest.mark.slow

SECRET = "jane.roe@example.com"
CARD = "4111 1111 1111 1111"
_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+ rid=(\S+): ")
_BANNER = ("outguard sidecar on ", "review page: ", "warning: no API keys")


def _failing(w: Writer, body: dict[str, Any]) -> None:
    shape = body["messages"][-1]["content"]
    if shape == "http-error":
        w.json({"error": {"message": f"content policy: {SECRET} and {CARD} may not be sent"}}, status=400)
        return
    w.start_stream()
    w.delta("Sure, ")
    if shape == "bad-event":
        w.write(f'data: {{"choices": [{{"delta": {{"content": "write to {SECRET}, card {CARD}"\n\n'.encode())
    elif shape == "error-event":
        w.event({"error": {"message": f"moderation stopped: {SECRET} {CARD}"}})
    w.done()


@contextmanager
def _sidecar(tmp: Path, *extra: str) -> Iterator[Server]:
    with (
        upstream(_failing) as url,
        running_server(tmp, "--upstream-url", url, "--upstream-model", "fake", *extra) as srv,
    ):
        yield srv


def _run_all(server: Server) -> list[str]:
    ids = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for shape in ("http-error", "bad-event", "error-event"):
            for stream in (False, True):
                rid = f"redteam-{shape}-{int(stream)}"
                ids.append(rid)
                headers = {"Authorization": f"Bearer {KEYS['validate']}", "X-Request-Id": rid}
                request = {"model": "any", "stream": stream, "messages": [{"role": "user", "content": shape}]}
                r = client.post("/v1/chat/completions", json=request, headers=headers)
                # An outage is an OpenAI-shaped 502 (a streamed answer has begun: an error event in its 200).
                assert r.status_code == (200 if stream else 502), r.text[:300]
                assert SECRET not in r.text
    return ids


def _log_lines(server: Server) -> list[str]:
    text = Path(server.log).read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip() and not line.startswith(_BANNER)]


def test_no_content_in_logs_and_every_line_is_stamped(tmp_path: Path) -> None:
    with _sidecar(tmp_path) as server:
        ids = _run_all(server)
    lines = _log_lines(server)
    leaks = [line for line in lines if SECRET in line or CARD in line or "jane.roe" in line]
    assert leaks == []
    unstamped = [line for line in lines if not _LINE.match(line)]
    assert unstamped == []
    # The Guard's lines about each failing call carry that call's request id.
    guard_rids = {m.group(1) for line in lines if " guardrails." in line and (m := _LINE.match(line))}
    assert set(ids) <= guard_rids, guard_rids


def test_log_content_gives_the_operator_the_providers_words(tmp_path: Path) -> None:
    with _sidecar(tmp_path, "--log-content") as server:
        _run_all(server)
    logged = "\n".join(_log_lines(server))
    assert SECRET in logged
