"""Hold-for-review end to end: a real sidecar process, the scripted upstream, the official openai SDK (its raw
response for the 202), a reviewer deciding through the API, the caller long-polling; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from service.auth import hash_key
from tests.guard.fake_openai import FakeOpenAI, Good, serve
from tests.service.conftest import KEYS
from tests.service.server import Server, start_server, stop

OTHER_KEY = "k-validate-other-0123456789"
SECRET = "whsec-test-0123456789"
DOSE = "Take 400 mg twice a day."
ASK: Any = [{"role": "user", "content": "How much ibuprofen?"}]


def keys_file(tmp: Path) -> Path:
    rows = [f"  - {{name: {n}, key_sha256: {hash_key(k)}, scopes: [{n}]}}" for n, k in KEYS.items()]
    rows.append(f"  - {{name: other, key_sha256: {hash_key(OTHER_KEY)}, scopes: [validate]}}")
    path = tmp / "hold-keys.yaml"
    path.write_text("api_keys:\n" + "\n".join(rows) + "\nreviewers: []\n", encoding="utf-8")
    return path


def hold_server(
    tmp: Path, upstream: FakeOpenAI, db_url: str | None = None, *, serve_args: tuple[str, ...] = (), **hold: Any
) -> Server:
    cfg = {
        "timeout_s": 120,
        "sweep_s": 0.1,
        "max_poll_s": 10,
        "webhooks": {
            "allowed_hosts": ["127.0.0.1"],
            "secrets_env": {"validate": "OG_TEST_WEBHOOK_SECRET"},
            "backoff_s": 0.2,
            "max_attempts": 3,
        },
        **hold,
    }
    (tmp / "hold.json").write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OUTGUARD_HOLD_FILE", str(tmp / "hold.json"))
        mp.setenv("OG_TEST_WEBHOOK_SECRET", SECRET)
        extra = ["--upstream-url", upstream.url, "--upstream-model", "fake-model", "--keys-file", str(keys_file(tmp))]
        extra += serve_args
        return start_server(tmp, *extra, db_url=db_url)


def sdk(server: Server, key: str = KEYS["validate"]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=60)


def ask_held(server: Server, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The SDK's raw response: 202 and the held answer's id (the parsed ChatCompletion would be empty)."""
    raw = sdk(server).chat.completions.with_raw_response.create(
        model="x", messages=ASK, extra_headers={"X-Outguard-Hold": "wait", **(headers or {})}
    )
    assert raw.status_code == 202
    assert raw.headers["retry-after"] == "1"
    body: dict[str, Any] = raw.http_response.json()
    assert body["status"] == "held" and body["outguard"]["verdict"] == "review"
    assert raw.headers["location"] == body["result_url"] == f"/v1/reviews/{body['id']}/result"
    return body


def poll(server: Server, held_id: str, key: str = KEYS["validate"], wait: float = 0) -> httpx.Response:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        return c.get(f"/v1/reviews/{held_id}/result", params={"wait": wait})


def decide(server: Server, held_id: str, decision: dict[str, Any]) -> None:
    with server.client("review") as c:
        resp = c.post(f"/v1/reviews/{held_id}/decision", json=decision)
    assert resp.status_code == 200, resp.text


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    srv = hold_server(tmp_path_factory.mktemp(f"hold-{request.param}"), fake, db_url)
    try:
        yield srv
    finally:
        stop(srv)


@pytest.fixture
def upstream(fake: FakeOpenAI) -> FakeOpenAI:
    fake.script.clear()
    fake.requests.clear()
    return fake


def test_without_the_header_a_review_answer_is_not_held(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good(DOSE))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK)
    assert (resp.model_extra or {})["outguard"]["verdict"] == "review"


def test_a_passing_answer_is_never_held(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good("Ask your pharmacist about the right dose."))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, extra_headers={"X-Outguard-Hold": "wait"})
    assert resp.choices[0].message.content == "Ask your pharmacist about the right dose."


