"""Review-page session records: live until revoked, expired or re-passworded; ids stored hashed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

import sqlalchemy as sa

from guardrails.reviews import ReviewSessions, ReviewStore
from guardrails.reviews import schema as review_schema

LATER = dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)


@pytest.fixture(params=["sqlite", "memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReviewSessions]:
    if request.param == "memory":
        s = ReviewSessions.in_memory()
    elif request.param == "sqlite":
        s = ReviewSessions(ReviewStore.open(f"sqlite:///{tmp_path / 'reviews.sqlite3'}").engine)
    else:
        s = ReviewSessions.open(request.getfixturevalue("postgres_url"))
    yield s
    s.close()


def _sid(request_node: str, n: int) -> str:
    return f"{request_node}-{n}"  # unique per test: the PostgreSQL database is shared


def test_a_session_is_live_until_revoked(sessions: ReviewSessions, request: pytest.FixtureRequest) -> None:
    sid, user = _sid(request.node.name, 1), f"u-{request.node.name}"
    sessions.start(sid, user, "scrypt$hash1", LATER)
    assert sessions.is_live(sid, user, "scrypt$hash1")
    assert not sessions.is_live(sid, "someone-else", "scrypt$hash1")  # bound to its user
    assert not sessions.is_live(sid, user, "scrypt$hash2")  # and to the password it began with
    assert not sessions.is_live("unknown", user, "scrypt$hash1")
    assert sessions.revoke(sid) and not sessions.revoke(sid)
    assert not sessions.is_live(sid, user, "scrypt$hash1")


def test_an_expired_session_is_dead(sessions: ReviewSessions, request: pytest.FixtureRequest) -> None:
    sid, user = _sid(request.node.name, 1), f"u-{request.node.name}"
    sessions.start(sid, user, "h", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert not sessions.is_live(sid, user, "h")


def test_revoke_user_ends_only_that_users_live_sessions(
    sessions: ReviewSessions, request: pytest.FixtureRequest
) -> None:
    alice, bob = f"alice-{request.node.name}", f"bob-{request.node.name}"
    for n in range(3):
        sessions.start(_sid(request.node.name, n), alice, "h", LATER)
    sessions.start(_sid(request.node.name, 9), bob, "h", LATER)
    sessions.revoke(_sid(request.node.name, 0))
    assert sessions.live_count(alice) == 2
    assert sessions.revoke_user(alice) == 2 and sessions.revoke_user(alice) == 0
    assert sessions.live_count(alice) == 0 and sessions.is_live(_sid(request.node.name, 9), bob, "h")
    assert sessions.revoke_user("a\x00b") == 0 and sessions.live_count("a\x00b") == 0


def test_the_database_holds_no_usable_session_id(sessions: ReviewSessions, request: pytest.FixtureRequest) -> None:
    sid = "secret-session-id-" + request.node.name
    sessions.start(sid, "carol", "scrypt$hash", LATER)
    with sessions.engine.connect() as conn:
        rows = conn.execute(sa.select(review_schema.sessions)).mappings().all()
    assert rows and all(sid not in str(dict(r)) and "scrypt$hash" not in str(dict(r)) for r in rows)
