"""The sidecar answers load problems as the same data the CLI prints as lines (service/errors.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from tests.service.conftest import auth


def test_sidecar_answers_load_problems_as_a_json_list(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    rules = tmp_path / "rules"
    (rules / "policies").mkdir(parents=True)
    (rules / "p.yaml").write_text("pack: p\nrules:\n  - id: x-y\n    code: TST001\n    check: regex\n    mesage: m\n")
    client = make_client(rules_dirs=[rules], policies=["demo"])
    r = client.get("/readyz")
    assert r.status_code == 503
    details = r.json()["error"]["details"]
    unknown = next(d for d in details if d["type"] == "unknown-key")
    assert unknown == {
        "type": "unknown-key",
        "message": f"{rules / 'p.yaml'}: rule 'x-y': unknown key 'mesage' (did you mean 'message'?)",
        "file": str(rules / "p.yaml"),
        "rule": "x-y",
        "loc": "mesage",
        "line": 6,
        "column": 5,
        "hint": "did you mean 'message'?",
    }


def test_invalid_request_details_carry_field_and_type(make_client: Callable[..., TestClient]) -> None:
    r = make_client().post("/v1/validate", json={"output": 5, "oops": "x"}, headers=auth())
    assert r.status_code == 422
    details = {d["field"]: d for d in r.json()["error"]["details"]}
    assert details["body.oops"]["type"] == "extra_forbidden"
    assert details["body.output"]["type"] == "string_type"
