"""Red-team finding 9: a 50 MB upstream answer is read whole before it is refused (+270 MB RSS).

A real sidecar in front of an upstream that answers 50 MB: as one JSON document (declared length, and
undeclared, close-delimited), and as a stream (one endless delta, and many small ones). The sidecar must stop
reading at its cap (`--upstream-max-bytes`, 1 MiB here), answer the last resort like any failed budget, and
its peak resident memory (VmHWM) must not grow by anything near the answer's size.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security._upstream import Writer, upstream
from tests.service.conftest import KEYS
from tests.service.server import Server, running_server

pytestmark = pytest.mark.slow

HUGE = 50 * 1024 * 1024
CAP = 1024 * 1024
PIECE = b"a" * 65536
LAST_RESORT = "The answer was too long to check."
GROWTH_LIMIT = 40 * 1024 * 1024  # the cap, the JSON parse of at most that, allocator slack; not 50 MB

_POLICY = f"""\
name: capped
rules: ["pack:pii"]
regeneration:
  max_attempts: 1
  last_resort: "{LAST_RESORT}"
  on_upstream_error: last_resort
"""


def _pump(w: Writer, total: int, piece: bytes) -> None:
    sent = 0
    while sent < total and w.write(piece):
        sent += len(piece)


def _huge(w: Writer, body: dict[str, Any]) -> None:
    shape = body["messages"][-1]["content"]
    head = b'{"choices": [{"message": {"role": "assistant", "content": "'
    tail = b'"}}]}'
    if shape == "declared":
        w.h.send_response(200)
        w.h.send_header("content-type", "application/json")
        w.h.send_header("content-length", str(len(head) + HUGE + len(tail)))
        w.h.end_headers()
        w.write(head)
        _pump(w, HUGE, PIECE)
        w.write(tail)
    elif shape == "undeclared":
        w.start_stream("application/json")  # no length: the body ends when the connection closes
        w.write(head)
        _pump(w, HUGE, PIECE)
        w.write(tail)
    elif shape == "one-delta":
        w.start_stream()
        w.write(b'data: {"choices": [{"delta": {"content": "')
        _pump(w, HUGE, PIECE)
        w.write(b'"}}]}\n\n')
        w.done()
    elif shape == "many-deltas":
        w.start_stream()
        event = f"data: {json.dumps({'choices': [{'delta': {'content': 'x' * 4000}}]})}\n\n".encode()
        _pump(w, HUGE, event)
        w.done()


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("cap")
    (tmp / "rules" / "policies").mkdir(parents=True)
    (tmp / "rules" / "policies" / "capped.yaml").write_text(_POLICY, encoding="utf-8")
    with upstream(_huge) as url, running_server(
        tmp, "--policy", "capped", "--default-policy", "capped", "--rules", str(tmp / "rules"),
        "--upstream-url", url, "--upstream-model", "fake", "--upstream-max-bytes", str(CAP),
    ) as srv:  # fmt: skip
        yield srv


def _ask(server: Server, shape: str, stream: bool) -> str:
    request = {"model": "any", "stream": stream, "messages": [{"role": "user", "content": shape}]}
    headers = {"Authorization": f"Bearer {KEYS['validate']}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        r = client.post("/v1/chat/completions", json=request)
    assert r.status_code == 200, r.text[:300]
    if not stream:
        data = r.json()
        assert data["outguard"]["source"] == "last_resort"
        return str(data["choices"][0]["message"]["content"])
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    assert events[-1]["outguard"]["source"] == "last_resort"
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events)


def test_a_huge_answer_is_cut_at_the_cap_and_memory_stays_flat(server: Server) -> None:
    # Warm up: the first proxied call imports httpx and compiles the policy's checks.
    assert _ask(server, "declared", stream=False) == LAST_RESORT
    before = _peak_rss(server.proc.pid)
    t0 = time.monotonic()
    for shape, stream in [("declared", False), ("undeclared", False), ("one-delta", True), ("many-deltas", True)]:
        assert _ask(server, shape, stream) == LAST_RESORT, shape
    elapsed = time.monotonic() - t0
    growth = _peak_rss(server.proc.pid) - before
    print(f"peak RSS before {before / 2**20:.1f} MiB, growth {growth / 2**20:.1f} MiB, 4 answers in {elapsed:.1f} s")
    assert growth < GROWTH_LIMIT, f"peak RSS grew by {growth / 2**20:.1f} MiB"
    log = Path(server.log).read_text(encoding="utf-8", errors="replace")
    assert "byte cap" in log
