"""Finding 7: client input that made the sidecar answer 5xx (and lose a review item).

A NUL in a request id (PostgreSQL text refuses it, so the queue insert failed after validation), a
non-ASCII CSRF token, a non-ASCII byte in the session cookie. Each must be a 4xx with the error shape and
nothing acknowledged may be lost. Then hypothesis throws arbitrary text and bytes at every field a caller
controls on the review endpoints and asserts that no answer is a 5xx.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.reviews import ReviewStore
from tests.service.conftest import PASSWORDS
from tests.service.server import Server, start_server, stop

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    srv = start_server(tmp_path_factory.mktemp(f"bad-input-{request.param}"), db_url=db_url)
    try:
        yield srv
    finally:
        stop(srv)


def _error_shape(r: httpx.Response) -> dict[str, object]:
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"]["code"], str) and body["error"]["message"], body
    error: dict[str, object] = body["error"]
    return error


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


_SESSIONS: dict[tuple[str, str], tuple[dict[str, str], str]] = {}


def _reviewer(srv: Server, name: str = "alice") -> tuple[httpx.Client, str]:
    """A client signed in as `name`: one login per server and name (logins are rate limited)."""
    if (srv.url, name) not in _SESSIONS:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            page = c.get("/review/login")
            r = c.post(
                "/review/login",
                data={"csrf_token": _csrf(page.text), "username": name, "password": PASSWORDS[name], "next": "/review"},
                follow_redirects=True,
            )
            assert r.status_code == 200, r.text[:500]
            _SESSIONS[srv.url, name] = ({"og_session": c.cookies["og_session"]}, _csrf(r.text))
    cookies, csrf = _SESSIONS[srv.url, name]
    return httpx.Client(base_url=srv.url, timeout=30, cookies=cookies), csrf


def _queued(srv: Server) -> str:
    with srv.client("validate") as c:
        r = c.post("/v1/validate", json={"output": "Guaranteed returns!", "request_id": uuid.uuid4().hex})
    assert r.status_code == 200 and r.json()["verdict"] == "review", r.text
    return str(r.json()["review_id"])


# -- the three reported cases -------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["request_id", "context.request_id"])
def test_nul_in_request_id_is_a_422_naming_the_field_and_nothing_is_lost(server: Server, where: str) -> None:
    rid = f"bad\x00{uuid.uuid4().hex}"
    body: dict[str, object] = {"output": "Guaranteed returns!"}
    if where == "request_id":
        body["request_id"] = rid
    else:
        body["context"] = {"request_id": rid}
    with server.client("validate") as c:
        r = c.post("/v1/validate", json=body)
        assert r.status_code == 422, r.text
        error = _error_shape(r)
        assert error["code"] == "invalid_request"
        assert any("request_id" in str(d["field"]) for d in error["details"]), error  # type: ignore[attr-defined]
        # Batch: same refusal, before any item of the batch is queued.
        good = {"output": "Guaranteed returns!", "request_id": uuid.uuid4().hex}
        r = c.post("/v1/validate/batch", json={"items": [good, body]})
        assert r.status_code == 422, r.text
        _error_shape(r)
        # The same output with a clean id is queued and kept.
        clean = {"output": "Guaranteed returns!", "request_id": rid.replace("\x00", "-")}
        r = c.post("/v1/validate", json=clean)
        assert r.status_code == 200 and r.json()["review_id"], r.text
    store = ReviewStore.open(server.db_url, create=False)
    try:
        assert store.get(r.json()["review_id"]).request_id == f"validate/{clean['request_id']}"  # scoped by key
    finally:
        store.close()


def test_non_ascii_csrf_token_on_login_is_a_4xx(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        c.get("/review/login")
        r = c.post("/review/login", data={"csrf_token": "é" * 8, "username": "alice", "password": "x"})
        assert 400 <= r.status_code < 500, r.text[:300]
        # The login cookie itself non-ASCII, the form's token ASCII.
        r = c.post(
            "/review/login",
            data={"csrf_token": "abc", "username": "alice", "password": "x"},
            headers={"Cookie": "og_login_csrf=\u00e9t\u00e9".encode("latin-1")},  # type: ignore[dict-item]
        )
        assert 400 <= r.status_code < 500, r.text[:300]


def test_non_ascii_csrf_token_on_decide_is_a_4xx_and_decides_nothing(server: Server) -> None:
    item_id = _queued(server)
    c, _csrf_token = _reviewer(server)
    with c:
        r = c.post(f"/review/items/{item_id}/decide", data={"csrf_token": "ü" * 10, "decision": "approve"})
        assert 400 <= r.status_code < 500, r.text[:300]
        for path in ("/review/logout", "/review/bulk", f"/review/items/{item_id}/claim"):
            r = c.post(path, data={"csrf_token": "ü" * 10, "decision": "approve", "ids": item_id})
            assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:300])
    with server.client("review") as api:
        assert api.get(f"/v1/reviews/{item_id}").json()["state"] == "open"


@pytest.mark.parametrize(
    "cookie", [b"og_session=\xff\xfe.abc", b"og_session=abc.\xe9\xe9", b"og_session=\xc3\xa9.\xc3\xa9", b"og_session=."]
)
def test_non_ascii_session_cookie_is_treated_as_no_session(server: Server, cookie: bytes) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for method, path in (("GET", "/review"), ("GET", "/review/items/" + "0" * 32), ("POST", "/review/logout")):
            r = c.request(method, path, headers={"Cookie": cookie})  # type: ignore[dict-item]
            assert r.status_code < 500, (path, r.status_code, r.text[:300])
            if method == "GET":
                assert r.status_code == 303 and r.headers["location"].startswith("/review/login"), r.headers


def test_nul_in_queue_lookups_is_a_4xx(server: Server) -> None:
    with server.client("review") as c:
        for path, params in (
            ("/v1/reviews/%00", None),
            ("/v1/reviews/a%00b/decision", None),
            ("/v1/reviews", {"code": "SVC\x00001"}),
            ("/v1/reviews", {"policy": "demo\x00"}),
        ):
            r = c.post(path, json={"kind": "approve"}) if path.endswith("decision") else c.get(path, params=params)
            assert r.status_code < 500, (path, r.status_code, r.text[:300])
            if r.status_code >= 400:
                _error_shape(r)
    c2, csrf = _reviewer(server, "root")
    with c2:
        for query in ("code=%00", "policy=%00", "state=%00", "severity=%00"):
            r = c2.get(f"/review?{query}")
            assert r.status_code < 500, (query, r.status_code)
        r = c2.get("/review/items/%00")
        assert r.status_code == 404
        r = c2.post(
            "/review/bulk", data={"csrf_token": csrf, "decision": "approve", "scope": "filter", "query": "code=%00"}
        )
        assert r.status_code < 500, r.text[:300]


# -- anything a caller sends ----------------------------------------------------------------------------

_text = st.text(max_size=60)
# Any byte an HTTP header may carry (h11 refuses control characters); ';' would split the cookie.
_raw = st.binary(max_size=40).map(lambda b: bytes(x for x in b if x >= 0x20 and x not in (0x3B, 0x7F)))


@FUZZ
@given(rid=_text, ctx_rid=st.one_of(st.none(), _text), prompt=st.one_of(st.none(), _text))
def test_any_request_id_is_answered_without_5xx(
    server: Server, rid: str, ctx_rid: str | None, prompt: str | None
) -> None:
    body: dict[str, object] = {"output": "Guaranteed returns!", "request_id": rid}
    body["context"] = {"request_id": ctx_rid, "prompt": prompt}
    with server.client("validate") as c:
        r = c.post("/v1/validate", json=body)
    assert r.status_code < 500, r.text[:300]
    if r.status_code == 200 and r.json()["verdict"] == "review":
        assert r.json()["review_id"]  # acknowledged: it must be in the queue
        with server.client("review") as api:
            assert api.get(f"/v1/reviews/{r.json()['review_id']}").status_code == 200
    else:
        assert r.status_code == 200 or _error_shape(r)


@FUZZ
@given(
    token=_text,
    cookie=_raw,
    login_cookie=_raw,
    username=_text,
    password=_text,
    nxt=_text,
)
def test_any_login_form_is_answered_without_5xx(
    server: Server, token: str, cookie: bytes, login_cookie: bytes, username: str, password: str, nxt: str
) -> None:
    header = b"og_session=" + cookie.replace(b";", b"") + b"; og_login_csrf=" + login_cookie.replace(b";", b"")
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.post(
            "/review/login",
            data={"csrf_token": token, "username": username, "password": password, "next": nxt},
            headers={"Cookie": header},  # type: ignore[dict-item]
        )
    assert r.status_code < 500, r.text[:300]


@FUZZ
@given(
    token=st.one_of(st.none(), _text),
    decision=st.one_of(st.sampled_from(["approve", "approve_edit", "reject", "false_positive", "correct_fact"]), _text),
    note=_text,
    edited=_text,
    fingerprint=_text,
    query=_text,
    next_id=_text,
    fact=st.fixed_dictionaries({"fact_entity": _text, "fact_value": _text, "fact_type": _text}),
    cookie=st.one_of(st.none(), _raw),
)
def test_any_decision_form_is_answered_without_5xx(
    server: Server,
    token: str | None,
    decision: str,
    note: str,
    edited: str,
    fingerprint: str,
    query: str,
    next_id: str,
    fact: dict[str, str],
    cookie: bytes | None,
) -> None:
    item_id = _queued(server)
    c, csrf = _reviewer(server, "root")
    with c:
        form = {
            "csrf_token": csrf if token is None else token,
            "decision": decision,
            "note": note,
            "edited_output": edited,
            "fingerprint": fingerprint,
            "query": query,
            "next_id": next_id,
            **fact,
        }
        headers = {} if cookie is None else {"Cookie": b"og_session=" + cookie.replace(b";", b"")}
        r = c.post(f"/review/items/{item_id}/decide", data=form, headers=headers)  # type: ignore[arg-type]
        assert r.status_code < 500, r.text[:300]
        r = c.post("/review/bulk", data={**form, "ids": [item_id, note]}, headers=headers)  # type: ignore[arg-type]
        assert r.status_code < 500, r.text[:300]
        r = c.post(f"/review/items/{item_id}/claim", data=form, headers=headers)  # type: ignore[arg-type]
        assert r.status_code < 500, r.text[:300]


@FUZZ
@given(note=_text, edited=_text, fingerprints=st.lists(_text, max_size=3), kind=_text)
def test_any_api_decision_is_answered_without_5xx(
    server: Server, note: str, edited: str, fingerprints: list[str], kind: str
) -> None:
    item_id = _queued(server)
    with server.client("review") as c:
        for body in (
            {"kind": "approve_edit", "note": note, "edited_output": edited},
            {"kind": "false_positive", "note": note, "fingerprints": fingerprints},
            {"kind": kind, "note": note},
        ):
            r = c.post(f"/v1/reviews/{item_id}/decision", json=body)
            assert r.status_code < 500, r.text[:300]
            if r.status_code >= 400:
                _error_shape(r)
        item = c.get(f"/v1/reviews/{item_id}").json()
        if item["decision"] == "approve_edit":
            assert item["final_output"] == edited  # stored as sent, NUL and all
