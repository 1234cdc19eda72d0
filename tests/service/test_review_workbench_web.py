"""The reviewers' workbench through HTTP: reopen and undo, the suppressions page with revoke, "next
unclaimed" for two reviewers, the "mine" view, the queue's reasons, search, sort, keyset pages, export."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import auth, login

OUTPUTS = [
    ("w1", "Guaranteed returns of 12%! Ask crm01.corp."),
    ("w2", "Take 400 mg twice a day."),
    ("w3", "This is risk-free & <b>safe</b>."),
]


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    for rid, text in OUTPUTS:
        body = {"output": text, "request_id": rid, "context": {"prompt": f"prompt of {rid}: tell me about zebras"}}
        assert client.post("/v1/validate", json=body, headers=auth()).status_code == 200
    return client


def _item_ids(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'href="/review/items/([0-9a-f]{32})', html)))


def _id_of(client: TestClient, rid: str) -> str:
    items = client.get("/v1/reviews", headers=auth("review")).json()["items"]
    return next(i["id"] for i in items if i["request_id"] == f"validate/{rid}")  # request ids are scoped by key


def _state(client: TestClient, item: str) -> dict[str, object]:
    data: dict[str, object] = client.get(f"/v1/reviews/{item}", headers=auth("review")).json()
    return data


def test_undo_and_reopen_from_the_page(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    item = _id_of(seeded, "w2")
    seeded.post(f"/review/items/{item}/decide", data={"csrf_token": csrf, "decision": "reject"})
    page = seeded.get(f"/review/items/{item}").text
    assert 'id="btn-undo"' in page and 'id="btn-reopen"' in page
    assert seeded.post(f"/review/items/{item}/reopen", data={"csrf_token": "x", "undo": "1"}).status_code == 403
    r = seeded.post(f"/review/items/{item}/reopen", data={"csrf_token": csrf, "undo": "1"})
    assert "Decision undone" in r.text and _state(seeded, item)["state"] == "open"
    seeded.post(f"/review/items/{item}/decide", data={"csrf_token": csrf, "decision": "approve"})
    # root did not decide it: no undo for them, and a reopen needs a reason.
    seeded.cookies.clear()
    csrf = login(seeded, "root")
    assert 'id="btn-undo"' not in seeded.get(f"/review/items/{item}").text
    r = seeded.post(f"/review/items/{item}/reopen", data={"csrf_token": csrf, "undo": "1"})
    assert "only alice can undo" in r.text
    r = seeded.post(f"/review/items/{item}/reopen", data={"csrf_token": csrf, "reason": ""})
    assert "needs a reason" in r.text
    r = seeded.post(f"/review/items/{item}/reopen", data={"csrf_token": csrf, "reason": "dose is wrong"})
    assert "Reopened" in r.text and "dose is wrong" in r.text  # in the audit trail on the page
    assert _state(seeded, item)["state"] == "open"


def test_suppressions_page_lists_and_revokes_in_scope(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    item = _id_of(seeded, "w3")
    seeded.post(f"/review/items/{item}/decide", data={"csrf_token": csrf, "decision": "false_positive"})
    for _ in range(2):  # silenced twice since
        assert seeded.post("/v1/validate", json={"output": OUTPUTS[2][1]}, headers=auth()).json()["verdict"] == "pass"
    seeded.app.state.outguard.reviews._caches[0].flush_hits()  # type: ignore[attr-defined]
    page = seeded.get("/review/suppressions").text
    assert "<h1>Suppressions</h1>" in page and "unverified-guarantee" in page and "<q>risk-free</q>" in page
    assert '<td class="num">2</td>' in page and "<td>alice</td>" in page
    fp = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page)
    assert fp
    form = {"csrf_token": csrf, "policy": "demo", "rule_id": "unverified-guarantee", "fingerprint": fp.group(1)}
    # bob's scope is policy "other": he cannot see or revoke demo's suppressions.
    seeded.cookies.clear()
    bob_csrf = login(seeded, "bob")
    assert "unverified-guarantee" not in seeded.get("/review/suppressions").text
    assert seeded.post("/review/suppressions/revoke", data=form | {"csrf_token": bob_csrf}).status_code == 404
    seeded.cookies.clear()
    csrf = login(seeded, "alice")
    r = seeded.post("/review/suppressions/revoke", data=form | {"csrf_token": csrf, "reason": "too broad"})
    assert "revoked unverified-guarantee" in r.text and "No suppressions." in r.text
    assert seeded.post("/v1/validate", json={"output": OUTPUTS[2][1]}, headers=auth()).json()["verdict"] == "review"


def test_two_reviewers_pressing_next_get_different_items(seeded: TestClient) -> None:
    alice = login(seeded, "alice")
    alice_cookies = dict(seeded.cookies)
    r = seeded.post("/review/next", data={"csrf_token": alice, "query": ""}, follow_redirects=False)
    first = r.headers["location"].split("/review/items/")[1][:32]
    seeded.cookies.clear()
    root = login(seeded, "root")
    r = seeded.post("/review/next", data={"csrf_token": root, "query": ""}, follow_redirects=False)
    second = r.headers["location"].split("/review/items/")[1][:32]
    assert first != second
    assert "claimed by alice" in seeded.get(f"/review/items/{first}").text
    # Deciding moves root on to the next unclaimed one, never alice's.
    r = seeded.post(
        f"/review/items/{second}/decide", data={"csrf_token": root, "decision": "reject"}, follow_redirects=False
    )
    third = r.headers["location"].split("/review/items/")[1][:32]
    assert third not in {first, second}
    r = seeded.post(f"/review/items/{third}/decide", data={"csrf_token": root, "decision": "reject"})
    assert "Nothing matches" not in r.text  # alice's item is still pending in the default view
    assert len(_item_ids(r.text)) == 1
    # alice's "mine" view holds her claim.
    seeded.cookies.clear()
    seeded.cookies.update(alice_cookies)
    assert _item_ids(seeded.get("/review?view=mine&state=in_review").text) == [first]


def test_assign_to_me_keeps_the_item_in_the_default_view(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    item = _id_of(seeded, "w1")
    seeded.post(f"/review/items/{item}/claim", data={"csrf_token": csrf})
    got = _state(seeded, item)
    assert got["assignee"] == "alice" and got["claim_expires_at"]
    assert item in _item_ids(seeded.get("/review").text)
    page = seeded.get(f"/review/items/{item}").text
    assert 'id="next"' in page  # "next" still works from an assigned item


def test_queue_rows_explain_themselves_and_search_sort_page(seeded: TestClient) -> None:
    login(seeded, "alice")
    page = seeded.get("/review").text
    assert "<h1>Review queue" in page
    assert 'aria-label="Select item validate/w1"' in page and "<legend>Apply to</legend>" in page
    # Rule id and message of the open findings, not the repaired one.
    row = page[page.index('aria-label="Select item validate/w1"') :].split("</tr>")[0]
    assert "SVC001" in row and "SVC002" not in row and ": " in row
    assert _item_ids(seeded.get("/review?q=zebras+w2").text) == [_id_of(seeded, "w2")]  # the prompt is searched
    assert _item_ids(seeded.get("/review?q=%22OR(").text) == []
    by_sev = _item_ids(seeded.get("/review?sort=severity").text)
    assert by_sev[0] == _id_of(seeded, "w2")  # the only high finding still open
    assert _item_ids(seeded.get("/review?sort=bogus").text)  # a bad sort falls back, never a 500
    for n in range(60):
        body = {"output": f"Guaranteed returns, offer {n}.", "request_id": f"bulk-{n}"}
        seeded.post("/v1/validate", json=body, headers=auth())
    first = seeded.get("/review").text
    cursor = re.search(r'href="/review\?([^"]*after=[^"]+)" id="next-page"', first)
    assert cursor and len(_item_ids(first)) == 50
    second = seeded.get("/review?" + cursor.group(1).replace("&amp;", "&")).text
    assert len(_item_ids(second)) == 13 and not set(_item_ids(second)) & set(_item_ids(first))


def test_item_page_shows_the_prompt_beside_the_output(seeded: TestClient) -> None:
    login(seeded, "alice")
    page = seeded.get(f"/review/items/{_id_of(seeded, 'w1')}").text
    assert '<pre id="prompt" class="text">prompt of w1: tell me about zebras</pre>' in page
    assert 'class="item-grid with-prompt"' in page


def test_export_from_the_page_with_the_session(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    seeded.post(f"/review/items/{_id_of(seeded, 'w2')}/decide", data={"csrf_token": csrf, "decision": "reject"})
    r = seeded.get("/review/export.jsonl")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    [row] = [json.loads(line) for line in r.text.splitlines()]
    assert row["request_id"] == "validate/w2" and row["flagged"] is True and row["policy"] == "demo"
    assert row["rules_dirs"] and row["rules_dirs"][0].endswith("demo/rules")
    # bob sees only policy "other": nothing of demo's leaks through his export.
    seeded.cookies.clear()
    login(seeded, "bob")
    assert seeded.get("/review/export.jsonl").text == ""
    seeded.cookies.clear()
    assert seeded.get("/review/export.jsonl", follow_redirects=False).status_code == 303


def test_analytics_page(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    seeded.post(f"/review/items/{_id_of(seeded, 'w3')}/decide", data={"csrf_token": csrf, "decision": "false_positive"})
    page = seeded.get("/review/analytics").text
    assert "<h1>Reviewer analytics</h1>" in page and "unverified-guarantee" in page and "100%" in page
    seeded.cookies.clear()
    login(seeded, "bob")  # policy "other" only
    assert "unverified-guarantee" not in seeded.get("/review/analytics").text


def test_reopen_and_suppressions_through_the_json_api(seeded: TestClient) -> None:
    item = _id_of(seeded, "w3")
    r = seeded.post(f"/v1/reviews/{item}/decision", json={"kind": "false_positive"}, headers=auth("review"))
    assert r.status_code == 200
    [sup] = seeded.get("/v1/reviews/suppressions", headers=auth("review")).json()
    assert sup["rule_id"] == "unverified-guarantee" and sup["example"] == "risk-free" and sup["hits"] == 0
    r = seeded.post(f"/v1/reviews/{item}/reopen", json={}, headers=auth("review"))
    assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
    r = seeded.post(f"/v1/reviews/{item}/reopen", json={"undo": True}, headers=auth("review"))
    assert r.status_code == 200 and r.json()["state"] == "open"  # the key decided it: its own undo
    assert seeded.get("/v1/reviews/suppressions", headers=auth("review")).json() == []  # lifted with it
    assert seeded.post(f"/v1/reviews/{item}/reopen", json={"undo": True}, headers=auth("review")).status_code == 409
    seeded.post(f"/v1/reviews/{item}/decision", json={"kind": "false_positive"}, headers=auth("review"))
    body = {"policy": "demo", "rule_id": sup["rule_id"], "fingerprint": sup["fingerprint"], "reason": "broad"}
    assert seeded.post("/v1/reviews/suppressions/revoke", json=body, headers=auth("review")).status_code == 200
    assert seeded.post("/v1/reviews/suppressions/revoke", json=body, headers=auth("review")).status_code == 404
    assert seeded.get("/v1/reviews/suppressions", headers=auth()).status_code == 403  # a validate key
    assert seeded.get("/v1/reviews/nope", headers=auth("review")).status_code == 404
