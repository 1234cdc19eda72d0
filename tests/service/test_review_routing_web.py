"""Routing to reviewer groups on the review page: an admin sees and changes it, a group member's default
view and "next unclaimed" give the routed items first, the rest stay under "all"; a search's count is capped."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import auth, login

OUTPUTS = [
    ("g1", "Our plan is risk-free."),  # SVC001, the oldest
    ("d1", "Take 400 mg twice a day."),  # SVC003
    ("g2", "This fund is risk-free too."),  # SVC001
]
ROUTING = "groups:\n  medical:\n    members: [alice]\n    codes: [SVC003]\n"


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    for rid, text in OUTPUTS:
        body = {"output": text, "request_id": rid, "context": {"prompt": f"prompt of {rid}"}}
        assert client.post("/v1/validate", json=body, headers=auth()).status_code == 200
    return client


def _ids(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'href="/review/items/([0-9a-f]{32})', html)))


def _id_of(client: TestClient, rid: str) -> str:
    items = client.get("/v1/reviews", headers=auth("review")).json()["items"]
    return str(next(i["id"] for i in items if i["request_id"] == f"validate/{rid}"))  # ids are scoped by key


def _set_routing(client: TestClient, text: str) -> str:
    csrf = login(client, "root")
    r = client.post("/review/routing", data={"csrf_token": csrf, "routing": text})
    client.cookies.clear()
    return r.text


def test_only_an_admin_changes_the_routing_and_errors_name_the_field(seeded: TestClient) -> None:
    csrf = login(seeded, "alice")
    page = seeded.get("/review/routing")
    assert page.status_code == 200 and "You are in no group" in page.text and 'id="routing-form"' not in page.text
    r = seeded.post("/review/routing", data={"csrf_token": csrf, "routing": ROUTING})
    assert r.status_code == 403
    assert seeded.post("/review/routing", data={"csrf_token": "wrong", "routing": ROUTING}).status_code == 403
    seeded.cookies.clear()
    csrf = login(seeded, "root")
    bad = seeded.post("/review/routing", data={"csrf_token": csrf, "routing": "groups: {medical: {colour: red}}"})
    assert bad.status_code == 400 and "groups.medical.colour" in bad.text
    assert "colour: red" in bad.text  # the admin's text is kept in the form to fix, not lost
    ok = seeded.post(
        "/review/routing", data={"csrf_token": csrf, "routing": ROUTING + "  ghosts:\n    members: [nobody]\n"}
    )
    assert ok.status_code == 200 and "not reviewers of this service: nobody" in ok.text
    assert "SVC003" in ok.text and "root" in ok.text  # the table, and who changed it last
    seeded.cookies.clear()
    login(seeded, "alice")
    assert "medical" in seeded.get("/review/routing").text


def test_a_group_members_default_view_and_next_take_routed_items_first(seeded: TestClient) -> None:
    dose = _id_of(seeded, "d1")
    oldest = _id_of(seeded, "g1")
    _set_routing(seeded, ROUTING)
    csrf = login(seeded, "alice")
    default = seeded.get("/review")
    assert _ids(default.text) == [dose] and "Routed to medical" in default.text
    everything = seeded.get("/review?view=all")
    assert set(_ids(everything.text)) == {dose, oldest, _id_of(seeded, "g2")}
    # "next" claims the routed item, though another is older.
    r = seeded.post("/review/next", data={"csrf_token": csrf, "query": "state=pending"})
    assert r.url.path == f"/review/items/{dose}"
    # Decided, the next one comes from outside the group (nothing routed is left): work is never stuck.
    r = seeded.post(f"/review/items/{dose}/decide", data={"csrf_token": csrf, "decision": "reject", "query": ""})
    assert r.url.path == f"/review/items/{oldest}"
    # A reviewer in no group works the whole queue, oldest first.
    seeded.cookies.clear()
    csrf = login(seeded, "root")
    assert "Routed to" not in seeded.get("/review").text
    r = seeded.post("/review/next", data={"csrf_token": csrf, "query": "state=pending"})
    assert r.url.path == f"/review/items/{_id_of(seeded, 'g2')}"  # alice holds the oldest


def test_the_seed_file_fills_an_empty_database_once(
    make_client: Callable[..., TestClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = tmp_path / "routing.yaml"
    seed.write_text(ROUTING)
    monkeypatch.setenv("OUTGUARD_REVIEW_ROUTING", str(seed))
    client: TestClient = make_client()
    login(client, "alice")
    assert "medical" in client.get("/review/routing").text


def test_a_common_word_search_says_how_far_it_counted(seeded: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import service.review.web as web

    login(seeded, "root")
    monkeypatch.setattr(web, "SEARCH_COUNT_CAP", 1)
    page = seeded.get("/review?q=risk")
    assert "<strong>1+</strong> matching" in page.text and len(_ids(page.text)) == 2
    monkeypatch.setattr(web, "SEARCH_COUNT_CAP", 1000)
    assert "<strong>2</strong> matching" in seeded.get("/review?q=risk").text


def test_the_routing_json_api_is_admin_only_and_validated(seeded: TestClient) -> None:
    assert seeded.get("/v1/reviewer-groups", headers=auth("review")).status_code == 403
    assert seeded.get("/v1/reviewer-groups", headers=auth("admin")).json()["groups"] == {}
    doc = {"groups": {"medical": {"members": ["alice"], "codes": ["SVC003"]}}}
    assert seeded.put("/v1/reviewer-groups", json=doc, headers=auth("review")).status_code == 403
    r = seeded.put("/v1/reviewer-groups", json=doc, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["updated_by"] == "key:admin"
    assert r.json()["groups"]["medical"] == {"members": ["alice"], "policies": [], "codes": ["SVC003"]}
    bad = seeded.put("/v1/reviewer-groups", json={"groups": {"x": {"colour": "red"}}}, headers=auth("admin"))
    assert bad.status_code == 422 and "colour" in bad.text
    login(seeded, "alice")  # the page follows at once
    assert "Routed to medical" in seeded.get("/review").text
