"""The review queue: outputs held for a human, their decisions, the audit trail and suppressions.

A store beside `checks`: it imports only the bottom layer (findings, context) and SQLAlchemy. SQLite (WAL)
by default, PostgreSQL by URL, through the same SQLAlchemy Core code.

    store = ReviewStore.open("sqlite:///var/reviews.sqlite3")
    item = store.submit(report, context)              # idempotent on context.request_id
    store.decide(item.id, Decision(kind="approve"), actor="alice")
    engine = Engine.from_policy("default", suppressor=store.suppressor())
"""

from guardrails.reviews.analytics import Analytics, analytics
from guardrails.reviews.export import EXPORT_FIELDS, export_jsonl
from guardrails.reviews.model import (
    AuditEntry,
    Decision,
    DecisionKind,
    FactCorrection,
    ItemFilter,
    QueueCounts,
    ReviewItem,
    ReviewState,
    SortKey,
    Suppression,
)
from guardrails.reviews.routing import Route, RouteGroup, Routing, RoutingError
from guardrails.reviews.sessions import ReviewSessions
from guardrails.reviews.store import (
    CLAIM_TTL_S,
    UNDO_WINDOW_S,
    ReviewConflict,
    ReviewError,
    ReviewNotFound,
    ReviewStore,
)

__all__ = [
    "CLAIM_TTL_S",
    "EXPORT_FIELDS",
    "UNDO_WINDOW_S",
    "Analytics",
    "AuditEntry",
    "Decision",
    "DecisionKind",
    "FactCorrection",
    "ItemFilter",
    "QueueCounts",
    "ReviewConflict",
    "ReviewError",
    "ReviewItem",
    "ReviewNotFound",
    "ReviewSessions",
    "ReviewState",
    "ReviewStore",
    "Route",
    "RouteGroup",
    "Routing",
    "RoutingError",
    "SortKey",
    "Suppression",
    "analytics",
    "export_jsonl",
]
