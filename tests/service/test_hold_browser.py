"""Hold-for-review end to end, with a person in the loop: the official openai SDK asks the real sidecar (a process
on loopback, the scripted upstream behind it) and gets 202; a reviewer in headless Chromium logs in, opens the held
item from the queue, types a new answer and approves the edit with clicks; the client's long-poll (waiting since
before the decision) and a signed webhook both receive the edited text. A second held answer whose webhook receiver
is down is approved on the page too: the sweeper retries it and the admins' delivery log shows every failed attempt.
axe-core checks the held item's page. Screenshot: tests/artifacts/hold-item.png."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service import webhooks
from tests.guard.fake_openai import FakeOpenAI, Good, serve
from tests.service.conftest import KEYS, PASSWORDS
from tests.service.server import Server, free_port, start_server, stop
from tests.service.test_browser import ARTIFACTS, playwright_api  # noqa: F401  (fixture)
from tests.service.test_hold import DOSE, SECRET, ask_held, receiver, wait_for
from tests.service.test_review_browser import ARGS, AXE, _axe

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EDITED = "Ask a pharmacist which dose suits you."
MAX_POLL_S = 120  # the browser part takes seconds on a loaded machine: one long-poll must outlast it


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with serve() as fake:
        yield fake


@pytest.fixture
def server(upstream: FakeOpenAI, tmp_path: Path) -> Iterator[Server]:
    # Webhooks to 127.0.0.1 are allowed by this operator list only: a real deployment refuses loopback targets.
    cfg = {
        "timeout_s": 600,
        "sweep_s": 0.1,
        "max_poll_s": MAX_POLL_S,
        "webhooks": {
            "allowed_hosts": ["127.0.0.1"],
            "secrets_env": {"validate": "OG_TEST_WEBHOOK_SECRET"},
            "backoff_s": 0.2,
            "max_attempts": 3,
            "timeout_s": 2,
        },
    }
    (tmp_path / "hold.json").write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OUTGUARD_HOLD_FILE", str(tmp_path / "hold.json"))
        mp.setenv("OG_TEST_WEBHOOK_SECRET", SECRET)
        # The default keys file: API keys of every scope and the reviewers alice and root (who log in below).
        srv = start_server(tmp_path, "--upstream-url", upstream.url, "--upstream-model", "fake-model")
    try:
        yield srv
    finally:
        stop(srv)


def _long_poll(server: Server, held_id: str, into: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {KEYS['validate']}"}
    into["started"] = time.monotonic()
    with httpx.Client(base_url=server.url, headers=headers, timeout=MAX_POLL_S + 30) as c:
        into["resp"] = c.get(f"/v1/reviews/{held_id}/result", params={"wait": MAX_POLL_S})
    into["ended"] = time.monotonic()


def _open_from_queue(page: Any, server: Server, held_id: str) -> None:
    page.goto(f"{server.url}/review")
    page.click(f"a.item-link[href*='{held_id}']")
    page.wait_for_url(f"**/review/items/{held_id}**")


def _deliveries(server: Server, held_id: str) -> list[dict[str, Any]]:
    with server.client("admin") as c:
        resp = c.get("/v1/webhooks/deliveries", params={"held_id": held_id})
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()["deliveries"]
    return rows


def test_reviewer_edits_a_held_answer_on_the_page(
    playwright_api: Any,  # noqa: F811
    server: Server,
    upstream: FakeOpenAI,
) -> None:
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"axe-core is required in CI ({AXE}; .ci/setup installs it from npm)")
        pytest.skip("axe-core is not installed (run .ci/setup)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with receiver() as hook:
        down_url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
        upstream.add(Good(DOSE), Good(DOSE))
        held = ask_held(server, {"X-Outguard-Webhook": hook.url})
        orphan = ask_held(server, {"X-Outguard-Webhook": down_url})
        assert held["id"] != orphan["id"]

        got: dict[str, Any] = {}
        poller = threading.Thread(target=_long_poll, args=(server, held["id"], got), daemon=True)
        poller.start()
        wait_for(lambda: "started" in got)
        decided_at = 0.0

        problems: list[str] = []
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("dialog", lambda d: d.dismiss())
                page.goto(f"{server.url}/review/login")
                page.fill("input[name=username]", "alice")
                page.fill("input[name=password]", PASSWORDS["alice"])
                page.click("#login")
                page.wait_for_url(f"{server.url}/review")

                _open_from_queue(page, server, held["id"])
                assert page.locator("#state").inner_text() == "open"
                assert page.locator(".finding").count() >= 1  # why it was held is on the page
                problems += _axe(page, "held item")

                # "Approve with edit…" opens the editor with the answer in it; the reviewer retypes it.
                page.click("#btn-edit")
                editor = page.locator("#edited-output")
                assert editor.is_visible() and editor.input_value().strip() != ""
                editor.click()
                page.keyboard.press("Control+A")
                page.keyboard.press("Delete")
                editor.press_sequentially(EDITED)
                assert editor.input_value() == EDITED
                problems += _axe(page, "held item, editing")
                page.screenshot(path=str(ARTIFACTS / "hold-item.png"), full_page=True)
                assert "resp" not in got  # the client is still waiting
                decided_at = time.monotonic()
                page.click("#btn-edit")  # the second press confirms the edit
                page.wait_for_url(lambda url: "done=approve_edit" in url)

                # The other held answer: approved as it is, from the queue, with clicks.
                _open_from_queue(page, server, orphan["id"])
                page.click("#btn-approve")
                page.wait_for_url(lambda url: "done=approve" in url)
                assert errors == []
            finally:
                browser.close()

        # The long-poll that was waiting before the decision answers with the edited completion.
        poller.join(MAX_POLL_S + 30)
        assert not poller.is_alive()
        resp: httpx.Response = got["resp"]
        assert resp.status_code == 200, resp.text
        assert got["started"] < decided_at < got["ended"]
        body = resp.json()
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"] == EDITED
        assert body["choices"][0]["finish_reason"] == "stop"
        assert body["outguard"]["held"] == {"id": held["id"], "outcome": "approve_edit", "edited": True}
        assert DOSE not in body["choices"][0]["message"]["content"]

        # The webhook: signed with the key's secret, carrying the same edited completion.
        wait_for(lambda: len(hook.calls) >= 1)
        headers, raw = hook.calls[0]
        assert webhooks.verify(SECRET, raw, headers["outguard-signature"])
        assert headers["outguard-delivery"] == held["id"]
        event = json.loads(raw)
        assert event["type"] == "held.resolved" and event["outcome"] == "approve_edit"
        assert event["result"]["choices"][0]["message"]["content"] == EDITED
        assert event["result"] == body  # the webhook and the poll deliver one and the same answer

    # The receiver that is down: three attempts (max_attempts), each a connection error, then it stops.
    wait_for(lambda: len(_deliveries(server, orphan["id"])) >= 3, timeout=30)
    time.sleep(1.0)
    log = _deliveries(server, orphan["id"])
    assert [r["attempt"] for r in reversed(log)] == [1, 2, 3]
    assert all(r["status"] is None and r["error"] == "ConnectError" and r["url"] == down_url for r in log)
    ats = sorted(float(r["at"]) for r in log)
    assert ats[2] - ats[1] >= ats[1] - ats[0] >= 0.15  # retried with backoff (0.2 s, then 0.4 s)
    assert [r["attempt"] for r in _deliveries(server, held["id"])] == [1]  # the live receiver took it first time

    # The approved answer is still there for its client: a dead webhook does not lose it.
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEYS['validate']}"}) as c:
        late = c.get(f"/v1/reviews/{orphan['id']}/result").json()
    assert late["choices"][0]["message"]["content"] == DOSE
    assert late["outguard"]["held"]["outcome"] == "approve"
    assert problems == []
    assert (ARTIFACTS / "hold-item.png").stat().st_size > 5_000
