"""Finding 12: "correct a fact" released the item's output unchecked.

A reviewer (admin) says the facts store was wrong and writes the right row. That says nothing about the
output: it may state yet another value, or make other claims. So after the correction the output is
validated again under the item's policy against the updated facts; only a passing output is released,
a flagged one stays in the queue with its new findings, and the page and the audit trail say which.
Against a real `guardrails serve` with a facts store, on SQLite and PostgreSQL review queues.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from guardrails.reviews import ReviewStore
from tests.service.conftest import PASSWORDS, ROOT
from tests.service.server import Server, start_server, stop

FACTS = ROOT / "service" / "demo" / "facts.jsonl"  # Zephyr Kettle price 49.00 USD, Nimbus Toaster 35.00 USD


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    facts = f"sqlite:///{tmp_path / 'facts.sqlite3'}"
    srv = start_server(tmp_path, "--policy", "demo-facts", "--facts-db", facts, db_url=db_url)
    try:
        with srv.client("admin") as c:
            r = c.post("/v1/facts/import", files={"file": ("facts.jsonl", FACTS.read_bytes())})
            assert r.status_code == 200, r.text
        yield srv
    finally:
        stop(srv)


def _flagged(srv: Server, output: str) -> dict[str, Any]:
    with srv.client("validate") as c:
        r = c.post("/v1/validate", json={"output": output, "policy": "demo-facts", "request_id": uuid.uuid4().hex})
    body: dict[str, Any] = r.json()
    assert r.status_code == 200 and body["verdict"] == "review", r.text
    assert "FACT001" in {f["code"] for f in body["findings"]}, body["findings"]
    return body


def _price(value: str) -> dict[str, Any]:
    return {
        "kind": "correct_fact",
        "fact": {
            "entity": "Zephyr Kettle",
            "attribute": "price",
            "type": "money",
            "value": value,
            "currency": "USD",
            "source": "catalogue fix",
        },
    }


def _audit(srv: Server, item_id: str) -> list[Any]:
    store = ReviewStore.open(srv.db_url, create=False)
    try:
        return store.audit_trail(item_id)
    finally:
        store.close()


def test_a_correction_the_output_still_contradicts_keeps_it_queued(server: Server) -> None:
    body = _flagged(server, "The Zephyr Kettle costs $79.00.")
    with server.client("admin") as c:
        # The reviewer "corrects" the price to 59.00: the output, which says 79.00, is still wrong.
        r = c.post(f"/v1/reviews/{body['review_id']}/decision", json=_price("59.00"))
        assert r.status_code == 200, r.text
        item = r.json()
        assert item["state"] == "open" and item["decision"] is None and item["final_output"] is None
        assert item["verdict"] == "review" and item["codes"] == ["FACT001"]
        fact = next(f for f in item["report"]["findings"] if f["code"] == "FACT001")["evidence"]["fact"]
        assert fact["value"]["amount"] == "59.00"  # the new findings, against the corrected fact
        assert c.get("/v1/facts?entity=Zephyr Kettle&attribute=price").json()[0]["value"]["amount"] == "59.00"
    trail = _audit(server, body["review_id"])
    assert [e.action for e in trail] == ["submit", "correct_fact"]
    assert trail[-1].after["revalidated"]["verdict"] == "review"
    assert trail[-1].after["revalidated"]["codes"] == ["FACT001"]


def test_a_correction_that_clears_the_output_releases_it_validated(server: Server) -> None:
    body = _flagged(server, "The Zephyr Kettle costs $79.00.")
    with server.client("admin") as c:
        r = c.post(f"/v1/reviews/{body['review_id']}/decision", json=_price("79.00"))
        assert r.status_code == 200, r.text
        item = r.json()
    assert item["state"] == "decided" and item["decision"] == "correct_fact"
    assert item["verdict"] == "pass" and item["codes"] == []
    assert item["final_output"] == "The Zephyr Kettle costs $79.00."
    trail = _audit(server, body["review_id"])
    assert [e.action for e in trail] == ["submit", "decide:correct_fact"]
    assert trail[-1].after["revalidated"] == {"verdict": "pass", "codes": [], "findings": []}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def test_the_review_page_shows_the_revalidation_and_keeps_a_flagged_item(server: Server) -> None:
    # Two claims; the reviewer fixes the kettle's price, the toaster's stays contradicted.
    body = _flagged(server, "The Zephyr Kettle costs $79.00 and the Nimbus Toaster costs $99.00.")
    with httpx.Client(base_url=server.url, timeout=30) as web:
        page = web.get("/review/login")
        r = web.post(
            "/review/login",
            data={"csrf_token": _csrf(page.text), "username": "root", "password": PASSWORDS["root"], "next": "/review"},
            follow_redirects=True,
        )
        assert r.status_code == 200
        item_url = f"/review/items/{body['review_id']}"
        csrf = _csrf(web.get(item_url).text)
        form = {
            "csrf_token": csrf,
            "decision": "correct_fact",
            "fact_entity": "Zephyr Kettle",
            "fact_attribute": "price",
            "fact_type": "money",
            "fact_value": "79.00",
            "fact_currency": "USD",
        }
        r = web.post(f"{item_url}/decide", data=form)
        assert r.status_code == 303 and r.headers["location"].startswith(item_url), r.headers
        page = web.get(r.headers["location"]).text
    assert 'id="notice"' in page and "still flagged" in page and "stays in the queue" in page
    assert '<strong id="state">open</strong>' in page
    assert "Nimbus Toaster" in page and 'id="decide-form"' in page  # still decidable, finding shown
    with server.client("review") as c:
        item = c.get(f"/v1/reviews/{body['review_id']}").json()
    assert item["state"] == "open" and item["final_output"] is None and item["codes"] == ["FACT001"]
    claims = [f["evidence"]["fact"]["entity"] for f in item["report"]["findings"] if f["code"] == "FACT001"]
    assert claims == ["Nimbus Toaster"]  # the kettle's claim now holds; the toaster's does not
