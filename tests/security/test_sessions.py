"""Finding 6: a review-page session must end when it is ended, not when its cookie expires (8 h later).

The attacker holds a copy of a reviewer's session cookie (a shared machine, a proxy log, a stolen laptop).
After the reviewer logs out, after their password changes in the keys file, and after an admin ends all
their sessions, that copy must be refused, by a real `guardrails serve` on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.auth import hash_key, hash_password
from tests.service.conftest import KEYS, PASSWORDS, ROOT
from tests.service.server import Server, start_server, stop

SECRET = "test-session-secret-0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("OUTGUARD_SESSION_SECRET", SECRET)
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    srv = start_server(tmp_path, db_url=db_url)
    try:
        yield srv
    finally:
        stop(srv)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def login(url: str, name: str, password: str | None = None) -> tuple[str, str]:
    """Log in through the form; returns (the session cookie, its CSRF token)."""
    with httpx.Client(base_url=url, timeout=30) as c:
        page = c.get("/review/login")
        r = c.post(
            "/review/login",
            data={
                "csrf_token": _csrf(page.text),
                "username": name,
                "password": password or PASSWORDS[name],
                "next": "/review",
            },
            follow_redirects=True,
        )
        assert r.status_code == 200, r.text[:300]
        return c.cookies["og_session"], _csrf(r.text)


def signed_in(url: str, cookie: str) -> bool:
    """What the holder of `cookie` gets: the queue (signed in) or a redirect to the login form."""
    with httpx.Client(base_url=url, timeout=30, cookies={"og_session": cookie}) as c:
        r = c.get("/review")
    assert r.status_code in (200, 303), r.status_code
    return r.status_code == 200


def can_post(url: str, cookie: str, csrf: str) -> int:
    with httpx.Client(base_url=url, timeout=30, cookies={"og_session": cookie}) as c:
        return c.post("/review/bulk", data={"csrf_token": csrf, "decision": "approve", "ids": "0" * 32}).status_code


def test_logout_revokes_the_cookie_wherever_it_was_copied(server: Server) -> None:
    cookie, csrf = login(server.url, "alice")
    stolen = cookie
    assert signed_in(server.url, stolen) and can_post(server.url, stolen, csrf) == 303
    with httpx.Client(base_url=server.url, timeout=30, cookies={"og_session": cookie}) as c:
        r = c.post("/review/logout", data={"csrf_token": csrf})
        assert r.status_code == 303
    assert not signed_in(server.url, stolen)
    assert can_post(server.url, stolen, csrf) == 401
    # Logging in again gives a new, working session; the old one stays dead.
    fresh, _ = login(server.url, "alice")
    assert fresh != stolen and signed_in(server.url, fresh) and not signed_in(server.url, stolen)


def test_admin_ends_every_session_of_a_reviewer(server: Server) -> None:
    laptop, _ = login(server.url, "alice")
    phone, csrf = login(server.url, "alice")
    other, _ = login(server.url, "root")
    with server.client("review") as c:
        r = c.delete("/v1/reviewers/alice/sessions")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert signed_in(server.url, laptop) and signed_in(server.url, phone)
    with server.client("admin") as c:
        r = c.delete("/v1/reviewers/alice/sessions")
        assert r.status_code == 200, r.text
        # At least these two (the PostgreSQL database is shared with the session's other tests).
        assert r.json()["reviewer"] == "alice" and r.json()["ended"] >= 2
        r = c.delete("/v1/reviewers/mallory/sessions")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert c.delete("/v1/reviewers/alice/sessions").json()["ended"] == 0
    assert not signed_in(server.url, laptop) and not signed_in(server.url, phone)
    assert can_post(server.url, phone, csrf) == 401
    assert signed_in(server.url, other)  # only alice's sessions ended


def test_cli_ends_every_session_of_a_reviewer(server: Server) -> None:
    cookie, _ = login(server.url, "alice")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "guardrails", "reviews", "end-sessions", "--db", server.db_url, "--reviewer", "alice"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "1 session(s) of alice ended" in done.stderr + done.stdout
    assert not signed_in(server.url, cookie)


def _keys_file(path: Path, alice_password: str) -> Path:
    lines = ["api_keys:"]
    for scope, key in KEYS.items():
        lines.append(f"  - {{name: {scope}, key_sha256: {hash_key(key)}, scopes: [{scope}]}}")
    lines.append("reviewers:")
    lines.append(f'  - {{name: alice, password: "{hash_password(alice_password)}", scopes: [review]}}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_changed_password_ends_the_old_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGUARD_SESSION_SECRET", SECRET)  # the same signing key across restarts
    keys = _keys_file(tmp_path / "alice.yaml", "old-password")
    srv = start_server(tmp_path, "--keys-file", str(keys))
    try:
        cookie, _ = login(srv.url, "alice", "old-password")
        assert signed_in(srv.url, cookie)
    finally:
        stop(srv)
    # A restart alone keeps the session (it is on disk, the signing key is the same)...
    srv = start_server(tmp_path, "--keys-file", str(keys))
    try:
        assert signed_in(srv.url, cookie)
    finally:
        stop(srv)
    # ...a new password in the keys file ends it.
    _keys_file(keys, "new-password")
    srv = start_server(tmp_path, "--keys-file", str(keys))
    try:
        assert not signed_in(srv.url, cookie)
        fresh, _ = login(srv.url, "alice", "new-password")
        assert signed_in(srv.url, fresh)
    finally:
        stop(srv)
