"""Red-team finding 2: reports that leave the sidecar carry the PII their `content` masks.

A real `guardrails serve` process with the `pii` policy in front of a scripted loopback upstream whose answer
holds an e-mail, a phone number and a card number. None of those values may appear in anything the sidecar
lets out: the proxy's answer (plain and streamed, both release modes), /v1/validate and /v1/validate/batch,
the review queue (JSON item, export, the reviewer's page), the server's log, /metrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.security._upstream import answer, upstream
from tests.service.conftest import KEYS, PASSWORDS
from tests.service.server import Server, running_server

pytestmark = pytest.mark.slow

EMAIL = "jane.roe@example.com"
PHONE = "+1 415-555-2671"
CARD = "4111 1111 1111 1111"
SECRETS = (EMAIL, PHONE, CARD, "415-555-2671", "4111111111111111", "jane.roe")
ANSWER = f"Sure. Write to {EMAIL} or call {PHONE}; the card on file is {CARD}. Anything else?"
REQUEST = {"model": "any", "messages": [{"role": "user", "content": "how do I reach the account owner?"}]}

# The `pii` policy with every output also queued, so the review queue holds what the proxy saw.
_SAMPLED = """\
name: pii-sampled
rules: ["pack:pii"]
on_error: block
review_sample_rate: 1.0
"""


def _leaks(where: str, text: str) -> list[str]:
    return [f"{where}: {s!r}" for s in SECRETS if s in text]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("redaction")
    rules = tmp / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "pii-sampled.yaml").write_text(_SAMPLED, encoding="utf-8")
    with upstream(answer(ANSWER)) as url, running_server(
        tmp, "--policy", "pii", "--policy", "pii-sampled", "--default-policy", "pii", "--rules", str(rules),
        "--upstream-url", url, "--upstream-model", "fake",
    ) as srv:  # fmt: skip
        yield srv


def _api(server: Server, scope: str = "validate") -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEYS[scope]}"}, timeout=60)


def _stream_body(client: httpx.Client, body: dict[str, object], release: str) -> str:
    with client.stream("POST", "/v1/chat/completions", json=body, headers={"X-Outguard-Release": release}) as r:
        assert r.status_code == 200
        return r.read().decode()


def test_nothing_that_leaves_the_sidecar_carries_a_detected_value(server: Server) -> None:
    leaks: list[str] = []
    with _api(server) as client:
        for policy in ("pii", "pii-sampled"):
            body = {**REQUEST, "outguard": {"policy": policy}}
            plain = client.post("/v1/chat/completions", json=body)
            assert plain.status_code == 200, plain.text
            data = plain.json()
            # The answer is the repaired text, and its report says it was redacted.
            assert data["outguard"]["report"]["masked"] is True
            assert data["outguard"]["report"]["findings"], "the pii policy found nothing: the test proves nothing"
            leaks += _leaks(f"proxy {policy}", plain.text)
            for release in ("final", "cleared"):
                streamed = _stream_body(client, {**body, "stream": True}, release)
                assert '"masked": true' in streamed
                leaks += _leaks(f"proxy stream {release} {policy}", streamed)

        validated = client.post("/v1/validate", json={"output": ANSWER, "policy": "pii-sampled"})
        assert validated.status_code == 200 and validated.json()["findings"]
        leaks += _leaks("/v1/validate", validated.text)
        batch = client.post("/v1/validate/batch", json={"items": [{"output": ANSWER}], "policy": "pii"})
        assert batch.status_code == 200
        leaks += _leaks("/v1/validate/batch", batch.text)
        leaks += _leaks("/metrics", client.get("/metrics").text)

    with _api(server, "review") as reviews:
        listed = reviews.get("/v1/reviews", params={"limit": 500}).json()
        ids = [item["id"] for item in listed["items"]]
        assert ids, "nothing was queued"
        leaks += _leaks("/v1/reviews", json.dumps(listed))
        for item_id in ids:
            leaks += _leaks("/v1/reviews/{id}", reviews.get(f"/v1/reviews/{item_id}").text)
        decided = reviews.post(f"/v1/reviews/{ids[0]}/decision", json={"kind": "approve"})
        assert decided.status_code == 200, decided.text
        export = reviews.get("/v1/reviews/export")
        assert export.status_code == 200 and export.text.strip()
        leaks += _leaks("/v1/reviews/export", export.text)

    with httpx.Client(base_url=server.url, timeout=60) as browser:
        login = browser.get("/review/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert token
        form = {"csrf_token": token.group(1), "username": "alice", "password": PASSWORDS["alice"], "next": "/review"}
        assert browser.post("/review/login", data=form, follow_redirects=True).status_code == 200
        for item_id in ids:
            page = browser.get(f"/review/items/{item_id}")
            assert page.status_code == 200
            leaks += _leaks(f"/review/items/{item_id}", page.text)

    leaks += _leaks("server log", Path(server.log).read_text(encoding="utf-8", errors="replace"))
    assert leaks == []
