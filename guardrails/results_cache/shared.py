"""The shared tier: one table in the review or facts database (SQLite or PostgreSQL), read by every replica.

Entries are encrypted (AES-256-GCM) with the key's `secret`, which only a caller holding the same output, context
and policy can derive (see key.py): the database, its backups and its readers see lookup ids and ciphertext, never
a report or an answer (reports hold the very PII a redacted report masks). The lookup id is the authenticated
data, so a row copied under another id does not decrypt: an entry cannot be made to answer for another key.
Any database error is a miss (or a dropped write), never a failed validation.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import sqlalchemy as sa

from guardrails.results_cache.key import CacheKey

_VERSION = b"\x01"
_NONCE = 12
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

    def __init__(self, engine: sa.Engine, *, max_entry_bytes: int = 1024 * 1024, purge_every: int = 1000) -> None:
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
        metadata.create_all(engine)

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> SqlTier:
        """A tier on its own connection pool (closed by `close()`), for a database no store of ours has open."""
        tier = cls(sa.create_engine(url), **kwargs)
        tier._owned = True
        return tier

    def close(self) -> None:
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
        """Store `value` (encrypted) for `ttl_s`; False when it is over `max_entry_bytes` or the write failed."""
        if len(value) > self.max_entry_bytes:
            return False
        nonce = os.urandom(_NONCE)
        blob = _VERSION + nonce + _aead(key.secret).encrypt(nonce, value, key.id.encode())
        row = {"key": key.id, "value": blob, "expires_at": time.time() + ttl_s}
        try:
            with self.engine.begin() as conn:
                conn.execute(_upsert(self.engine.dialect.name, row))
        except sa.exc.SQLAlchemyError:
            self.errors += 1
            return False
        self._maybe_purge()
        return True

    def purge(self) -> int:
        """Delete expired entries; the number deleted."""
        with self.engine.begin() as conn:
            return int(conn.execute(sa.delete(entries_t).where(entries_t.c.expires_at <= time.time())).rowcount)

    def _maybe_purge(self) -> None:
        with self._lock:
            self._puts += 1
            due = self._puts % self._purge_every == 0
        if due:
            try:
                self.purge()
            except sa.exc.SQLAlchemyError:
                self.errors += 1


def _upsert(dialect: str, row: dict[str, Any]) -> Any:
    """Insert, or replace the row another replica wrote for the same key first (same content, newer expiry)."""
    update = {"value": row["value"], "expires_at": row["expires_at"]}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(entries_t).values(**row).on_conflict_do_update(index_elements=["key"], set_=update)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(entries_t).values(**row).on_conflict_do_update(index_elements=["key"], set_=update)
