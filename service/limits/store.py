"""The PostgreSQL store that workers and replicas share for rate-limit buckets and token-quota windows.

PostgreSQL, not Redis: replicas already share a PostgreSQL for the review queue, suppressions and facts, so a
shared limit needs no new server to run, secure and back up; one acquire is one single-statement upsert on a
primary key (a few hundred microseconds on loopback, see docs/replicas.md for the measured numbers).

Each operation is ONE statement in autocommit, so two processes taking a token from the same bucket serialise on
the row lock and neither can read a stale count (no read-modify-write across round trips). Time comes from the
database clock (`clock_timestamp()`), never from the hosts, whose clocks may disagree.

Keys are stored as the UTF-8 bytes of the key's name (bytea), so any character a keys file allows (NUL, quotes,
emoji, lone surrogates) is a plain value, never SQL and never an encoding error.

A store that fails (down, slow past `statement_timeout_ms`, refused) raises `StoreDown`; after a failure the store
is not tried again for `retry_s` (doubling up to `max_retry_s` while it keeps failing), so an outage costs one
connect timeout per retry period, not one per request. What a caller does on `StoreDown` is its own policy
(rate limits fall back to in-process buckets, quotas refuse: see service/limits/shared.py and quota.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from guardrails import OutguardError
from service.ratelimit import Limit

log = logging.getLogger("outguard.service")


class StoreDown(OutguardError):
    """The shared store could not answer; the message says why (no key names, no SQL)."""


@dataclass(frozen=True, slots=True)
class Take:
    """One acquire's outcome: allowed, else the seconds until a token is available."""

    allowed: bool
    wait_s: float


@dataclass(frozen=True, slots=True)
class Spent:
    """Tokens a key has used in its current quota window, and when that window ends (epoch seconds)."""

    used: int
    window_start: float
    reset_at: float


_SCHEMA = (
    """CREATE UNLOGGED TABLE IF NOT EXISTS outguard_rate_buckets (
        key bytea PRIMARY KEY,
        tokens double precision NOT NULL,
        updated double precision NOT NULL,
        allowed boolean NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS outguard_token_quotas (
        key bytea NOT NULL,
        window_s bigint NOT NULL,
        window_start double precision NOT NULL,
        used bigint NOT NULL,
        PRIMARY KEY (key, window_s)
    )""",
)
# Buckets are UNLOGGED: no WAL per acquire, and a bucket lost in a database crash only refills (a burst of
# leniency). Quota windows are logged: losing them would forgive tokens already spent.

# One statement: refill by the time since the last update at this key's rate, capped at its burst; take one token
# if there is one. In DO UPDATE every `b.` is the row before the update, so `refilled` is computed from the old row
# only, and EXCLUDED.updated is the one clock reading of this statement.
_TAKE = """
INSERT INTO outguard_rate_buckets AS b (key, tokens, updated, allowed)
VALUES (%(key)s, %(burst)s - 1, extract(epoch from clock_timestamp()), true)
ON CONFLICT (key) DO UPDATE SET
    tokens = LEAST(%(burst)s, b.tokens + GREATEST(0, EXCLUDED.updated - b.updated) * %(rate)s)
        - CASE WHEN LEAST(%(burst)s, b.tokens + GREATEST(0, EXCLUDED.updated - b.updated) * %(rate)s) >= 1
          THEN 1 ELSE 0 END,
    allowed = LEAST(%(burst)s, b.tokens + GREATEST(0, EXCLUDED.updated - b.updated) * %(rate)s) >= 1,
    updated = GREATEST(b.updated, EXCLUDED.updated)
RETURNING allowed, tokens
"""

# Windows are aligned to the epoch (a 3600 s window resets on the hour, 86400 s at 00:00 UTC), so every replica
# computes the same window from the database clock.
_SPENT = """
SELECT q.used, q.window_start, extract(epoch from clock_timestamp())::double precision AS now
FROM (SELECT 1) AS one
LEFT JOIN outguard_token_quotas AS q ON q.key = %(key)s AND q.window_s = %(window)s
"""

