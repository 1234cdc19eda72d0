"""Attacks on held answers, on a real sidecar process: reading another key's held answer, webhooks aimed at the
sidecar's own network (SSRF), and a release that must happen once, also across a restart (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from guardrails.reviews import Decision, DecisionKind, ReviewStore
from service import webhooks
from tests.guard.fake_openai import FakeOpenAI, Good, serve
from tests.service.conftest import KEYS
from tests.service.server import stop
from tests.service.test_hold import (
    ASK,
    DOSE,
    OTHER_KEY,
    SECRET,
    ask_held,
    decide,
    hold_server,
    poll,
    receiver,
    wait_for,
)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


def test_another_key_cannot_read_a_held_answer(fake: FakeOpenAI, tmp_path: Path) -> None:
    srv = hold_server(tmp_path, fake)
    try:
        fake.add(Good(DOSE))
        held = ask_held(srv)
        assert poll(srv, held["id"]).status_code == 202  # the owner sees it waiting
        stolen = poll(srv, held["id"], key=OTHER_KEY)
        assert stolen.status_code == 404
        unknown = poll(srv, "0" * 32, key=OTHER_KEY)
        assert stolen.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"  # no oracle
        decide(srv, held["id"], {"kind": "approve"})
        assert poll(srv, held["id"], wait=10).status_code == 200
        after = poll(srv, held["id"], key=OTHER_KEY)
        assert after.status_code == 404 and DOSE not in after.text
    finally:
        stop(srv)


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://localhost:{port}/hook",
        "http://127.0.0.1:{port}/hook",
        "http://[::1]:{port}/hook",
        "http://10.0.0.7/hook",
        "http://[::ffff:127.0.0.1]:{port}/hook",
    ],
)
def test_webhook_to_internal_targets_is_refused(fake: FakeOpenAI, tmp_path: Path, target: str) -> None:
    with receiver() as rec:
        port = rec.url.rsplit(":", 1)[1].split("/")[0]
        srv = hold_server(tmp_path, fake, webhooks={"secrets_env": {"validate": "OG_TEST_WEBHOOK_SECRET"}})
        try:
            fake.add(Good(DOSE))
            with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {KEYS['validate']}"}) as c:
                resp = c.post(
                    "/v1/chat/completions",
                    json={"model": "x", "messages": ASK},
                    headers={"X-Outguard-Hold": "wait", "X-Outguard-Webhook": target.format(port=port)},
                )
                assert resp.status_code == 400, resp.text
                assert resp.json()["error"]["code"] == "webhook_refused"
                test = c.post("/v1/webhooks/test", json={"url": target.format(port=port)})
                assert test.status_code == 400
            assert fake.requests == []  # refused before anything was spent upstream
            assert rec.calls == []
        finally:
            stop(srv)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_release_is_once_and_survives_a_restart(
    fake: FakeOpenAI, tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    db_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    with receiver() as rec:
        srv = hold_server(tmp_path, fake, db_url)
        db_url = srv.db_url
        try:
            fake.add(Good(DOSE))
            held = ask_held(srv, {"X-Outguard-Webhook": rec.url})
        finally:
            stop(srv)
        # Decided while the sidecar is down (another replica, the review page): nobody polls afterwards.
        store = ReviewStore.open(db_url)
        try:
            store.decide(
                held["id"], Decision(kind=DecisionKind.APPROVE_EDIT, edited_output="Ask a pharmacist."), actor="x"
            )
        finally:
            store.close()
        srv = hold_server(tmp_path, fake, db_url)
        try:
            wait_for(lambda: len(rec.calls) >= 1)  # the restarted sweeper found it and delivered
            first = poll(srv, held["id"]).json()
            assert first["choices"][0]["message"]["content"] == "Ask a pharmacist."
            for _ in range(3):
                assert poll(srv, held["id"]).json() == first
            with srv.client("review") as c:  # a second decision cannot change what was released
                assert c.post(f"/v1/reviews/{held['id']}/decision", json={"kind": "approve"}).status_code == 409
            assert poll(srv, held["id"]).json() == first
        finally:
            stop(srv)
        assert len(rec.calls) == 1  # one delivery for one release
        headers, body = rec.calls[0]
        assert webhooks.verify(SECRET, body, headers["outguard-signature"])
        assert json.loads(body)["result"] == first
