"""The shared tier: one table in the review or facts database (SQLite or PostgreSQL), read by every replica.

Entries are encrypted (AES-256-GCM) with the key's `secret`, which only a caller holding the same output, context
and policy can derive (see key.py): the database, its backups and its readers see lookup ids and ciphertext, never
a report or an answer (reports hold the very PII a redacted report masks). The lookup id is the authenticated
data, so a row copied under another id does not decrypt: an entry cannot be made to answer for another key.
Any database error is a miss (or a dropped write), never a failed validation.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any

import sqlalchemy as sa

from guardrails.results_cache.key import CacheKey

_VERSION = b"\x01"
_NONCE = 12
_BATCH = 100
metadata = sa.MetaData()
entries_t = sa.Table(
    "og_cache_entries",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)


def _aead(secret: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ModuleNotFoundError as exc:  # pragma: no cover - the store extra brings it
        raise RuntimeError("the shared result cache needs cryptography: pip install 'outguard[store]'") from exc
    return AESGCM(secret)


class SqlTier:
    """Open with `SqlTier.open(url)` or on an existing SQLAlchemy engine (the review store's)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        max_entry_bytes: int = 1024 * 1024,
        purge_every: int = 1000,
        write_behind: bool = True,
        max_pending: int = 1000,
    ) -> None:
        _aead(bytes(32))  # fail at start, not at the first entry, when cryptography is missing
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"the shared result cache supports SQLite and PostgreSQL, not {engine.dialect.name}")
        self.engine = engine
        self.max_entry_bytes = max_entry_bytes
        self.errors = 0
        self._purge_every = purge_every
        self._puts = 0
        self._lock = threading.Lock()
        self._owned = False
        self._upsert = _upsert(engine.dialect.name)
        self._write_behind = write_behind
        self._pending: queue.Queue[tuple[CacheKey, bytes, float]] = queue.Queue(maxsize=max_pending)
        self._writer: threading.Thread | None = None
        self.dropped = 0
        """Entries not shared because the write queue was full."""
        metadata.create_all(engine)

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> SqlTier:
        """A tier on its own connection pool (closed by `close()`), for a database no store of ours has open."""
        engine = sa.create_engine(url)
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        tier = cls(engine, **kwargs)
        tier._owned = True
        return tier

    def close(self) -> None:
        self.flush()
        if self._owned:
            self.engine.dispose()

    def get(self, key: CacheKey) -> bytes | None:
        query = sa.select(entries_t.c.value).where(entries_t.c.key == key.id, entries_t.c.expires_at > time.time())
        try:
            with self.engine.connect() as conn:
                blob = conn.execute(query).scalar_one_or_none()
        except sa.exc.SQLAlchemyError:
            self.errors += 1
            return None
        if blob is None or not blob.startswith(_VERSION) or len(blob) < 1 + _NONCE:
            return None
        from cryptography.exceptions import InvalidTag

        nonce, sealed = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
        try:
            value: bytes = _aead(key.secret).decrypt(nonce, sealed, key.id.encode())
        except InvalidTag:
            return None  # tampered, or written under another key
        return value

    def put(self, key: CacheKey, value: bytes, ttl_s: float) -> bool:
        """Queue `value` for storing (encrypted) for `ttl_s`; a writer thread stores it, so a validation never
        waits on the database's commit. False when it is over `max_entry_bytes` or the queue is full (the
        database is slower than the misses: an entry not shared is a later miss, never an error)."""
        if len(value) > self.max_entry_bytes:
            return False
        item = (key, value, time.time() + ttl_s)
        if not self._write_behind:
            return self._write([item])
        try:
            self._pending.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            return False
        self._start_writer()
        return True

    def flush(self) -> None:
        """Wait until every queued entry is written (or its write failed)."""
        self._pending.join()

    def _start_writer(self) -> None:
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._drain, name="outguard-cache-writer", daemon=True)
                    self._writer.start()

    def _drain(self) -> None:
        while True:
            batch = [self._pending.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            finally:
                for _ in batch:
                    self._pending.task_done()

    def _write(self, items: list[tuple[CacheKey, bytes, float]]) -> bool:
        rows = []
        for key, value, expires_at in items:
            nonce = os.urandom(_NONCE)
            blob = _VERSION + nonce + _aead(key.secret).encrypt(nonce, value, key.id.encode())
            rows.append({"key": key.id, "value": blob, "expires_at": expires_at})
        try:
            with self.engine.begin() as conn:
                conn.execute(self._upsert, rows)
        except sa.exc.SQLAlchemyError:
            self.errors += 1
            return False
        self._maybe_purge(len(rows))
        return True

    def purge(self) -> int:
        """Delete expired entries; the number deleted."""
        with self.engine.begin() as conn:
            return int(conn.execute(sa.delete(entries_t).where(entries_t.c.expires_at <= time.time())).rowcount)

    def _maybe_purge(self, written: int) -> None:
        with self._lock:
            before, self._puts = self._puts, self._puts + written
            due = before // self._purge_every != self._puts // self._purge_every
        if due:
            try:
                self.purge()
            except sa.exc.SQLAlchemyError:
                self.errors += 1


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL: replicas read while the writer thread commits; a busy database waits instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _upsert(dialect: str) -> Any:
    """Insert, or replace the row another replica wrote for the same key first (same content, newer expiry)."""
    from sqlalchemy.dialects import postgresql, sqlite

    stmt: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(entries_t)
    update = {"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at}
    return stmt.on_conflict_do_update(index_elements=["key"], set_=update)
