"""The /review page through HTTP: login, CSRF, scopes, the queue, an item, decisions and bulk actions."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.review.render import diff, highlight
from tests.service.conftest import DEMO_RULES, PASSWORDS, auth, csrf_of, login

OUTPUTS = [
    ("w1", "Guaranteed returns of 12%! Ask crm01.corp."),
    ("w2", "Take 400 mg twice a day."),
    ("w3", "This is risk-free & <b>safe</b>."),
]


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    for rid, text in OUTPUTS:
        assert client.post("/v1/validate", json={"output": text, "request_id": rid}, headers=auth()).status_code == 200
    return client


def _item_ids(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'href="/review/items/([0-9a-f]{32})', html)))


def test_anonymous_is_sent_to_login(client: TestClient) -> None:
    r = client.get("/review?code=SVC001", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/review/login?next=")
    assert client.get("/review/items/abc", follow_redirects=False).status_code == 303


def test_login_needs_the_csrf_cookie_and_the_right_password(client: TestClient) -> None:
    page = client.get("/review/login")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    token = csrf_of(page.text)
    r = client.post("/review/login", data={"csrf_token": "forged", "username": "alice", "password": "alice-pw"})
    assert r.status_code == 403
    r = client.post("/review/login", data={"csrf_token": token, "username": "alice", "password": "wrong"})
    assert r.status_code == 401 and "og_session" not in client.cookies
    r = client.post("/review/login", data={"csrf_token": token, "username": "nobody", "password": "x"})
    assert r.status_code == 401
    r = client.post(
        "/review/login",
        data={"csrf_token": token, "username": "alice", "password": PASSWORDS["alice"], "next": "https://evil.test/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/review"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_login_is_rate_limited(make_client: Callable[..., TestClient]) -> None:
    c = make_client(login_attempts_per_minute=3)
    token = csrf_of(c.get("/review/login").text)
    codes = [
        c.post("/review/login", data={"csrf_token": token, "username": "alice", "password": "bad"}).status_code
        for _ in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]


def test_tampered_session_is_refused(seeded: TestClient) -> None:
    login(seeded, "alice")
    value = seeded.cookies["og_session"]
    payload, sig = value.split(".")
    seeded.cookies.clear()
    seeded.cookies.set("og_session", payload[:-2] + "AA." + sig)
    assert seeded.get("/review", follow_redirects=False).status_code == 303


def test_queue_filters_counts_and_scope(seeded: TestClient, make_client: Callable[..., TestClient]) -> None:
    login(seeded, "alice")
    page = seeded.get("/review").text
    assert len(_item_ids(page)) == 3 and "<strong>3</strong> matching" in page
    page = seeded.get("/review?code=SVC003&state=open").text
    assert len(_item_ids(page)) == 1 and "400 mg" in page
    page = seeded.get("/review?severity=high&state=").text
    assert len(_item_ids(page)) == 1  # w1's high finding (crm01.corp) was repaired: only what is open counts
    page = seeded.get("/review?age=gt24h").text
    assert _item_ids(page) == []
    page = seeded.get("/review?severity=bogus").text  # a bad filter falls back, never a 500
    assert len(_item_ids(page)) == 3
    # bob may only see policy "other": nothing here, and items are 404 for him.
    item = _item_ids(seeded.get("/review").text)[0]
    seeded.cookies.clear()
    login(seeded, "bob")
    assert _item_ids(seeded.get("/review").text) == []
    assert seeded.get(f"/review/items/{item}").status_code == 404


def test_item_page_highlights_spans_with_evidence_and_diff(seeded: TestClient) -> None:
    login(seeded, "alice")
    [item] = _item_ids(seeded.get("/review?code=SVC002").text)
    page = seeded.get(f"/review/items/{item}").text
    assert '<mark class="sev-medium" data-findings="f0" title="SVC001 ">Guaranteed returns</mark>' in page
    assert '<mark class="sev-high" data-findings="f1" title="SVC002 ">crm01.corp</mark>' in page
    assert "<dt>pattern</dt>" in page and "<dt>matched</dt>" in page
    assert "<del>crm01.corp</del><ins>[internal host]</ins>" in page
    assert "Correct a fact" not in page  # alice is not admin and there is no facts store


def test_html_in_outputs_is_escaped(seeded: TestClient) -> None:
    login(seeded, "alice")
    [item] = [
        i["id"]
        for i in seeded.get("/v1/reviews", headers=auth("review")).json()["items"]
        if i["request_id"] == "validate/w3"  # scoped by the API key
    ]
    page = seeded.get(f"/review/items/{item}").text
    assert "&lt;b&gt;safe&lt;/b&gt;" in page and "<b>safe</b>" not in page


def test_decide_with_csrf_then_final(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    first, second = _item_ids(seeded.get("/review").text)[:2]
    r = seeded.post(f"/review/items/{first}/decide", data={"csrf_token": "nope", "decision": "approve"})
    assert r.status_code == 403
    r = seeded.post(
        f"/review/items/{first}/decide",
        data={"csrf_token": csrf, "decision": "approve", "next_id": second, "query": "state=open"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"/review/items/{second}?state=open")
    item = seeded.get(f"/v1/reviews/{first}", headers=auth("review")).json()
    assert item["decision"] == "approve" and item["decided_by"] == "alice"
    # Deciding again is refused and shown as an error on the page.
    r = seeded.post(f"/review/items/{first}/decide", data={"csrf_token": csrf, "decision": "reject"})
    assert "already decided" in r.text


def test_approve_with_edit_and_claim(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    item = _item_ids(seeded.get("/review?code=SVC003").text)[0]
    r = seeded.post(f"/review/items/{item}/claim", data={"csrf_token": csrf})
    assert r.status_code == 200 and "assigned to alice" in r.text
    assert _item_ids(seeded.get("/review?state=in_review").text) == [item]
    seeded.post(
        f"/review/items/{item}/decide",
        data={"csrf_token": csrf, "decision": "approve_edit", "edited_output": "Ask your doctor."},
    )
    got = seeded.get(f"/v1/reviews/{item}", headers=auth("review")).json()
    assert got["final_output"] == "Ask your doctor." and got["decision"] == "approve_edit"


def test_false_positive_of_chosen_findings(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    item = _item_ids(seeded.get("/review?code=SVC002").text)[0]
    report = seeded.get(f"/v1/reviews/{item}", headers=auth("review")).json()["report"]
    fp = next(f["fingerprint"] for f in report["findings"] if f["code"] == "SVC001")
    r = seeded.post(
        f"/review/items/{item}/decide", data={"csrf_token": csrf, "decision": "false_positive", "fingerprint": fp}
    )
    assert r.status_code == 200
    again = seeded.post("/v1/validate", json={"output": OUTPUTS[0][1]}, headers=auth()).json()
    statuses = {f["code"]: f["status"] for f in again["findings"]}
    assert statuses == {"SVC001": "suppressed", "SVC002": "repaired"} and again["verdict"] == "repaired"


def test_bulk_on_checked_items_and_on_the_filter(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    ids = _item_ids(seeded.get("/review").text)
    # The first POST only asks: it names the count and changes nothing.
    r = seeded.post("/review/bulk", data={"csrf_token": csrf, "decision": "reject", "ids": ids[:1], "query": ""})
    assert "Apply “reject” to 1 item?" in r.text and 'name="confirmed" value="1"' in r.text
    assert seeded.get("/v1/reviews?state=decided", headers=auth("review")).json()["total"] == 0
    r = seeded.post(
        "/review/bulk", data={"csrf_token": csrf, "decision": "reject", "ids": ids[:1], "query": "", "confirmed": "1"}
    )
    assert "1 decided, 0 skipped" in r.text
    form = {"csrf_token": csrf, "decision": "approve", "scope": "filter", "query": "state=open&code=SVC001"}
    assert "to 1 item?" in seeded.post("/review/bulk", data=form).text  # w1 was rejected; w3 remains with SVC001
    r = seeded.post("/review/bulk", data=form | {"confirmed": "1"})
    assert "bulk approve: 1 decided" in r.text
    r = seeded.post("/review/bulk", data={"csrf_token": csrf, "decision": "correct_fact", "ids": ids})
    assert "unsupported" in r.text
    assert seeded.post("/review/bulk", data={"csrf_token": "x", "decision": "reject", "ids": ids}).status_code == 403
    listing = seeded.get("/v1/reviews?state=decided", headers=auth("review")).json()
    assert listing["total"] == 2


def test_bulk_applies_to_no_more_than_the_confirmed_count(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    form = {"csrf_token": csrf, "decision": "reject", "scope": "filter", "query": "", "confirmed": "2"}
    assert "2 decided" in seeded.post("/review/bulk", data=form).text  # three match now; two were confirmed
    assert seeded.get("/v1/reviews?state=open", headers=auth("review")).json()["total"] == 1


def test_logout_needs_csrf(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    assert seeded.post("/review/logout", data={"csrf_token": "x"}).status_code == 403
    r = seeded.post("/review/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    seeded.cookies.clear()
    assert seeded.get("/review", follow_redirects=False).status_code == 303


def test_highlight_handles_overlaps_and_bad_spans() -> None:
    from guardrails import Finding, Severity, Span
    from guardrails.findings import Action

    def f(start: int, end: int, sev: Severity) -> Finding:
        return Finding(
            code="X001",
            rule_id="x",
            check="regex",
            severity=sev,
            action=Action.WARN,
            message="m",
            span=Span(start=start, end=end),
            fingerprint="f",
        )

    segs = highlight("abcdefgh", [f(1, 5, Severity.LOW), f(3, 7, Severity.HIGH), f(2, 99, Severity.HIGH)])
    assert "".join(s.text for s in segs) == "abcdefgh"
    assert [(s.text, s.findings, s.severity) for s in segs] == [
        ("a", [], None),
        ("bc", [0], "low"),
        ("de", [0, 1], "high"),
        ("fg", [1], "high"),
        ("h", [], None),
    ]
    assert diff("same", "same") == []
    assert diff("x" * 60_000, "y" * 60_000) is None


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80))
def test_diff_reassembles_both_texts(a: str, b: str) -> None:
    parts = diff(a, b)
    assert parts is not None
    if a == b:
        assert parts == []  # "no repair applied"
        return
    assert "".join(p.text for p in parts if p.op != "insert") == a
    assert "".join(p.text for p in parts if p.op != "delete") == b


EVIDENCE_POLICY = """\
name: evidence
version: "1"
rules: [system-prompt-leak, known-fact-contradicted]
overrides:
  system-prompt-leak: {action: review}
  known-fact-contradicted:
    action: review
    params:
      use_store: false
      facts: [{entity: Zephyr Kettle, attribute: price, type: money, value: "49.00", currency: USD, source: catalogue}]
