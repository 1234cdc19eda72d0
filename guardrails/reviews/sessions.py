"""Server-side records of review-page sessions: started at login, checked on every request, revocable.

The cookie stays a signed token (service/review/sessions.py); it also carries a random session id, and the
session is live only while its record here is: not revoked (logout, an admin's "end all sessions of X"),
not expired, and begun with the reviewer's current password. The record holds a SHA-256 of the id, not the
id, so a copy of the database yields no usable cookie; and a tag of the password hash, so a reviewer whose
password changed in the keys file is signed out everywhere at the next request, without any bookkeeping.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from guardrails.reviews import schema
from guardrails.reviews.store import create_db_engine

_PURGE_AFTER = dt.timedelta(days=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def password_tag(password_hash: str) -> str:
    """What a session remembers of the password it began with: a hash of the stored hash."""
    return _digest("outguard-session-password\x1f" + password_hash)


class ReviewSessions:
    """Start, check and revoke review-page sessions, on SQLite or PostgreSQL (the review queue's database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        schema.sessions.create(engine, checkfirst=True)

    @classmethod
    def open(cls, url: str) -> ReviewSessions:
        return cls(create_db_engine(url))

    @classmethod
    def in_memory(cls) -> ReviewSessions:
        """For a sidecar without a review database: one process, sessions end when it does."""
        return cls(sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}))

    def start(self, session_id: str, user: str, password_hash: str, expires_at: dt.datetime) -> None:
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(schema.sessions.delete().where(schema.sessions.c.expires_at < now - _PURGE_AFTER))
            conn.execute(
                schema.sessions.insert().values(
                    id_sha256=_digest(session_id),
                    user=user,
                    password_tag=password_tag(password_hash),
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def is_live(self, session_id: str, user: str, password_hash: str) -> bool:
        """True while the session is neither revoked nor expired and the reviewer's password is unchanged."""
        c = schema.sessions.c
        query = sa.select(c.user, c.password_tag, c.expires_at, c.revoked_at).where(c.id_sha256 == _digest(session_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.revoked_at is not None or row.user != user:
            return False
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
        return bool(expires > _now() and row.password_tag == password_tag(password_hash))

    def revoke(self, session_id: str, reason: str = "logout") -> bool:
        c = schema.sessions.c
        return self._revoke(c.id_sha256 == _digest(session_id), reason) > 0

    def revoke_user(self, user: str, reason: str = "ended by an admin") -> int:
        """End every live session of `user`; returns how many there were."""
        if "\x00" in user:  # no stored name holds NUL, and PostgreSQL refuses it even as a parameter
            return 0
        return self._revoke(schema.sessions.c.user == user, reason)

    def live_count(self, user: str) -> int:
        if "\x00" in user:
            return 0
        c = schema.sessions.c
        query = sa.select(sa.func.count()).where(c.user == user, c.revoked_at.is_(None), c.expires_at > _now())
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _revoke(self, where: sa.ColumnElement[bool], reason: str) -> int:
        c = schema.sessions.c
        with self.engine.begin() as conn:
            done = conn.execute(
                schema.sessions.update()
                .where(where, c.revoked_at.is_(None), c.expires_at > _now())
                .values(revoked_at=_now(), revoked_reason=reason[:40])
            )
        return int(done.rowcount)

    def close(self) -> None:
        self.engine.dispose()
