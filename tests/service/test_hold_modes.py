"""Hold-for-review beyond the plain proxy answer, on a real sidecar process and the scripted upstream, SQLite and
PostgreSQL: `/v1/validate` calls that wait, streamed answers that wait on an open connection (the official openai
SDK's streaming client), and completions with several choices held as a whole."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service import webhooks
from tests.guard.fake_openai import Choices, FakeOpenAI, Sse, serve
from tests.service.server import Server, stop
from tests.service.test_hold import ASK, DOSE, SECRET, decide, hold_server, poll, receiver, sdk, wait_for

LEAKY = "Take 400 mg twice a day. Ask db01.prod.internal."
REPAIRED = "Take 400 mg twice a day. Ask [internal host]."
SAFE = "Ask your pharmacist about the right dose."


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    tmp = tmp_path_factory.mktemp(f"hold-modes-{request.param}")
    srv = hold_server(tmp, fake, db_url, serve_args=("--stream-keepalive", "0.2"))
    try:
        yield srv
    finally:
        stop(srv)


@pytest.fixture
def upstream(fake: FakeOpenAI) -> FakeOpenAI:
    fake.script.clear()
    fake.requests.clear()
    return fake


def validate_held(server: Server, output: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    with server.client() as c:
        resp = c.post("/v1/validate", json={"output": output}, headers={"X-Outguard-Hold": "wait", **(headers or {})})
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    assert resp.headers["location"] == body["result_url"] == f"/v1/reviews/{body['id']}/result"
    assert body["outguard"]["verdict"] == "review" and body["outguard"]["review_id"] == body["id"]
    return body


# -- /v1/validate -------------------------------------------------------------------------------------------------


def test_validate_without_a_review_verdict_answers_the_report(server: Server) -> None:
    with server.client() as c:
        resp = c.post("/v1/validate", json={"output": SAFE}, headers={"X-Outguard-Hold": "wait"})
    assert resp.status_code == 200 and resp.json()["verdict"] == "pass"


def test_validate_approve_releases_the_repaired_output_and_the_report(server: Server) -> None:
    held = validate_held(server, LEAKY)
    assert "db01" not in json.dumps(held) and "400 mg" not in json.dumps(held)  # why it waits, not what it says
    assert poll(server, held["id"]).status_code == 202
    decide(server, held["id"], {"kind": "approve"})
    body = poll(server, held["id"], wait=10).json()
    assert body["object"] == "outguard.validation" and body["id"] == held["id"]
    assert body["status"] == "released" and body["outcome"] == "approve" and body["edited"] is False
    assert body["output"] == REPAIRED  # as validated and repaired: the internal host stays out
    assert body["report"]["verdict"] == "review" and body["report"]["review_id"] == held["id"]
    assert {f["code"] for f in body["report"]["findings"]} == {"SVC002", "SVC003"}


def test_validate_edit_releases_the_reviewers_text(server: Server) -> None:
    held = validate_held(server, DOSE)
    decide(server, held["id"], {"kind": "approve_edit", "edited_output": "Ask a pharmacist for your dose."})
    body = poll(server, held["id"], wait=10).json()
    assert body["output"] == "Ask a pharmacist for your dose." and body["edited"] is True
    assert body["outcome"] == "approve_edit"
    assert "400 mg" not in json.dumps(body)  # the words the reviewer replaced are not quoted by the report


def test_validate_reject_releases_no_output_and_the_reason(server: Server) -> None:
    held = validate_held(server, DOSE)
    decide(server, held["id"], {"kind": "reject", "note": "off-label-dose"})
    body = poll(server, held["id"], wait=10).json()
    assert body["status"] == "refused" and body["output"] is None
    assert body["outcome"] == "reject" and body["reason"] == "off-label-dose"
    assert [f["code"] for f in body["report"]["findings"]] == ["SVC003"]  # why, without quoting it
    assert "400 mg" not in json.dumps(body)


def test_validate_decision_reaches_the_webhook_signed(server: Server) -> None:
    with receiver() as rec:
        held = validate_held(server, DOSE, {"X-Outguard-Webhook": rec.url})
        decide(server, held["id"], {"kind": "approve"})
        wait_for(lambda: len(rec.calls) >= 1)
        headers, raw = rec.calls[0]
        assert webhooks.verify(SECRET, raw, headers["outguard-signature"])
        sent = json.loads(raw)
        assert sent["type"] == "held.resolved" and sent["outcome"] == "approve"
        assert sent["result"] == poll(server, held["id"]).json()
        assert sent["result"]["output"] == DOSE


# -- streamed ---------------------------------------------------------------------------------------------------


class SdkStream:
    """The official SDK's streaming client, iterated in a thread so the test can decide while it waits."""

    def __init__(self, server: Server, **kwargs: Any) -> None:
        self.chunks: list[Any] = []
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(server, kwargs), daemon=True)
        self._thread.start()

    def _run(self, server: Server, kwargs: dict[str, Any]) -> None:
        try:
            stream = sdk(server).chat.completions.create(
                model="x", messages=ASK, stream=True, extra_headers={"X-Outguard-Hold": "wait"}, **kwargs
            )
            for chunk in stream:
                self.chunks.append(chunk)
        except BaseException as exc:  # reported by join()
            self.error = exc
        finally:
            self.done.set()

    def held_id(self) -> str | None:
        for chunk in list(self.chunks):
            mark = (chunk.model_extra or {}).get("outguard") or {}
            if mark.get("type") == "held":
                return str(mark["id"])
        return None

    def join(self) -> None:
        assert self.done.wait(60)
        assert self.error is None, self.error

    def text(self) -> str:
        return "".join(c.choices[0].delta.content or "" for c in self.chunks if c.choices)

    def last(self) -> Any:
        return [c for c in self.chunks if c.choices][-1]