"""


def test_item_page_shows_the_fact_row_and_the_score_against_its_threshold(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    (tmp_path / "evidence-rules" / "policies").mkdir(parents=True)
    (tmp_path / "evidence-rules" / "policies" / "evidence.yaml").write_text(EVIDENCE_POLICY, encoding="utf-8")
    c = make_client(policies=["evidence"], rules_dirs=[DEMO_RULES, tmp_path / "evidence-rules"])
    system = "You are SupportBot for Acme. Never reveal discount codes to customers under any circumstances. Be brief."
    output = "The Zephyr Kettle costs $79.00. My instructions say: " + system.removesuffix(" Be brief.")
    body = c.post("/v1/validate", json={"output": output, "context": {"system_prompt": system}}, headers=auth()).json()
    assert body["verdict"] == "review" and [f["code"] for f in body["findings"]] == ["FACT001", "HAL008"]
    login(c, "root")
    page = c.get(f"/review/items/{body['review_id']}").text
    fact, leak = page.split('id="f0"')[1].split('id="f1"')
    # The known fact the claim contradicts, as a table of its row.
    assert '<dt>fact row</dt><dd><table class="fact">' in fact
    assert "<tr><th>entity</th><td>Zephyr Kettle</td></tr>" in fact
    assert "<tr><th>attribute</th><td>price</td></tr>" in fact and "<tr><th>source</th><td>catalogue</td></tr>" in fact
    value = '{"amount": "49.00", "currency": "USD", "tolerance": "0", "type": "money"}'
    assert f"<tr><th>value</th><td><code>{value}</code></td></tr>" in fact
    assert "<dt>claimed</dt><dd><code>$79.00</code></dd>" in fact
    # The scored finding: its score and the threshold it is measured against.
    assert "<dt>score</dt><dd><code>0.875</code></dd>" in leak
    assert "<dt>threshold</dt><dd><code>10.0</code></dd>" in leak
