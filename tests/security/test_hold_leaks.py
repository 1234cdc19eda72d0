"""Attacks on what a held answer shows before a reviewer decides, on a real sidecar process and the scripted upstream:
the text of a held streamed answer (in either release mode), the 202's report, a held validate call read with
another key, and an `n > 1` completion whose reviewed choice would reach the client beside the others."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.guard.fake_openai import Choices, FakeOpenAI, Good, Sse, serve
from tests.service.conftest import KEYS
from tests.service.server import Server, stop
from tests.service.test_hold import ASK, DOSE, OTHER_KEY, ask_held, decide, hold_server, poll, wait_for

KEEPALIVE = ("--stream-keepalive", "0.2")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


class StreamReader:
    """A streamed chat completion read line by line in a thread, so the test can look at it while it waits."""

    def __init__(self, server: Server, headers: dict[str, str], key: str = KEYS["validate"]) -> None:
        self.lines: list[str] = []
        self.status: int | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()
        body = {"model": "x", "messages": ASK, "stream": True}
        auth = {"Authorization": f"Bearer {key}", **headers}
        self._thread = threading.Thread(target=self._read, args=(server.url, body, auth), daemon=True)
        self._thread.start()

    def _read(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        try:
            with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=120) as r:
                self.status = r.status_code
                for line in r.iter_lines():
                    with self._lock:
                        self.lines.append(line)
        finally:
            self.done.set()

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(x[6:]) for x in self.snapshot() if x.startswith("data: {")]

    def held(self) -> dict[str, Any] | None:
        for event in self.events():
            mark = event.get("outguard") or {}
            if mark.get("type") == "held":
                return dict(mark)
        return None

    def keepalives_after_hold(self) -> int:
        lines = self.snapshot()
        at = next((i for i, x in enumerate(lines) if '"held"' in x), None)
        return 0 if at is None else sum(1 for x in lines[at:] if x.startswith(":"))

    def content(self) -> str:
        return "".join(c["delta"].get("content") or "" for e in self.events() for c in e.get("choices", []))

    def join(self) -> None:
        assert self.done.wait(60), "the stream did not end"


@pytest.mark.parametrize("release", ["final", "cleared"])
def test_a_held_stream_shows_nothing_of_the_answer_before_the_decision(
    fake: FakeOpenAI, tmp_path: Path, release: str
) -> None:
    srv = hold_server(tmp_path, fake, serve_args=KEEPALIVE)
    try:
        fake.add(Sse(["Take 400 mg ", "twice a day."]))
        reader = StreamReader(srv, {"X-Outguard-Hold": "wait", "X-Outguard-Release": release})
        wait_for(lambda: reader.keepalives_after_hold() >= 2 or reader.done.is_set())
        assert reader.status == 200 and not reader.done.is_set()
        assert "400 mg" not in "\n".join(reader.snapshot())  # the connection waits, the text stays with us
        held = reader.held()
        assert held is not None
        decide(srv, held["id"], {"kind": "reject", "note": "off-label-dose"})
        reader.join()
        assert "400 mg" not in "\n".join(reader.snapshot())
        assert reader.content() == "This answer was withheld after review."
        last = [e for e in reader.events() if e.get("choices")][-1]
        assert last["choices"][0]["finish_reason"] == "content_filter"
        assert last["outguard"]["held"]["reason"] == "off-label-dose"
    finally:
        stop(srv)


def test_a_held_stream_past_its_bound_ends_with_the_id_and_never_the_text(fake: FakeOpenAI, tmp_path: Path) -> None:
    srv = hold_server(tmp_path, fake, serve_args=KEEPALIVE, policies=["demo"], max_stream_wait_s=1)
    try:
        fake.add(Sse(["Take 400 mg ", "twice a day."]))
        reader = StreamReader(srv, {})  # the policy holds, no header needed
        reader.join()
        raw = "\n".join(reader.snapshot())
        assert "400 mg" not in raw and reader.content() == ""
        assert raw.rstrip().endswith("data: [DONE]")
        last = [e for e in reader.events() if e.get("choices")][-1]
        assert last["choices"][0]["finish_reason"] == "content_filter"
        mark = last["outguard"]
        assert mark["type"] == "held" and mark["result_url"] == f"/v1/reviews/{mark['id']}/result"
        assert poll(srv, mark["id"]).status_code == 202  # the owner can long-poll it
        assert poll(srv, mark["id"], key=OTHER_KEY).status_code == 404
    finally:
        stop(srv)


def test_the_202_does_not_quote_the_held_answer(fake: FakeOpenAI, tmp_path: Path) -> None:
    srv = hold_server(tmp_path, fake)
    try:
        fake.add(Good(DOSE))
        held = ask_held(srv)
        assert "400 mg" not in json.dumps(held)  # the report says why it waits, not what it says
        assert held["outguard"]["report"]["findings"]  # ... but it does say why
    finally:
        stop(srv)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_another_key_cannot_read_a_held_validate_call(
    fake: FakeOpenAI, tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    db_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    srv = hold_server(tmp_path, fake, db_url)
    try:
        with srv.client() as c:
            resp = c.post("/v1/validate", json={"output": DOSE}, headers={"X-Outguard-Hold": "wait"})
        assert resp.status_code == 202, resp.text
        held_id = resp.json()["id"]
        stolen = poll(srv, held_id, key=OTHER_KEY)
        unknown = poll(srv, "f" * 32, key=OTHER_KEY)
        assert stolen.status_code == unknown.status_code == 404
        assert stolen.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
        decide(srv, held_id, {"kind": "approve"})
        assert poll(srv, held_id, wait=10).json()["output"] == DOSE
        after = poll(srv, held_id, key=OTHER_KEY)
        assert after.status_code == 404 and "400 mg" not in after.text
    finally:
        stop(srv)


def test_a_reviewed_choice_of_several_is_not_delivered_beside_the_others(fake: FakeOpenAI, tmp_path: Path) -> None:
    srv = hold_server(tmp_path, fake)
    try:
        fake.add(Choices(["Ask your pharmacist about the right dose.", DOSE]))
        with srv.client() as c:
            resp = c.post(
                "/v1/chat/completions",
                json={"model": "x", "messages": ASK, "n": 2},
                headers={"X-Outguard-Hold": "wait"},
            )
        assert resp.status_code == 202, resp.text
        assert "400 mg" not in resp.text
    finally:
        stop(srv)


def test_a_request_id_held_for_one_key_shows_another_key_nothing(fake: FakeOpenAI, tmp_path: Path) -> None:
    # Request ids are scoped by key in the review queue: a second key reusing the first key's id gets a hold of its
    # own, never the first key's held answer (its id, its report, its expiry), and its output is reviewed too.
    srv = hold_server(tmp_path, fake)
    try:
        wait = {"X-Outguard-Hold": "wait"}
        with srv.client() as c:
            first = c.post("/v1/validate", json={"output": DOSE, "request_id": "order-17"}, headers=wait)
        assert first.status_code == 202
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {OTHER_KEY}"}) as c:
            second = c.post(
                "/v1/validate", json={"output": "Take 900 mg once a day.", "request_id": "order-17"}, headers=wait
            )
        assert second.status_code == 202, second.text
        assert second.json()["id"] != first.json()["id"]
        assert first.json()["id"] not in second.text
        assert "400 mg" not in second.text
    finally:
        stop(srv)


def test_a_stream_reusing_another_keys_request_id_is_held_on_its_own(fake: FakeOpenAI, tmp_path: Path) -> None:
    srv = hold_server(tmp_path, fake, max_stream_wait_s=1)
    try:
        ours = {"policy": "demo", "context": {"request_id": "chat-9"}}
        fake.add(Good(DOSE), Sse(["Take 900 mg ", "once a day."]))
        with srv.client() as c:
            first = c.post(
                "/v1/chat/completions",
                json={"model": "x", "messages": ASK, "outguard": ours},
                headers={"X-Outguard-Hold": "wait"},
            )
        assert first.status_code == 202
        theirs = {"model": "x", "messages": ASK, "stream": True, "outguard": ours}
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {OTHER_KEY}"}, timeout=60) as c:
            second = c.post("/v1/chat/completions", json=theirs, headers={"X-Outguard-Hold": "wait"})
        events = [json.loads(x[6:]) for x in second.text.splitlines() if x.startswith("data: {")]
        marks = [e["outguard"] for e in events if isinstance(e.get("outguard"), dict) and e["outguard"].get("id")]
        assert marks and {m["id"] for m in marks} != {first.json()["id"]}  # a hold of its own
        assert first.json()["id"] not in second.text
        assert "900 mg" not in second.text  # undecided: nothing of its own answer either
        assert "400 mg" not in second.text
    finally:
        stop(srv)