def test_stream_approve_streams_the_answer_after_the_decision(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Sse(["Take 400 mg ", "twice a day."], usage=(9, 6)))
    stream = SdkStream(server, stream_options={"include_usage": True})
    wait_for(lambda: stream.held_id() is not None)
    held_id = stream.held_id()
    assert held_id is not None
    time.sleep(0.6)  # keep-alive comments only: the SDK skips them, nothing else arrives
    assert stream.text() == "" and not stream.done.is_set()
    decide(server, held_id, {"kind": "approve"})
    stream.join()
    assert stream.text() == DOSE
    last = stream.last()
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["outguard"]["held"] == {"id": held_id, "outcome": "approve", "edited": False}
    assert stream.chunks[-1].usage is not None and stream.chunks[-1].usage.completion_tokens == 6
    released = poll(server, held_id).json()  # the long-poll gets the same decision, as a completion
    assert released["choices"][0]["message"]["content"] == DOSE


def test_stream_edit_streams_the_reviewers_text(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Sse(["Take 400 mg ", "twice a day."]))
    stream = SdkStream(server)
    wait_for(lambda: stream.held_id() is not None)
    held_id = stream.held_id()
    assert held_id is not None
    decide(server, held_id, {"kind": "approve_edit", "edited_output": "Ask a pharmacist for your dose."})
    stream.join()
    assert stream.text() == "Ask a pharmacist for your dose."
    assert stream.last().model_extra["outguard"]["held"]["edited"] is True
    assert "400 mg" not in json.dumps([c.model_dump() for c in stream.chunks])


def test_a_passing_stream_is_not_held(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Sse(["Ask your pharmacist ", "about the right dose."]))
    stream = SdkStream(server)
    stream.join()
    assert stream.text() == SAFE and stream.held_id() is None


# -- n > 1 ------------------------------------------------------------------------------------------------------


def ask_choices(server: Server, headers: dict[str, str] | None = None) -> httpx.Response:
    with server.client() as c:
        return c.post(
            "/v1/chat/completions",
            json={"model": "x", "messages": ASK, "n": 2},
            headers={"X-Outguard-Hold": "wait", **(headers or {})},
        )


def test_one_reviewed_choice_holds_every_choice(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Choices([SAFE, DOSE]))
    resp = ask_choices(server)
    assert resp.status_code == 202
    held = resp.json()
    assert SAFE not in resp.text and "400 mg" not in resp.text  # no choice is shown while one waits
    assert [c["verdict"] for c in held["outguard"]["choices"]] == ["pass", "review"]
    assert held["id"] == held["outguard"]["choices"][1]["review_id"]
    decide(server, held["id"], {"kind": "approve"})
    body = poll(server, held["id"], wait=10).json()
    assert [c["message"]["content"] for c in body["choices"]] == [SAFE, DOSE]
    assert [c["finish_reason"] for c in body["choices"]] == ["stop", "stop"]
    assert body["outguard"]["choices"][1]["held"]["outcome"] == "approve"
    assert "held" not in body["outguard"]["choices"][0]


def test_every_reviewed_choice_is_decided_before_release(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Choices([DOSE, "Take 200 mg once a day."]))
    with receiver() as rec:
        resp = ask_choices(server, {"X-Outguard-Webhook": rec.url})
        assert resp.status_code == 202
        held = resp.json()
        first, second = (c["review_id"] for c in held["outguard"]["choices"])
        assert held["id"] == first and first != second
        decide(server, first, {"kind": "approve_edit", "edited_output": "Ask a pharmacist."})
        time.sleep(1.0)  # ten sweeps: one decision of two releases nothing, announces nothing
        assert poll(server, held["id"]).status_code == 202 and rec.calls == []
        decide(server, second, {"kind": "reject", "note": "off-label-dose"})
        wait_for(lambda: len(rec.calls) >= 1)
        body = poll(server, held["id"]).json()
        assert json.loads(rec.calls[0][1])["result"] == body
    assert [c["message"]["content"] for c in body["choices"]] == [
        "Ask a pharmacist.",
        "This answer was withheld after review.",
    ]
    assert [c["finish_reason"] for c in body["choices"]] == ["stop", "content_filter"]
    assert body["outguard"]["held"] == {"id": first, "outcome": "mixed", "reason": "off-label-dose", "edited": True}
    assert body["outguard"]["choices"][1]["held"]["reason"] == "off-label-dose"
    assert "200 mg" not in json.dumps(body)  # the rejected choice is not quoted, not even in its report