_CHARGE = """
INSERT INTO outguard_token_quotas AS q (key, window_s, window_start, used)
VALUES (%(key)s, %(window)s, floor(extract(epoch from clock_timestamp()) / %(window)s) * %(window)s, %(tokens)s)
ON CONFLICT (key, window_s) DO UPDATE SET
    used = CASE WHEN q.window_start >= EXCLUDED.window_start THEN q.used + EXCLUDED.used ELSE EXCLUDED.used END,
    window_start = GREATEST(q.window_start, EXCLUDED.window_start)
RETURNING used, window_start
"""


def key_bytes(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")


def conninfo(url: str) -> str:
    """A libpq connection string from the SQLAlchemy URL the other stores take (postgresql+psycopg://...)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(
            f"limits store URL must be postgresql://... or postgresql+psycopg://..., got {parsed.drivername}"
        )
    return str(parsed.set(drivername="postgresql").render_as_string(hide_password=False))


class PgLimitStore:
    """Buckets and quota windows in PostgreSQL, over one connection per process (opened on first use)."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout_s: int = 2,
        statement_timeout_ms: int = 500,
        retry_s: float = 1.0,
        max_retry_s: float = 30.0,
    ) -> None:
        self._conninfo = conninfo(url)
        self._connect_timeout_s = connect_timeout_s
        self._statement_timeout_ms = statement_timeout_ms
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._backoff = retry_s
        self._down_until = 0.0
        self._conn: Any = None
        self._lock = threading.Lock()

    # -- operations -----------------------------------------------------------------------------------------------

    def take(self, name: str, limit: Limit) -> Take:
        row = self._one(_TAKE, {"key": key_bytes(name), "burst": float(limit.burst), "rate": float(limit.rate)})
        allowed, tokens = bool(row[0]), float(row[1])
        return Take(True, 0.0) if allowed else Take(False, max(0.0, 1.0 - tokens) / limit.rate)

    def spent(self, name: str, window_s: int) -> Spent:
        used, start, now = self._one(_SPENT, {"key": key_bytes(name), "window": window_s})
        current = (float(now) // window_s) * window_s
        if used is None or float(start) < current:
            return Spent(0, current, current + window_s)
        return Spent(int(used), float(start), float(start) + window_s)

    def charge(self, name: str, window_s: int, tokens: int) -> Spent:
        used, start = self._one(_CHARGE, {"key": key_bytes(name), "window": window_s, "tokens": tokens})
        return Spent(int(used), float(start), float(start) + window_s)

    # -- connection -----------------------------------------------------------------------------------------------

    def _one(self, sql: str, params: dict[str, Any]) -> Any:
        import psycopg

        with self._lock:
            if time.monotonic() < self._down_until:
                raise StoreDown("the limits store failed recently; retrying shortly")
            try:
                conn = self._connection()
                row = conn.execute(sql, params).fetchone()
            except psycopg.Error as exc:
                self._failed(exc)
                raise StoreDown(f"the limits store failed: {type(exc).__name__}") from exc
            self._backoff = self._retry_s
            return row

    def _connection(self) -> Any:
        import psycopg

        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout_s,
            options=f"-c statement_timeout={self._statement_timeout_ms}",
            # Statements are prepared on the server after their first use: each acquire then skips parsing.
            prepare_threshold=0,
        )
        with conn.transaction():
            # CREATE TABLE IF NOT EXISTS races between workers starting together (a unique violation in the
            # catalog): the advisory lock makes them take turns.
            conn.execute("SELECT pg_advisory_xact_lock(7365110712)")
            for statement in _SCHEMA:
                conn.execute(statement)
        self._conn = conn
        return conn

    def _failed(self, exc: Exception) -> None:
        log.warning("limits store unavailable (%s): not retried for %.0f s", type(exc).__name__, self._backoff)
        self._down_until = time.monotonic() + self._backoff
        self._backoff = min(self._max_retry_s, self._backoff * 2)
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; it is dropped either way
                conn.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
