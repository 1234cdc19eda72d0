"""Webhooks of held answers: a receiver on loopback verifies the signature, sees retries with backoff, and the
admins' delivery log shows every attempt; a receiver that stays down ends `failed` after the configured attempts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service import webhooks
from service.hold.config import WebhookConfig
from tests.guard.fake_openai import FakeOpenAI, Good, serve
from tests.service.server import Server, stop
from tests.service.test_hold import DOSE, OTHER_KEY, SECRET, ask_held, decide, hold_server, receiver, wait_for


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def server(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = hold_server(tmp_path_factory.mktemp("hooks"), fake)
    try:
        yield srv
    finally:
        stop(srv)


def deliveries(server: Server, held_id: str) -> list[dict[str, object]]:
    with server.client("admin") as c:
        resp = c.get("/v1/webhooks/deliveries", params={"held_id": held_id})
    assert resp.status_code == 200
    rows: list[dict[str, object]] = resp.json()["deliveries"]
    return rows


def test_signed_delivery_after_retries(server: Server, fake: FakeOpenAI) -> None:
    with receiver() as rec:
        rec.fail_first = 2
        fake.add(Good(DOSE))
        held = ask_held(server, {"X-Outguard-Webhook": rec.url})
        decide(server, held["id"], {"kind": "approve_edit", "edited_output": "Ask a pharmacist."})
        wait_for(lambda: len(rec.calls) >= 3)
        time.sleep(0.5)  # no fourth call once one succeeded
        assert len(rec.calls) == 3
        stamps = []
        for headers, body in rec.calls:
            assert webhooks.verify(SECRET, body, headers["outguard-signature"])
            assert not webhooks.verify("another-keys-secret", body, headers["outguard-signature"])
            assert headers["outguard-delivery"] == held["id"]  # one id for every retry: receivers dedupe on it
            stamps.append(headers)
        payload = json.loads(rec.calls[-1][1])
        assert payload["type"] == "held.resolved" and payload["outcome"] == "approve_edit"
        assert payload["result"]["choices"][0]["message"]["content"] == "Ask a pharmacist."
    log = deliveries(server, held["id"])
    assert [(r["attempt"], r["status"]) for r in reversed(log)] == [(1, 500), (2, 500), (3, 204)]
    ats = sorted(float(str(r["at"])) for r in log)
    assert ats[2] - ats[1] >= ats[1] - ats[0] >= 0.15  # backoff: 0.2 s, then 0.4 s


def test_receiver_down_ends_failed_in_the_log(server: Server, fake: FakeOpenAI) -> None:
    with receiver() as rec:
        url = rec.url  # closed when the block ends: nothing listens there any more
    fake.add(Good(DOSE))
    held = ask_held(server, {"X-Outguard-Webhook": url})
    decide(server, held["id"], {"kind": "approve"})
    wait_for(lambda: len(deliveries(server, held["id"])) >= 3)
    time.sleep(1.0)
    log = deliveries(server, held["id"])
    assert len(log) == 3  # max_attempts, then it stops
    assert all(r["status"] is None and r["error"] == "ConnectError" for r in log)


def test_delivery_log_is_for_admins_only(server: Server) -> None:
    with server.client("validate") as c:
        assert c.get("/v1/webhooks/deliveries").status_code == 403


def test_test_endpoint_sends_a_signed_ping(server: Server) -> None:
    with receiver() as rec, server.client("validate") as c:
        resp = c.post("/v1/webhooks/test", json={"url": rec.url})
        assert resp.json() == {"delivered": True, "status": 204, "error": None}
        headers, body = rec.calls[0]
        assert json.loads(body) == {"type": "ping", "id": "test"}
        assert webhooks.verify(SECRET, body, headers["outguard-signature"])


def test_a_key_without_a_secret_cannot_register(server: Server) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {OTHER_KEY}"}) as c:
        resp = c.post("/v1/webhooks/test", json={"url": "http://127.0.0.1:9/x"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "webhook_not_allowed"


def test_signature_scheme() -> None:
    body = b'{"a":1}'
    header = webhooks.sign("s3cret", body, timestamp=1_700_000_000)
    assert webhooks.verify("s3cret", body, header, now=1_700_000_100)
    assert not webhooks.verify("s3cret", body, header, now=1_700_000_000 + 301)  # a replay past the tolerance
    assert not webhooks.verify("s3cret", body + b" ", header, now=1_700_000_000)
    assert not webhooks.verify("s3cret", body, "v1=abc", now=1_700_000_000)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8080/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/x",
        "http://192.168.1.1/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "ftp://example.com/x",
        "http://user:pw@example.com/x",
    ],
)
def test_check_target_refuses_non_public(url: str) -> None:
    with pytest.raises(webhooks.WebhookRefused):
        webhooks.check_target(url, WebhookConfig())


def test_check_target_operator_allow_list(tmp_path: Path) -> None:
    assert webhooks.check_target("http://127.0.0.1:5/x", WebhookConfig(allowed_hosts=["127.0.0.1"]))
    assert webhooks.check_target("http://10.0.0.5/x", WebhookConfig(allow_private=True))


def test_backoff_doubles_and_caps() -> None:
    cfg = WebhookConfig(backoff_s=1, max_backoff_s=5)
    assert [webhooks.backoff(n, cfg) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
