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
    # The lease of a claim (state in_review): past it the item is unclaimed again for "next". NULL: an
    # assignment without a lease (the JSON API's), which holds until released or decided.
    sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_review_items_state_created", "state", "created_at", "id"),
    # Covers the queue's counts (one GROUP BY state, policy, severity, codes): the rows themselves are wide
    # (report, context), and a scan of 100,000 of them reads every overflow page.
    sa.Index("ix_review_items_facets", "state", "policy", "severity_rank", "codes", "id"),
)

# The queue's sorts, so a page is an index walk. The severity sort orders by this very expression (a literal
# -1, not a bound parameter: the database matches the index by its text).
SEVERITY_ORDER = sa.func.coalesce(items.c.severity_rank, sa.literal_column("-1"))
sa.Index("ix_review_items_severity_order", SEVERITY_ORDER.desc(), items.c.created_at, items.c.id)
sa.Index("ix_review_items_policy_order", items.c.policy, items.c.created_at, items.c.id)
sa.Index("ix_review_items_age_order", items.c.created_at, items.c.id)

# Columns added after the first release: `ReviewStore.open` adds them to an existing table (all nullable).
ADDED_COLUMNS = {"review_items": ["claim_expires_at"]}

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

# How many outputs each suppression has silenced since it was made (counted in memory by the suppressor,
# added here on its refresh). Its own table so that revoking and re-creating a suppression starts afresh.
suppression_hits = sa.Table(
    "review_suppression_hits",
    metadata,
    sa.Column("policy", sa.String(200), primary_key=True),
    sa.Column("rule_id", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
)

# Full-text search body of an item: output, context and reviewers' notes. One table on both databases;
# SQLite indexes it with an FTS5 table kept in step by triggers, PostgreSQL with a GIN index on its
# tsvector (see SEARCH_DDL). Plain text (not NulSafeText): the JSON encoding would glue escapes to words.
search = sa.Table(
    "review_search",
    metadata,
    sa.Column("item_id", sa.String(32), sa.ForeignKey("review_items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
)

SEARCH_DDL = {
    "sqlite": [
        "CREATE VIRTUAL TABLE IF NOT EXISTS review_search_fts USING fts5(body, content='review_search', "
        "content_rowid='rowid')",
        "CREATE TRIGGER IF NOT EXISTS review_search_ai AFTER INSERT ON review_search BEGIN "
        "INSERT INTO review_search_fts(rowid, body) VALUES (new.rowid, new.body); END",
        "CREATE TRIGGER IF NOT EXISTS review_search_ad AFTER DELETE ON review_search BEGIN "
        "INSERT INTO review_search_fts(review_search_fts, rowid, body) VALUES ('delete', old.rowid, old.body); END",
        "CREATE TRIGGER IF NOT EXISTS review_search_au AFTER UPDATE ON review_search BEGIN "
        "INSERT INTO review_search_fts(review_search_fts, rowid, body) VALUES ('delete', old.rowid, old.body); "
        "INSERT INTO review_search_fts(rowid, body) VALUES (new.rowid, new.body); END",
    ],
    "postgresql": [
        "CREATE INDEX IF NOT EXISTS ix_review_search_tsv ON review_search USING gin (to_tsvector('simple', body))",
    ],
}

# Routing of the queue to reviewer groups (guardrails/reviews/routing.py): one document, id 1, so that an
# admin's change reaches every replica at once.
routing = sa.Table(
    "review_routing",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("body_json", sa.Text, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
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