def test_approve_releases_the_original_completion_to_a_long_poll(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good(DOSE))
    held = ask_held(server)
    waiting = poll(server, held["id"])
    assert waiting.status_code == 202 and int(waiting.headers["retry-after"]) >= 1
    got: dict[str, httpx.Response] = {}
    poller = threading.Thread(target=lambda: got.setdefault("r", poll(server, held["id"], wait=10)))
    poller.start()
    time.sleep(0.5)
    decide(server, held["id"], {"kind": "approve"})
    poller.join(30)
    resp = got["r"]
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == DOSE  # what the model said, not the redacted queue copy
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["outguard"]["held"] == {"id": held["id"], "outcome": "approve", "edited": False}
    again = poll(server, held["id"])  # idempotent: the same release every time
    assert again.json() == body


def test_an_edit_releases_the_edited_text(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good(DOSE))
    held = ask_held(server)
    decide(server, held["id"], {"kind": "approve_edit", "edited_output": "Ask a pharmacist for your dose."})
    body = poll(server, held["id"], wait=10).json()
    assert body["choices"][0]["message"]["content"] == "Ask a pharmacist for your dose."
    assert body["outguard"]["held"]["outcome"] == "approve_edit" and body["outguard"]["held"]["edited"] is True


def test_a_reject_is_the_refusal_with_the_reviewers_reason_code(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good(DOSE))
    held = ask_held(server)
    decide(server, held["id"], {"kind": "reject", "note": "off-label-dose"})
    body = poll(server, held["id"], wait=10).json()
    choice = body["choices"][0]
    assert choice["message"]["content"] == "This answer was withheld after review."
    assert choice["finish_reason"] == "content_filter"
    assert body["outguard"]["held"] == {
        "id": held["id"],
        "outcome": "reject",
        "reason": "off-label-dose",
        "edited": False,
    }
    assert DOSE not in json.dumps(body)  # the refused answer is never quoted


def test_a_free_text_reject_note_stays_internal(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good(DOSE))
    held = ask_held(server)
    decide(server, held["id"], {"kind": "reject", "note": "Dr. Smith says this is dangerous for kids"})
    body = poll(server, held["id"], wait=10).json()
    assert body["outguard"]["held"]["reason"] == "rejected"
    assert "Smith" not in json.dumps(body)


def test_long_poll_wait_is_bounded_by_the_operator(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good(DOSE))
    held = ask_held(server)
    start = time.monotonic()
    resp = poll(server, held["id"], wait=300)  # asks for 300 s; the operator allows 10
    assert resp.status_code == 202
    assert time.monotonic() - start < 60


def test_undecided_answer_times_out_closed(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.script.clear()
    srv = hold_server(tmp_path, fake, timeout_s=1)
    try:
        fake.add(Good(DOSE))
        held = ask_held(srv)
        time.sleep(1.5)
        body = poll(srv, held["id"]).json()
        assert body["outguard"]["held"]["outcome"] == "timeout_block"
        assert body["outguard"]["held"]["reason"] == "review_timeout"
        assert DOSE not in json.dumps(body)
    finally:
        stop(srv)


def test_policy_setting_holds_without_the_header(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.script.clear()
    srv = hold_server(tmp_path, fake, policies=["demo"])
    try:
        fake.add(Good(DOSE))
        raw = sdk(srv).chat.completions.with_raw_response.create(model="x", messages=ASK)
        assert raw.status_code == 202
        # Streamed, the same answer waits too (tests/service/test_hold_modes.py, tests/security/test_hold_leaks.py).
    finally:
        stop(srv)


# -- webhook receiver on loopback, shared with test_webhooks.py ---------------------------------------


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        self.url = ""
        self.lock = threading.Lock()


@contextmanager
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with rec.lock:
                rec.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = len(rec.calls) <= rec.fail_first
            self.send_response(500 if failing else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
