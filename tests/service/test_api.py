"""The JSON API: auth and scopes, limits, errors as JSON, validate/batch, policies/rules, health, metrics."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from guardrails import Engine, Report
from tests.service.conftest import DEMO_RULES, auth


def test_validate_answers_the_library_report(client: TestClient) -> None:
    text = "Our fund has guaranteed returns; see db01.corp."
    r = client.post("/v1/validate", json={"output": text}, headers=auth())
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    report = Report.model_validate(body)
    assert report.verdict.value == "review"
    assert [f.code for f in report.findings] == ["SVC001", "SVC002"]
    assert report.output == "Our fund has guaranteed returns; see [internal host]."
    assert report.review_id  # queued, and the caller gets the id
    assert r.headers["x-request-id"]


def test_request_id_stores_one_review_item(client: TestClient) -> None:
    ids = {
        client.post("/v1/validate", json={"output": f"risk-free #{i}", "request_id": "same"}, headers=auth()).json()[
            "review_id"
        ]
        for i in range(3)
    }
    assert len(ids) == 1
    listing = client.get("/v1/reviews", headers=auth("review")).json()
    assert listing["total"] == 1 and listing["items"][0]["output"] == "risk-free #0"


def test_pass_is_not_queued(client: TestClient) -> None:
    body = client.post("/v1/validate", json={"output": "Hello there"}, headers=auth()).json()
    assert body["verdict"] == "pass" and body["review_id"] is None
    assert client.get("/v1/reviews", headers=auth("review")).json()["total"] == 0


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer nope"}, 401, "unauthorized"),
        ({"X-API-Key": "nope"}, 401, "unauthorized"),
        (auth("review"), 403, "forbidden"),
    ],
)
def test_auth_and_scopes(client: TestClient, headers: dict[str, str], status: int, code: str) -> None:
    r = client.post("/v1/validate", json={"output": "x"}, headers=headers)
    assert r.status_code == status and r.json()["error"]["code"] == code


def test_admin_key_has_every_scope_and_x_api_key_works(client: TestClient) -> None:
    from tests.service.conftest import KEYS

    assert client.post("/v1/validate", json={"output": "x"}, headers={"X-API-Key": KEYS["admin"]}).status_code == 200
    assert client.get("/v1/reviews", headers=auth("admin")).status_code == 200
    assert client.get("/v1/reviews", headers=auth("validate")).status_code == 403


def test_rate_limit_per_key(make_client: Callable[..., TestClient]) -> None:
    c = make_client(rate_limit_rps=0.01, rate_limit_burst=3)
    codes = [c.post("/v1/validate", json={"output": "x"}, headers=auth()).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = c.post("/v1/validate", json={"output": "x"}, headers=auth())
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    # Another key has its own bucket.
    assert c.post("/v1/validate", json={"output": "x"}, headers=auth("admin")).status_code == 200


def test_body_size_limit(make_client: Callable[..., TestClient]) -> None:
    c = make_client(max_body_bytes=1000)
    r = c.post("/v1/validate", json={"output": "x" * 5000}, headers=auth())
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    def chunks():  # no content-length: the limit applies to the streamed body too
        for _ in range(10):
            yield b"x" * 500

    r = c.post("/v1/validate", content=chunks(), headers={**auth(), "content-type": "application/json"})
    assert r.status_code == 413


def test_invalid_requests_answer_json_without_echoing_input(client: TestClient) -> None:
    secret = "4111 1111 1111 1111 jane@example.com"
    r = client.post("/v1/validate", json={"output": 5, "oops": secret}, headers=auth())
    assert r.status_code == 422
    body = r.json()
    assert body["error"]["code"] == "invalid_request"
    assert {d["field"] for d in body["error"]["details"]} == {"body.output", "body.oops"}
    assert secret not in r.text
    r = client.post("/v1/validate", content=b"{not json", headers={**auth(), "content-type": "application/json"})
    assert r.status_code == 422 and "error" in r.json()
    assert client.get("/v1/nope", headers=auth()).json()["error"]["code"] == "not_found"
    r = client.post("/v1/validate", json={"output": "x", "policy": "nope"}, headers=auth())
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_policy"


def test_crash_is_answered_as_json_without_internals(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = client.app.state.outguard.engines["demo"]  # type: ignore[attr-defined]

    def boom(*_a: object, **_k: object) -> Report:
        raise RuntimeError("secret internal detail: jane@example.com")

    monkeypatch.setattr(engine, "validate", boom)
    with caplog.at_level(logging.INFO):
        r = client.post("/v1/validate", json={"output": "hello"}, headers=auth())
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal"
    assert "secret" not in r.text and "Traceback" not in r.text
    assert "jane@example.com" not in caplog.text and "RuntimeError" in caplog.text
    # Nothing propagates to the server (which would log the traceback with the message).
    with TestClient(client.app, raise_server_exceptions=True) as strict:
        r = strict.post("/v1/validate", json={"output": "hello"}, headers=auth())
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal"


def test_logs_never_carry_output_text_unless_enabled(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    marker = "guaranteed returns for Jane Roe at jane.roe@example.com"
    # What reviewers and admins type (notes, edits, facts) is never logged, whatever log_content says.
    typed = "reviewer-typed-zq81 ann.lee@example.org"
    for log_content in (False, True):
        c = make_client(log_content=log_content, facts_db=f"sqlite:///{tmp_path / f'facts-{log_content}.sqlite3'}")
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            r = c.post("/v1/validate", json={"output": marker, "context": {"prompt": "pp-secret"}}, headers=auth())
            c.post("/v1/validate/batch", json={"items": [{"output": marker}]}, headers=auth())
            c.post("/v1/validate", json={"output": 7, "x": marker}, headers=auth())
            second = c.post("/v1/validate", json={"output": "risk-free, really"}, headers=auth()).json()["review_id"]
            decided = [
                c.post(
                    f"/v1/reviews/{r.json()['review_id']}/decision",
                    json={"kind": "approve_edit", "note": typed, "edited_output": f"Edited: {typed}"},
                    headers=auth("review"),
                ),
                c.post(
                    f"/v1/reviews/{second}/decision", json={"kind": "reject", "note": typed}, headers=auth("review")
                ),
            ]
            fact = {"entity": typed, "attribute": "contact", "type": "text", "value": typed}
            facts = [
                c.post("/v1/facts", json=fact, headers=auth("admin")),
                c.post("/v1/facts", json={**fact, "type": "nope"}, headers=auth("admin")),
                c.get("/v1/facts", params={"entity": typed}, headers=auth()),
            ]
        assert [x.status_code for x in decided] == [200, 200]
        assert [x.status_code for x in facts] == [200, 422, 200] and facts[2].json()[0]["entity"] == typed
        # The test client logs its own request URLs (query strings included); the service's logs are the rest.
        logged = "\n".join(
            f"{r.levelname} {r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith("httpx")
        )
        assert "POST /v1/validate 200" in logged and "verdict=review" in logged
        assert "POST /v1/reviews/{item_id}/decision 200" in logged and "POST /v1/facts 422" in logged
        assert (marker in logged) is log_content
        assert "pp-secret" not in logged and "zq81" not in logged and "ann.lee" not in logged
        assert "jane.roe" not in logged.replace(marker, "") if log_content else "jane.roe" not in logged


def test_batch_keeps_order_and_checks_policies_first(client: TestClient) -> None:
    items = [{"output": "ok"}, {"output": "take 5 mg"}, {"output": "db.internal", "request_id": "b3"}]
    r = client.post("/v1/validate/batch", json={"items": items}, headers=auth())
    assert r.status_code == 200
    reports = r.json()["reports"]
    assert [rep["verdict"] for rep in reports] == ["pass", "review", "repaired"]
    r = client.post("/v1/validate/batch", json={"items": [{"output": "x", "policy": "nope"}]}, headers=auth())
    assert r.status_code == 404
    r = client.post("/v1/validate/batch", json={"items": []}, headers=auth())
    assert r.status_code == 422


def test_batch_limit(make_client: Callable[..., TestClient]) -> None:
    c = make_client(max_batch=2)
    r = c.post("/v1/validate/batch", json={"items": [{"output": "x"}] * 3}, headers=auth())
    assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large"


def test_policies_and_rules(client: TestClient) -> None:
    policies = client.get("/v1/policies", headers=auth()).json()
    assert [p["name"] for p in policies] == ["demo"] and policies[0]["default"]
    assert "unverified-guarantee" in policies[0]["rules"]
    rules = {r["code"]: r for r in client.get("/v1/rules", headers=auth()).json()}
    assert rules["SVC001"]["policies"] == ["demo"] and rules["SVC001"]["action"] == "review"
    assert rules["TXT001"]["pack"] == "text" and rules["TXT001"]["policies"] == ["demo"]


def test_health_ready_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "policies": ["demo"]}
    client.post("/v1/validate", json={"output": "risk-free, 5 mg"}, headers=auth())
    text = client.get("/metrics").text
    assert 'outguard_verdicts_total{policy="demo",verdict="review"} 1.0' in text
    assert 'outguard_findings_total{code="SVC001",policy="demo",status="open"} 1.0' in text
    assert 'outguard_check_seconds_count{check="regex",policy="demo",rule="unverified-guarantee"}' in text
    assert 'outguard_requests_total{method="POST",route="/v1/validate",status="200"} 1.0' in text
    assert "outguard_ready 1.0" in text


def test_not_ready_until_required_policies_compile(make_client: Callable[..., TestClient]) -> None:
    c = make_client(policies=["demo", "no-such-policy"])
    r = c.get("/readyz")
    assert r.status_code == 503 and "no-such-policy" in r.text
    assert c.post("/v1/validate", json={"output": "x"}, headers=auth()).status_code == 503
    assert c.get("/healthz").status_code == 200
    # An optional policy that fails does not block readiness.
    ok = make_client(policies=["demo"], optional_policies=["no-such-policy"])
    assert ok.get("/readyz").status_code == 200


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/validate", "/v1/validate/batch", "/v1/policies", "/v1/rules", "/healthz", "/readyz"} <= set(
        spec["paths"]
    )
    assert "Report" in spec["components"]["schemas"]
    assert not any(p.startswith("/review") for p in spec["paths"])
    held = spec["paths"]["/v1/validate"]["post"]["responses"]["202"]["content"]["application/json"]["schema"]
    assert held == {"$ref": "#/components/schemas/HeldAck"}
    assert {"id", "result_url", "expires_at"} <= set(spec["components"]["schemas"]["HeldAck"]["required"])


def test_review_api_decision_and_export(client: TestClient) -> None:
    rid = client.post("/v1/validate", json={"output": "risk-free!", "request_id": "r1"}, headers=auth()).json()[
        "review_id"
    ]
    r = client.post(f"/v1/reviews/{rid}/decision", json={"kind": "reject", "note": "no"}, headers=auth("review"))
    assert r.status_code == 200 and r.json()["decision"] == "reject"
    r = client.post(f"/v1/reviews/{rid}/decision", json={"kind": "approve"}, headers=auth("review"))
    assert r.status_code == 409
    r = client.post("/v1/reviews/missing/decision", json={"kind": "approve"}, headers=auth("review"))
    assert r.status_code == 404
    export = client.get("/v1/reviews/export", headers=auth("review")).text.splitlines()
    assert len(export) == 1 and '"flagged": true' in export[0] and '"text": "risk-free!"' in export[0]


def test_false_positive_feeds_back_into_validation(client: TestClient) -> None:
    text = "This plan is risk-free."
    rid = client.post("/v1/validate", json={"output": text}, headers=auth()).json()["review_id"]
    r = client.post(f"/v1/reviews/{rid}/decision", json={"kind": "false_positive"}, headers=auth("review"))
    assert r.status_code == 200
    again = client.post("/v1/validate", json={"output": text}, headers=auth()).json()
    assert again["verdict"] == "pass" and again["findings"][0]["status"] == "suppressed"


def test_correct_fact_needs_admin_and_a_facts_store(client: TestClient) -> None:
    rid = client.post("/v1/validate", json={"output": "take 5 mg"}, headers=auth()).json()["review_id"]
    decision = {"kind": "correct_fact", "fact": {"entity": "x", "attribute": "dose", "value": "5 mg"}}
    assert client.post(f"/v1/reviews/{rid}/decision", json=decision, headers=auth("review")).status_code == 403
    r = client.post(f"/v1/reviews/{rid}/decision", json=decision, headers=auth("admin"))
    assert r.status_code == 422 and "facts store" in r.json()["error"]["message"]


def test_validate_huge_and_hostile_outputs(make_client: Callable[..., TestClient], tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A generous deadline: on a loaded CI machine a megabyte can outrun the default 250 ms on one side only,
    # and fail-closed (block) against review is then a timing difference, not a parity bug.
    rules = tmp_path / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "slow.yaml").write_text('name: slow\nrules: ["pack:demo", "pack:text"]\ndeadline_ms: 30000\n')
    client = make_client(policies=["slow"], rules_dirs=[DEMO_RULES, rules])
    engine = Engine.from_policy("slow", [DEMO_RULES, rules])
    for text in ["", "\x00\ud7ff\U0001f600" * 100, "é" * 500_000, "risk-free " * 10_000]:
        r = client.post("/v1/validate", json={"output": text}, headers=auth())
        assert r.status_code == 200
        body = r.json()
        assert not [f for f in body["findings"] if f["code"].startswith("ENG")]
        assert body["verdict"] == engine.validate(text).verdict.value


def test_sample_rate_queues_passing_outputs_as_sampled(make_client: Callable[..., TestClient], tmp_path) -> None:  # type: ignore[no-untyped-def]
    rules = tmp_path / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "policies" / "sampled.yaml").write_text('name: sampled\nrules: ["pack:demo"]\nreview_sample_rate: 1.0\n')
    c = make_client(policies=["sampled"], rules_dirs=[DEMO_RULES, rules])
    body = c.post("/v1/validate", json={"output": "All good here.", "request_id": "s1"}, headers=auth()).json()
    assert body["verdict"] == "pass" and body["review_id"]
    item = c.get(f"/v1/reviews/{body['review_id']}", headers=auth("review")).json()
    assert item["sampled"] is True and item["codes"] == []


def test_layering_service_uses_only_public_guardrails() -> None:
    """service/ imports guardrails' public API and its stores, nothing private."""
    import ast

    allowed = {"guardrails", "guardrails.reviews", "guardrails.facts", "guardrails.guard", "guardrails.telemetry"}
    allowed.add("guardrails.results_cache")  # the result cache: a public package, like the stores
    allowed.add("guardrails.text")  # the text layer: public, like the check API
    root = DEMO_RULES.parents[2] / "service"
    bad = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("guardrails"):
                if node.module not in allowed:
                    bad.append(f"{path.relative_to(root)}: from {node.module}")
            elif isinstance(node, ast.Import):
                bad.extend(
                    f"{path}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("guardrails.") and a.name not in allowed
                )
    assert bad == []


def test_review_store_imports_only_the_bottom_layer() -> None:
    import ast

    pkg = DEMO_RULES.parents[2] / "guardrails" / "reviews"
    allowed = {"guardrails.findings", "guardrails.context", "guardrails.errors"}  # errors: the bottom layer
    for path in pkg.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("guardrails"):
                assert node.module in allowed or node.module.startswith("guardrails.reviews"), (path.name, node.module)


def test_openapi_page_works_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets  # nothing from a CDN
    for asset in assets:
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 500, asset
    bundle = client.get("/docs/assets/swagger-ui-bundle.js").text
    assert '"5.' in bundle  # Swagger UI 5: the first major version that renders OpenAPI 3.1
