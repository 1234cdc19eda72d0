"""Tables of the review queue (SQLAlchemy Core), one schema for SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData()


class NulSafeText(TypeDecorator[str]):
    """Text stored JSON-encoded: PostgreSQL text cannot hold NUL, and outputs under review may contain it."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else str(json.loads(value))


items = sa.Table(
    "review_items",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # The caller's request id is the idempotency key: a second submit with the same id returns the first item.
    sa.Column("request_id", sa.String(200), nullable=False, unique=True),
    sa.Column("policy", sa.String(200), nullable=False, index=True),
    sa.Column("policy_version", sa.String(100), nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("assignee", sa.String(200), nullable=True),
    sa.Column("sampled", sa.Boolean, nullable=False, default=False),
    sa.Column("output", NulSafeText, nullable=False),
    sa.Column("delivered", NulSafeText, nullable=False),
    sa.Column("report_json", sa.Text, nullable=False),
    sa.Column("context_json", sa.Text, nullable=False),
    sa.Column("codes", sa.Text, nullable=False, doc="Space-separated finding codes, for display"),
    sa.Column("severity_rank", sa.Integer, nullable=True, index=True),
    sa.Column("decision", sa.String(20), nullable=True),
    sa.Column("final_output", NulSafeText, nullable=True),
    sa.Column("decided_by", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
)

# One row per (item, code) so that the queue can filter and count by rule code with an index.
item_codes = sa.Table(
    "review_item_codes",
    metadata,
    sa.Column("item_id", sa.String(32), sa.ForeignKey("review_items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("code", sa.String(20), primary_key=True),
    sa.Index("ix_review_item_codes_code", "code"),
)

audit = sa.Table(
    "review_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String(32), nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("before_json", sa.Text, nullable=True),
    sa.Column("after_json", sa.Text, nullable=True),
    sa.Column("note", NulSafeText, nullable=True),
)

suppressions = sa.Table(
    "review_suppressions",
    metadata,
    sa.Column("policy", sa.String(200), primary_key=True),
    sa.Column("rule_id", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("item_id", sa.String(32), nullable=True),
)

# Review-page sessions, server side, so that logging out, a changed password or an admin ends them at once
# (a signed cookie alone stays valid until it expires). Beside the queue so every replica sees the same set.
sessions = sa.Table(
    "review_sessions",
    metadata,
    sa.Column("id_sha256", sa.String(64), primary_key=True, doc="SHA-256 of the session id the cookie carries"),
    sa.Column("user", sa.String(200), nullable=False, index=True),
    sa.Column("password_tag", sa.String(64), nullable=False, doc="Binds the session to the password it began with"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_reason", sa.String(40), nullable=True),
)
