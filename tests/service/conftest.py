"""Fixtures for the sidecar: an app on a temp SQLite queue with keys of every scope and three reviewers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from service import ServiceConfig, create_app
from service.auth import ApiKey, KeyRing, Reviewer, Scope, hash_key, hash_password

ROOT = Path(__file__).resolve().parents[2]
DEMO_RULES = ROOT / "service" / "demo" / "rules"
KEYS = {"validate": "k-validate-0123456789", "review": "k-review-0123456789", "admin": "k-admin-0123456789"}
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "root": "root-pw"}


def keyring() -> KeyRing:
    return KeyRing(
        [ApiKey(name=n, key_sha256=hash_key(k), scopes=frozenset({Scope(n)})) for n, k in KEYS.items()],
        [
            Reviewer(name="alice", password=hash_password(PASSWORDS["alice"]), policies=["demo"]),
            Reviewer(name="bob", password=hash_password(PASSWORDS["bob"]), policies=["other"]),
            Reviewer(
                name="root", password=hash_password(PASSWORDS["root"]), scopes=frozenset({Scope.REVIEW, Scope.ADMIN})
            ),
        ],
    )


def auth(scope: str = "validate") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[scope]}"}


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings: dict[str, Any] = {
            "policies": ["demo"],
            "rules_dirs": [DEMO_RULES],
            "review_db": f"sqlite:///{tmp_path / f'reviews{len(clients)}.sqlite3'}",
        }
        upstream = overrides.pop("upstream", None)
        fallbacks = overrides.pop("fallbacks", None)
        settings.update(overrides)
        app = create_app(
            ServiceConfig(**settings), keys=keyring(), load_sync=True, upstream=upstream, fallbacks=fallbacks
        )
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: TestClient, name: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = client.get("/review/login")
    r = client.post(
        "/review/login",
        data={"csrf_token": csrf_of(page.text), "username": name, "password": PASSWORDS[name], "next": "/review"},
    )
    assert r.status_code == 200, r.text
    return csrf_of(r.text)
