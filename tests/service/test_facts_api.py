"""The facts API (get, set, import) and the review decision that corrects a fact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

pytest.importorskip("guardrails.facts")

from tests.service.conftest import auth, csrf_of, login


@pytest.fixture
def facts_client(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    return make_client(facts_db=f"sqlite:///{tmp_path / 'facts.sqlite3'}")


def test_no_facts_store_is_404(client: TestClient) -> None:
    r = client.get("/v1/facts", params={"entity": "x"}, headers=auth())
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_configured"


def test_set_and_get(facts_client: TestClient) -> None:
    fact = {"entity": "Acme X1", "attribute": "price", "type": "money", "value": "999", "currency": "USD"}
    assert facts_client.post("/v1/facts", json=fact, headers=auth()).status_code == 403  # validate scope only
    r = facts_client.post("/v1/facts", json=fact, headers=auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["value"]["currency"] == "USD"
    got = facts_client.get("/v1/facts", params={"entity": "acme x1"}, headers=auth()).json()
    assert [f["attribute"] for f in got] == ["price"]
    r = facts_client.post(
        "/v1/facts", json={"entity": "x", "attribute": "y", "type": "nope", "value": 1}, headers=auth("admin")
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_fact"


def test_import_reports_row_errors(facts_client: TestClient) -> None:
    good = "entity,attribute,type,value,unit\nWidget,weight,number,12,kg\nWidget,colour,text,blue,\n"
    r = facts_client.post("/v1/facts/import", files={"file": ("facts.csv", good, "text/csv")}, headers=auth("admin"))
    assert r.status_code == 200 and r.json() == {"imported": 2, "errors": []}
    bad = "entity,attribute,type,value\nWidget,weight,number,heavy\n"
    r = facts_client.post("/v1/facts/import", files={"file": ("bad.csv", bad, "text/csv")}, headers=auth("admin"))
    body = r.json()
    assert body["imported"] == 0 and body["errors"][0]["row"] == 1 and body["errors"][0]["field"] == "value"


def test_correct_fact_decision_writes_the_store(facts_client: TestClient) -> None:
    rid = facts_client.post("/v1/validate", json={"output": "Take 400 mg."}, headers=auth()).json()["review_id"]
    decision = {
        "kind": "correct_fact",
        "fact": {"entity": "ibuprofen", "attribute": "max single dose", "type": "number", "value": 400, "unit": "mg"},
    }
    r = facts_client.post(f"/v1/reviews/{rid}/decision", json=decision, headers=auth("admin"))
    assert r.status_code == 200, r.text
    [fact] = facts_client.get("/v1/facts", params={"entity": "ibuprofen"}, headers=auth()).json()
    assert fact["value"] == {"type": "number", "value": 400.0, "unit": "mg", "tolerance": 0.0}
    assert fact["source"] == "review:key:admin"


def test_correct_fact_from_the_page_as_admin(facts_client: TestClient) -> None:
    rid = facts_client.post("/v1/validate", json={"output": "Take 5 mg."}, headers=auth()).json()["review_id"]
    login(facts_client, "root")
    page = facts_client.get(f"/review/items/{rid}").text
    assert "Correct a fact" in page
    r = facts_client.post(
        f"/review/items/{rid}/decide",
        data={
            "csrf_token": csrf_of(page),
            "decision": "correct_fact",
            "fact_entity": "melatonin",
            "fact_attribute": "dose",
            "fact_type": "number",
            "fact_value": "not a number",
        },
    )
    assert "invalid" in r.text  # a bad value is shown on the page; the item stays open
    r = facts_client.post(
        f"/review/items/{rid}/decide",
        data={
            "csrf_token": csrf_of(page),
            "decision": "correct_fact",
            "fact_entity": "melatonin",
            "fact_attribute": "dose",
            "fact_type": "number",
            "fact_value": "5",
            "fact_unit": "mg",
        },
    )
    assert r.status_code == 200
    [fact] = facts_client.get("/v1/facts", params={"entity": "melatonin"}, headers=auth()).json()
    assert fact["value"]["value"] == 5.0 and fact["source"] == "review:root"
