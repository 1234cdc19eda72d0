"""ReviewStore: submit, list, assign and decide review items, with an audit trail, on SQLite or PostgreSQL.

Concurrency: every transition (assign, decide) holds the item's row for its whole transaction, a
`SELECT ... FOR UPDATE` on PostgreSQL and the database's write lock on SQLite (`BEGIN IMMEDIATE`: SQLite
has no row locks, and a deferred transaction reads before it writes, so two deciders both saw "open"). The
update is also a compare-and-set on the state and `updated_at` it read, so of two concurrent decisions
exactly one wins and the other raises ReviewConflict before any side effect (a fact write) runs.

Durability: every write commits before the call returns, so an item the caller was told about survives
a crash of this process. On SQLite the database runs in WAL mode with `synchronous=FULL`: NORMAL would
already survive a killed process (the WAL sits in the OS page cache), but it can lose the last commits on
power loss, and review submissions are rare enough (only `review` verdicts and a sample) that the extra
fsync per commit costs nothing that matters while an acknowledged item must never vanish.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from guardrails.context import Context
from guardrails.errors import OutguardError
from guardrails.findings import FindingStatus, Report, Severity
from guardrails.reviews import schema
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

FactWriter = Callable[[FactCorrection, str], dict[str, Any]]
"""(correction, actor) -> the row written, as JSON-able data (for the audit trail)."""

Revalidator = Callable[[ReviewItem], Report]
"""item -> a fresh Report of the item's output under its policy (after a fact was corrected)."""

_RELEASABLE = frozenset({"pass", "repaired"})

MAX_REQUEST_ID = 200
_SEVERITIES = list(Severity)
CLAIM_TTL_S = 15 * 60
"""How long a claim holds by default before "next" hands the item to someone else."""
UNDO_WINDOW_S = 10 * 60
"""How long the decider may undo a decision without a reason (reopen, with a reason, has no limit)."""
_WORD = re.compile(r"\w+", re.UNICODE)
WALK_FACTOR = 100  # see ReviewStore._common_search: walk when matches >= sqrt(WALK_FACTOR * items)
WALK_MIN_MATCHES = 1000
WALK_SHARE = 0.25  # ... and when at least this share of the word's first hits pass the other filters
# The FTS5 table and the rowid of the rows it indexes (rowid is not a column SQLAlchemy's table knows).
_FTS = sa.table("review_search_fts", sa.column("rowid"), sa.column("review_search_fts"))
_SEARCH_ROWS = sa.table("review_search", sa.column("rowid"), sa.column("item_id"))


class ReviewError(OutguardError):
    """A request the queue cannot honour; the message says why, for people."""


class ReviewNotFound(ReviewError):
    pass


class ReviewConflict(ReviewError):
    """The item is not in a state that allows this (already decided, assigned to someone else)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; everything we stored was UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN (deferred, issued just before the first write) cannot take the
    # write lock up front; SQLAlchemy's begin event below issues BEGIN itself.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN (waiting up to busy_timeout): what a row lock is elsewhere.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_db_engine(url: str) -> Engine:
    """A SQLAlchemy engine for `url`; SQLite files get their directory created and WAL + synchronous=FULL."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class ReviewStore:
    """The review queue. Thread-safe; every method runs in its own transaction and commits before returning."""

    def __init__(self, engine: Engine, *, claim_ttl_s: float = CLAIM_TTL_S) -> None:
        self.engine = engine
        self.claim_ttl_s = claim_ttl_s
        self._caches: list[SuppressionCache] = []
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, create: bool = True, claim_ttl_s: float = CLAIM_TTL_S) -> ReviewStore:
        store = cls(create_db_engine(url), claim_ttl_s=claim_ttl_s)
        if create:
            schema.metadata.create_all(store.engine)
            store._upgrade()
        return store

    def _upgrade(self) -> None:
        """Bring a queue made by an older release up to date: new columns, the search index and its rows."""
        inspector = sa.inspect(self.engine)
        with self.engine.begin() as conn:
            for table, names in schema.ADDED_COLUMNS.items():
                have = {c["name"] for c in inspector.get_columns(table)}
                for name in names:
                    if name not in have:
                        column = schema.metadata.tables[table].c[name]
                        kind = column.type.compile(dialect=self.engine.dialect)
                        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            for index in sorted(schema.items.indexes, key=lambda i: str(i.name)):
                # create_all makes indexes only with a new table; IF NOT EXISTS (not checkfirst): SQLAlchemy
                # cannot reflect an expression index, so it would try to create it again.
                conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
            for ddl in schema.SEARCH_DDL.get(self.dialect, []):
                conn.exec_driver_sql(ddl)
            missing = conn.execute(
                sa.select(schema.items.c.id, schema.items.c.output, schema.items.c.context_json).where(
                    ~schema.items.c.id.in_(sa.select(schema.search.c.item_id))
                )
            ).all()
            if missing:
                conn.execute(
                    schema.search.insert(),
                    [{"item_id": i, "body": _search_body(out, json.loads(ctx))} for i, out, ctx in missing],
                )

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- submit ---------------------------------------------------------------------------------

    def submit(
        self, report: Report, context: Context | dict[str, Any] | None = None, *, sampled: bool = False
    ) -> tuple[ReviewItem, bool]:
        """Queue a report; returns (item, created). The same request id is stored once."""
        ctx = Context.coerce(context)
        request_id = ctx.request_id or uuid.uuid4().hex
        if len(request_id) > MAX_REQUEST_ID:
            raise ReviewError(f"request_id is {len(request_id)} characters, over the limit of {MAX_REQUEST_ID}")
        if "\x00" in request_id:
            raise ReviewError("request_id must not contain NUL characters")
        existing = self.get_by_request(request_id)
        if existing is not None:
            return existing, False
        item_id = uuid.uuid4().hex
        codes, worst = _codes_and_worst(report)
        now = _now()
        row = {
            "id": item_id,
            "request_id": request_id,
            "policy": report.policy,
            "policy_version": report.policy_version,
            "verdict": report.verdict.value,
            "state": ReviewState.OPEN.value,
            "assignee": None,
            "sampled": sampled,
            "output": report.original,
            "delivered": report.output,
            "report_json": report.model_dump_json(by_alias=True),
            "context_json": ctx.model_dump_json(by_alias=True, exclude_defaults=True),
            "codes": " ".join(codes),
            "severity_rank": worst,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(schema.items.insert().values(**row))
                if codes:
                    conn.execute(schema.item_codes.insert(), [{"item_id": item_id, "code": c} for c in codes])
                conn.execute(schema.search.insert().values(item_id=item_id, body=_search_body(report.original, ctx)))
                self._audit(
                    conn, item_id, "system", "submit", before=None, after={"state": "open", "verdict": row["verdict"]}
                )
        except sa.exc.IntegrityError:
            # A concurrent submit with the same request id won the race: answer with its item.
            existing = self.get_by_request(request_id)
            if existing is None:
                raise
            return existing, False
        item = self.get(item_id)
        return item, True

    # -- read -----------------------------------------------------------------------------------

    def get(self, item_id: str) -> ReviewItem:
        if not _storable(item_id):
            raise ReviewNotFound(f"no review item {item_id!r}")
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(schema.items).where(schema.items.c.id == item_id)).mappings().first()
        if row is None:
            raise ReviewNotFound(f"no review item {item_id!r}")
        return _item(row)

    def get_by_request(self, request_id: str) -> ReviewItem | None:
        if not _storable(request_id):
            return None
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(schema.items).where(schema.items.c.request_id == request_id)).mappings().first()
            )
        return None if row is None else _item(row)

    def _where(self, f: ItemFilter, *, ordered: bool = False) -> list[sa.ColumnElement[bool]]:
        """The filter as SQL. `ordered`: for a query that reads rows in a sort order, where SQLite should walk
        that order's index and test state and policy on each row, not fetch every row of a state and sort
        them (its planner prefers the equality index); a unary `+` is SQLite's way to say so."""
        c = schema.items.c
        state: Any = c.state
        policy: Any = c.policy
        if ordered and self.dialect == "sqlite":
            state = sa.literal_column("+review_items.state", sa.String)
            policy = sa.literal_column("+review_items.policy", sa.String)
        clauses: list[sa.ColumnElement[bool]] = []
        texts = [f.code, f.policy, f.assignee, f.text, *(f.policies or []), *(f.route_policies or [])]
        texts += [*(f.route_codes or []), *(f.ids or [])]
        if not all(_storable(t) for t in texts if t is not None):
            return [sa.false()]  # nothing stored holds NUL, and PostgreSQL refuses it even as a parameter
        if f.state is not None:
            clauses.append(state == f.state.value)
        if f.states is not None:
            clauses.append(state.in_([s.value for s in f.states]) if f.states else sa.false())
        if f.ids is not None:
            clauses.append(c.id.in_(f.ids) if f.ids else sa.false())
        walk = None
        if f.text is not None and f.text.strip():
            if ordered and self._common_search(f):
                walk = self._search_probe(f.text)
            else:
                clauses.append(c.id.in_(self._search(f.text)))
        if f.policy is not None:
            clauses.append(policy == f.policy)
        if f.policies is not None:
            clauses.append(policy.in_(f.policies) if f.policies else sa.false())
        if f.severity is not None:
            clauses.append(c.severity_rank >= f.severity.rank)
        if f.code is not None:
            sub = sa.select(schema.item_codes.c.item_id).where(schema.item_codes.c.code == f.code)
            clauses.append(c.id.in_(sub))
        if f.assignee is not None:
            clauses.append(c.assignee == f.assignee)
        if f.routed:
            clauses.append(_routed(f.route_policies or [], f.route_codes or [], policy))
        if walk is not None:
            clauses.append(walk)  # last: the per-row search probe runs only on rows the cheap tests kept
        now = _now()
        if f.older_than_s is not None:
            clauses.append(c.created_at <= now - dt.timedelta(seconds=f.older_than_s))
        if f.newer_than_s is not None:
            clauses.append(c.created_at >= now - dt.timedelta(seconds=f.newer_than_s))
        return clauses

    def _common_search(self, f: ItemFilter) -> bool:
        """Whether a page of `f` should walk its sort order and probe the search index per row (SQLite).

        The other plan takes every match (an FTS5 scan, then the rows, then a sort): fine for a rare word,
        but a word in a fifth of 100,000 items reads 19,000 rows to show 50. Walking the sort order instead
        visits about 50 / (share of rows matching) rows. With N items and M matches the walk costs ~N/M
        rows and the scan ~M, so the walk wins past M ~ sqrt(K*N); the word's hits are counted up to that
        bound (FTS5 alone), and a sample of them tested against the other filters, to choose.
        """
        if self.dialect != "sqlite" or f.text is None:
            return False
        match = _fts_match(f.text)
        if match is None:
            return False
        with self.engine.connect() as conn:
            n = conn.exec_driver_sql("SELECT max(rowid) FROM review_search").scalar() or 0
            bound = max(WALK_MIN_MATCHES, int((WALK_FACTOR * n) ** 0.5))
            # The word's own hits first (FTS5 alone, stops at the bound): a rare word costs nothing more.
            hits = sa.select(_FTS.c.rowid).where(_FTS.c.review_search_fts.op("MATCH")(match)).limit(bound)
            if conn.execute(sa.select(sa.func.count()).select_from(hits.subquery())).scalar_one() < bound:
                return False
            # A common word: walk only if a good share of its first `bound` hits pass the other filters too
            # (a word common in decided items' notes must not send the pending view's walk through the
            # whole queue). A sample, so that deciding costs at most `bound` index lookups.
            sample = sa.select(_FTS.c.rowid.label("rowid")).where(_FTS.c.review_search_fts.op("MATCH")(match))
            first = sample.limit(bound).subquery()
            # `ordered`: state and policy as `+col`, so SQLite cannot drive the join from the facets index
            # and probe FTS5 per row (the plan it picked on a freshly analysed queue: 500 ms, not 20)
            rest = self._where(f.model_copy(update={"text": None}), ordered=True)
            passing = (
                sa.select(sa.func.count())
                .select_from(
                    first.join(_SEARCH_ROWS, _SEARCH_ROWS.c.rowid == first.c.rowid).join(
                        schema.items, schema.items.c.id == _SEARCH_ROWS.c.item_id
                    )
                )
                .where(*rest)
            )
            return int(conn.execute(passing).scalar_one()) >= bound * WALK_SHARE

    def _fts_matches(self, conn: Connection, f: ItemFilter, match: str, limit: int) -> int:
        """Items matching `f` (its text as the FTS5 query `match`), counted up to `limit`, driven by FTS5."""
        fts, body = _FTS, _SEARCH_ROWS
        joined = fts.join(body, body.c.rowid == fts.c.rowid).join(schema.items, schema.items.c.id == body.c.item_id)
        rest = self._where(f.model_copy(update={"text": None}), ordered=True)  # FTS5 drives: see above
        inner = (
            sa.select(sa.literal(1))
            .select_from(joined)
            .where(fts.c.review_search_fts.op("MATCH")(match), *rest)
            .limit(limit)
            .subquery()
        )
        return int(conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())

    def _search_probe(self, text: str) -> sa.ColumnElement[bool]:
        """Per row: does this item's search body hold every word? (FTS5 answers MATCH with rowid = ? by seek.)"""
        match = _fts_match(text) or '""'
        fts, body = _FTS, _SEARCH_ROWS
        return sa.exists().where(
            body.c.item_id == schema.items.c.id,
            fts.c.rowid == body.c.rowid,
            fts.c.review_search_fts.op("MATCH")(match),
        )

    def _search(self, text: str) -> sa.Select[tuple[str]]:
        """Ids of items whose output, context or notes hold every word of `text` (FTS5 / PostgreSQL tsvector)."""
        words = _WORD.findall(text)[:20]
        if not words:
            return sa.select(schema.search.c.item_id).where(sa.false())
        if self.dialect == "postgresql":
            tsv = sa.func.to_tsvector(sa.literal_column("'simple'"), schema.search.c.body)
            query = sa.func.plainto_tsquery(sa.literal_column("'simple'"), " ".join(words))
            return sa.select(schema.search.c.item_id).where(tsv.bool_op("@@")(query))
        match = _fts_match(text)
        fts = sa.table("review_search_fts", sa.column("rowid"), sa.column("review_search_fts"))
        hits = sa.select(fts.c.rowid).where(fts.c.review_search_fts.op("MATCH")(match))
        return sa.select(schema.search.c.item_id).where(sa.literal_column("review_search.rowid").in_(hits))

    def items(
        self, f: ItemFilter | None = None, *, limit: int = 50, offset: int = 0, sort: SortKey = SortKey.AGE
    ) -> list[ReviewItem]:
        """Items matching the filter, oldest first by default (the queue is worked in arrival order)."""
        query = (
            sa.select(schema.items)
            .where(*self._where(f or ItemFilter()))
            .order_by(*_order(sort))
            .limit(max(0, min(limit, 1000)))
            .offset(max(0, offset))
        )
        with self.engine.connect() as conn:
            return [_item(r) for r in conn.execute(query).mappings()]

    def page(
        self, f: ItemFilter | None = None, *, sort: SortKey = SortKey.AGE, after: str | None = None, limit: int = 50
    ) -> tuple[list[ReviewItem], str | None]:
        """One page of the queue by keyset: (items, cursor of the next page or None). `after` is a cursor.

        Keyset, not offset: page 2,000 costs what page 1 costs, and an item decided meanwhile does not
        shift the next page by one (offset paging skips or repeats a row whenever the set changes).
        """
        where = self._where(f or ItemFilter(), ordered=True)
        if after:
            where.append(_after(sort, after))
        limit = max(1, min(limit, 1000))
        query = sa.select(schema.items).where(*where).order_by(*_order(sort)).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
        more = len(rows) > limit
        rows = rows[:limit]
        return [_item(r) for r in rows], (_cursor(sort, rows[-1]) if more and rows else None)

    def neighbours(
        self, item: ReviewItem, f: ItemFilter | None = None, *, sort: SortKey = SortKey.AGE
    ) -> tuple[str | None, str | None]:
        """(previous id, next id) around `item` in the filtered queue: two keyset lookups, not a list of ids."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(schema.items).where(schema.items.c.id == item.id)).mappings().first()
            if row is None:
                return None, None
            cursor = _cursor(sort, row)
            where = self._where(f or ItemFilter(), ordered=True)
            found: list[str | None] = []
            for reverse in (True, False):
                query = (
                    sa.select(schema.items.c.id)
                    .where(*where, _after(sort, cursor, reverse=reverse))
                    .order_by(*_order(sort, reverse=reverse))
                    .limit(1)
                )
                found.append(conn.execute(query).scalar())
        return found[0], found[1]

    def ids(self, f: ItemFilter | None = None, *, limit: int = 10_000, sort: SortKey = SortKey.AGE) -> list[str]:
        query = sa.select(schema.items.c.id).where(*self._where(f or ItemFilter())).order_by(*_order(sort)).limit(limit)
        with self.engine.connect() as conn:
            return [str(r) for r in conn.execute(query).scalars()]

    def count(self, f: ItemFilter | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(schema.items).where(*self._where(f or ItemFilter()))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def counts(self, f: ItemFilter | None = None, *, cap: int | None = None) -> QueueCounts:
        """Counts of the filtered set by state, code, worst severity and policy (for the queue's facets).

        `cap`: for a full-text search, count at most this many matches. A common word matches a fifth of
        the queue, and grouping 20,000 rows costs more than the page itself; past the cap the page says
        "10,000+" (`capped`) and leaves out the breakdowns, which a reviewer narrowing a search does not need.
        """
        c = schema.items.c
        f = f or ItemFilter()
        where = self._where(f)
        match = _fts_match(f.text) if f.text is not None else None
        if cap is not None and match is not None:
            with self.engine.connect() as conn:
                if self.dialect == "sqlite":  # a join driven by FTS5 stops at the cap; `IN (...)` takes all
                    n = self._fts_matches(conn, f, match, cap + 1)
                else:
                    probe = sa.select(c.id).where(*where).limit(cap + 1).subquery()
                    n = int(conn.execute(sa.select(sa.func.count()).select_from(probe)).scalar_one())
            if n > cap:
                return QueueCounts(total=cap, capped=True, by_state={}, by_code={}, by_severity={}, by_policy={})
        by_state: dict[str, int] = {}
        by_policy: dict[str, int] = {}
        by_rank: dict[int, int] = {}
        total = 0
        with self.engine.connect() as conn:
            # One scan of a covering index: grouped by state, policy, severity and the codes string, summed
            # here (the combinations are few; a join to the per-code rows cost 10x more at 100,000 items).
            grouped = conn.execute(
                sa.select(c.state, c.policy, c.severity_rank, c.codes, sa.func.count())
                .where(*where)
                .group_by(c.state, c.policy, c.severity_rank, c.codes)
            )
            by_code: dict[str, int] = {}
            for state, policy, rank, codes, n in grouped:
                total += n
                by_state[state] = by_state.get(state, 0) + n
                by_policy[policy] = by_policy.get(policy, 0) + n
                if rank is not None:
                    by_rank[rank] = by_rank.get(rank, 0) + n
                for code in (codes or "").split():
                    by_code[code] = by_code.get(code, 0) + n
        by_severity = {_SEVERITIES[int(k)].value: n for k, n in by_rank.items()}
        return QueueCounts(
            total=total, by_state=by_state, by_code=by_code, by_severity=by_severity, by_policy=by_policy
        )

    def audit_trail(self, item_id: str) -> list[AuditEntry]:
        query = sa.select(schema.audit).where(schema.audit.c.item_id == item_id).order_by(schema.audit.c.id)
        with self.engine.connect() as conn:
            return [
                AuditEntry(
                    id=r["id"],
                    item_id=r["item_id"],
                    actor=r["actor"],
                    at=_aware(r["at"]) or _now(),
                    action=r["action"],
                    before=json.loads(r["before_json"]) if r["before_json"] else None,
                    after=json.loads(r["after_json"]) if r["after_json"] else None,
                    note=r["note"],
                )
                for r in conn.execute(query).mappings()
            ]

    def decided(self, f: ItemFilter | None = None, *, batch: int = 500) -> Iterator[ReviewItem]:
        """Every decided item matching `f`, in decision order, streamed in batches."""
        base = (f or ItemFilter()).model_copy(update={"state": ReviewState.DECIDED})
        offset = 0
        while True:
            query = (
                sa.select(schema.items)
                .where(*self._where(base))
                .order_by(schema.items.c.decided_at, schema.items.c.id)
                .limit(batch)
                .offset(offset)
            )
            with self.engine.connect() as conn:
                rows = [_item(r) for r in conn.execute(query).mappings()]
            yield from rows
            if len(rows) < batch:
                return
            offset += batch

    # -- transitions ----------------------------------------------------------------------------

    @contextmanager
    def _transition(self) -> Iterator[Connection]:
        """A write transaction that locks what it reads (see the module docstring)."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    def assign(self, item_id: str, assignee: str | None, *, actor: str, lease: bool = False) -> ReviewItem:
        """Assign to a reviewer (state in_review), or release with assignee None (state open).

        `lease=True` makes it a claim that lapses after `claim_ttl_s` (the review page's "assign to me"):
        a reviewer who walks away does not hold the item from everyone's "next" for good.
        """
        with self._transition() as conn:
            before = self._row_for_update(conn, item_id)
            if before["state"] == ReviewState.DECIDED.value:
                raise ReviewConflict(f"item {item_id} is already decided")
            state = ReviewState.OPEN if assignee is None else ReviewState.IN_REVIEW
            now = _now()
            expires = now + dt.timedelta(seconds=self.claim_ttl_s) if assignee is not None and lease else None
            self._compare_and_set(
                conn, before, assignee=assignee, state=state.value, updated_at=now, claim_expires_at=expires
            )
            self._audit(
                conn,
                item_id,
                actor,
                "assign" if assignee else "release",
                before={"state": before["state"], "assignee": before["assignee"]},
                after={"state": state.value, "assignee": assignee, "claim_expires_at": expires},
            )
        return self.get(item_id)

    def claim_next(
        self,
        reviewer: str,
        f: ItemFilter | None = None,
        *,
        sort: SortKey = SortKey.AGE,
        skip: Sequence[str] = (),
        route: tuple[Sequence[str], Sequence[str]] | None = None,
    ) -> ReviewItem | None:
        """The reviewer's next item, claimed with a lease: one they already hold, else the first unclaimed.

        Unclaimed means open, or in review under a claim that lapsed. Two reviewers asking at once get
        different items: the pick and the claim are one locked transaction (SQLite's write lock; on
        PostgreSQL `FOR UPDATE SKIP LOCKED`, so the second takes the next row instead of waiting).
        `route` (policies, codes): unclaimed items routed to the reviewer's groups come before the rest.
        """
        c = schema.items.c
        base = (f or ItemFilter()).model_copy(update={"state": None, "states": None, "assignee": None})
        now = _now()
        mine = sa.and_(c.state == ReviewState.IN_REVIEW.value, c.assignee == reviewer)
        lapsed = sa.and_(
            c.state == ReviewState.IN_REVIEW.value, c.claim_expires_at.is_not(None), c.claim_expires_at <= now
        )
        skipping = [c.id.not_in(list(skip))] if skip else []
        unclaimed = sa.or_(c.state == ReviewState.OPEN.value, lapsed)
        passes: list[sa.ColumnElement[bool]] = [mine]
        if route is not None and all(_storable(t) for t in [*route[0], *route[1]]):
            passes.append(sa.and_(unclaimed, _routed(route[0], route[1], c.policy)))
        passes.append(unclaimed)
        with self._transition() as conn:
            row = None
            for who in passes:
                query = sa.select(schema.items).where(*self._where(base), who, *skipping).order_by(*_order(sort))
                query = query.limit(1)
                if self.dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                row = conn.execute(query).mappings().first()
                if row is not None:
                    break
            if row is None:
                return None
            expires = now + dt.timedelta(seconds=self.claim_ttl_s)
            self._compare_and_set(
                conn,
                row,
                assignee=reviewer,
                state=ReviewState.IN_REVIEW.value,
                updated_at=now,
                claim_expires_at=expires,
            )
            if row["assignee"] != reviewer or row["state"] != ReviewState.IN_REVIEW.value:
                self._audit(
                    conn,
                    row["id"],
                    reviewer,
                    "claim",
                    before={"state": row["state"], "assignee": row["assignee"]},
                    after={"state": ReviewState.IN_REVIEW.value, "assignee": reviewer, "claim_expires_at": expires},
                )
        return self.get(row["id"])

    def reopen(self, item_id: str, *, actor: str, reason: str, undo: bool = False) -> ReviewItem:
        """Take a decision back: the item is open again, the audit trail keeps both the decision and this.

        A false positive's suppressions made by this item are lifted with it (the reviewer is saying the
        finding was not false after all). A corrected fact stays written: the facts store has its own
        history, and the correction may be right even if releasing this output was not.
        `undo=True` is the decider's own undo, without a reason, within UNDO_WINDOW_S of the decision.
        """
        reason = reason.strip()
        if not undo and not reason:
            raise ReviewError("reopening a decision needs a reason (it goes into the audit trail)")
        revoked: list[dict[str, str]] = []
        with self._transition() as conn:
            row = self._row_for_update(conn, item_id)
            if row["state"] != ReviewState.DECIDED.value:
                raise ReviewConflict(f"item {item_id} is not decided, so there is nothing to reopen")
            if undo:
                decided_at = _aware(row["decided_at"])
                if row["decided_by"] != actor:
                    raise ReviewConflict(f"only {row['decided_by']} can undo their decision; reopen it with a reason")
                if decided_at is None or (_now() - decided_at).total_seconds() > UNDO_WINDOW_S:
                    raise ReviewConflict("the undo window has passed; reopen the item with a reason")
            if row["decision"] == DecisionKind.FALSE_POSITIVE.value:
                revoked = self._unsuppress(conn, sa.and_(schema.suppressions.c.item_id == item_id))
            now = _now()
            self._compare_and_set(
                conn,
                row,
                state=ReviewState.OPEN.value,
                assignee=None,
                decision=None,
                final_output=None,
                decided_by=None,
                decided_at=None,
                updated_at=now,
                claim_expires_at=None,
            )
            self._audit(
                conn,
                item_id,
                actor,
                "undo" if undo else "reopen",
                before={
                    "state": row["state"],
                    "decision": row["decision"],
                    "decided_by": row["decided_by"],
                    "output": row["final_output"],
                },
                after={"state": ReviewState.OPEN.value, "revoked": revoked},
                note=reason or None,
            )
            self._add_note(conn, item_id, reason)
        if revoked:
            self._invalidate_caches()
        return self.get(item_id)

    def decide(
        self,
        item_id: str,
        decision: Decision,
        *,
        actor: str,
        fact_writer: FactWriter | None = None,
        revalidate: Revalidator | None = None,
    ) -> ReviewItem:
        """Record a decision. Decided items are final: deciding again raises ReviewConflict.

        `correct_fact` writes the fact, then validates the item's output again (`revalidate`): only an
        output that now passes (or is repaired) is released; one still flagged stays in the queue with the
        new report, its findings and verdict, and the audit trail records the correction either way.
        """
        if decision.kind is DecisionKind.CORRECT_FACT and fact_writer is None:
            raise ReviewError("correct_fact needs a facts store, and none is configured")
        if decision.kind is DecisionKind.CORRECT_FACT and revalidate is None:
            raise ReviewError("correct_fact needs the item's policy to validate the output again, and none is given")
        suppressed: list[dict[str, str]] = []
        with self._transition() as conn:
            row = self._row_for_update(conn, item_id)
            if row["state"] == ReviewState.DECIDED.value:
                raise ReviewConflict(f"item {item_id} was already decided ({row['decision']} by {row['decided_by']})")
            # Deciding an item assigned to someone else is allowed (a lead clears a queue); the audit shows who.
            report = Report.model_validate_json(row["report_json"])
            final: str | None = None
            after_extra: dict[str, Any] = {}
            held = False  # a corrected fact that still leaves the output flagged keeps the item queued
            if decision.kind is DecisionKind.APPROVE:
                final = row["delivered"]
            elif decision.kind is DecisionKind.APPROVE_EDIT:
                final = decision.edited_output
            elif decision.kind is DecisionKind.FALSE_POSITIVE:
                final = row["output"]
                suppressed = self._suppress(conn, report, decision.fingerprints, actor, item_id)
                after_extra["suppressed"] = suppressed
            elif decision.kind is DecisionKind.CORRECT_FACT:
                assert decision.fact is not None and fact_writer is not None and revalidate is not None
                after_extra["fact"] = fact_writer(decision.fact, actor)
                fresh = revalidate(_item(row))
                after_extra["revalidated"] = _report_summary(fresh)
                if fresh.verdict.value not in _RELEASABLE:
                    self._still_flagged(conn, row, fresh, actor=actor, decision=decision, after_extra=after_extra)
                    held = True
                else:
                    self._replace_report(conn, item_id, fresh)
                    final = fresh.output
            if not held:
                self._decided(conn, row, decision, actor=actor, final=final, after_extra=after_extra)
        if suppressed:
            self._invalidate_caches()
        return self.get(item_id)

    def _decided(
        self,
        conn: Connection,
        row: RowMapping,
        decision: Decision,
        *,
        actor: str,
        final: str | None,
        after_extra: dict[str, Any],
    ) -> None:
        item_id = row["id"]
        now = _now()
        self._compare_and_set(
            conn,
            row,
            state=ReviewState.DECIDED.value,
            decision=decision.kind.value,
            final_output=final,
            decided_by=actor,
            decided_at=now,
            updated_at=now,
            assignee=row["assignee"] or actor,
        )
        self._audit(
            conn,
            item_id,
            actor,
            f"decide:{decision.kind.value}",
            before={"state": row["state"], "assignee": row["assignee"], "output": row["delivered"]},
            after={
                "state": ReviewState.DECIDED.value,
                "decision": decision.kind.value,
                "output": final,
                **after_extra,
            },
            note=decision.note,
        )
        self._add_note(conn, item_id, decision.note)

    def _add_note(self, conn: Connection, item_id: str, note: str | None) -> None:
        """Reviewers' notes are searchable with the output they are about."""
        if not note or not note.strip():
            return
        body = conn.execute(sa.select(schema.search.c.body).where(schema.search.c.item_id == item_id)).scalar()
        text = _clean(note)
        if body is None:
            conn.execute(schema.search.insert().values(item_id=item_id, body=text))
        else:
            conn.execute(
                schema.search.update().where(schema.search.c.item_id == item_id).values(body=f"{body}\n{text}")
            )

    def _still_flagged(
        self,
        conn: Connection,
        row: RowMapping,
        fresh: Report,
        *,
        actor: str,
        decision: Decision,
        after_extra: dict[str, Any],
    ) -> None:
        """A corrected fact did not clear the output: keep the item in the queue with its new report."""
        self._replace_report(conn, row["id"], fresh)
        self._compare_and_set(conn, row, updated_at=_now())
        self._audit(
            conn,
            row["id"],
            actor,
            "correct_fact",
            before={"state": row["state"], "verdict": row["verdict"], "codes": row["codes"].split()},
            after={"state": row["state"], **after_extra},
            note=decision.note,
        )

    def _replace_report(self, conn: Connection, item_id: str, report: Report) -> None:
        codes, worst = _codes_and_worst(report)
        conn.execute(
            schema.items.update()
            .where(schema.items.c.id == item_id)
            .values(
                verdict=report.verdict.value,
                delivered=report.output,
                report_json=report.model_dump_json(by_alias=True),
                codes=" ".join(codes),
                severity_rank=worst,
            )
        )
        conn.execute(schema.item_codes.delete().where(schema.item_codes.c.item_id == item_id))
        if codes:
            conn.execute(schema.item_codes.insert(), [{"item_id": item_id, "code": c} for c in codes])

    def _compare_and_set(self, conn: Connection, before: RowMapping, **values: Any) -> None:
        """Update the item only if it is still as read: of two racing transitions one wins, the other conflicts."""
        c = schema.items.c
        done = conn.execute(
            schema.items.update()
            .where(c.id == before["id"], c.state == before["state"], c.updated_at == before["updated_at"])
            .values(**values)
        )
        if done.rowcount != 1:
            raise ReviewConflict(f"item {before['id']} was changed by someone else meanwhile; reload it")

    def _row_for_update(self, conn: Connection, item_id: str) -> RowMapping:
        if not _storable(item_id):
            raise ReviewNotFound(f"no review item {item_id!r}")
        query = sa.select(schema.items).where(schema.items.c.id == item_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise ReviewNotFound(f"no review item {item_id!r}")
        return row

    def _audit(
        self,
        conn: Connection,
        item_id: str,
        actor: str,
        action: str,
        *,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        note: str | None = None,
    ) -> None:
        conn.execute(
            schema.audit.insert().values(
                item_id=item_id,
                actor=actor,
                at=_now(),
                action=action,
                before_json=json.dumps(before, default=str) if before is not None else None,
                after_json=json.dumps(after, default=str) if after is not None else None,
                note=note,
            )
        )

    # -- suppressions ---------------------------------------------------------------------------

    def _suppress(
        self, conn: Connection, report: Report, fingerprints: Sequence[str] | None, actor: str, item_id: str
    ) -> list[dict[str, str]]:
        wanted = set(fingerprints) if fingerprints is not None else None
        chosen = {
            (f.rule_id, f.fingerprint)
            for f in report.findings
            if f.status is FindingStatus.OPEN and (wanted is None or f.fingerprint in wanted)
        }
        if wanted is not None:
            unknown = wanted - {fp for _, fp in chosen}
            if unknown:
                raise ReviewError(f"no open finding with fingerprint(s) {', '.join(sorted(unknown))} in this item")
        if not chosen:
            raise ReviewError("this item has no open finding to mark as a false positive")
        existing = {
            (r.rule_id, r.fingerprint)
            for r in conn.execute(
                sa.select(schema.suppressions.c.rule_id, schema.suppressions.c.fingerprint).where(
                    schema.suppressions.c.policy == report.policy
                )
            )
        }
        new = sorted(chosen - existing)
        if new:
            conn.execute(
                schema.suppressions.insert(),
                [
                    {
                        "policy": report.policy,
                        "rule_id": rule_id,
                        "fingerprint": fp,
                        "created_by": actor,
                        "created_at": _now(),
                        "item_id": item_id,
                    }
                    for rule_id, fp in new
                ],
            )
        return [{"policy": report.policy, "rule_id": r, "fingerprint": fp} for r, fp in sorted(chosen)]

    def _unsuppress(self, conn: Connection, where: sa.ColumnElement[bool]) -> list[dict[str, str]]:
        sup = schema.suppressions.c
        gone = [
            {"policy": r.policy, "rule_id": r.rule_id, "fingerprint": r.fingerprint}
            for r in conn.execute(sa.select(sup.policy, sup.rule_id, sup.fingerprint).where(where))
        ]
        if gone:
            conn.execute(schema.suppressions.delete().where(where))
            hits = schema.suppression_hits.c
            for key in gone:
                same = (hits.policy == key["policy"], hits.rule_id == key["rule_id"])
                conn.execute(schema.suppression_hits.delete().where(*same, hits.fingerprint == key["fingerprint"]))
        return gone

    def revoke_suppression(
        self, policy: str, rule_id: str, fingerprint: str, *, actor: str, reason: str
    ) -> Suppression:
        """Lift a suppression: the finding counts again from the next validation. Audited on the item it came from."""
        if not all(_storable(t) for t in (policy, rule_id, fingerprint, reason)):
            raise ReviewNotFound("no such suppression")
        sup = schema.suppressions.c
        where = sa.and_(sup.policy == policy, sup.rule_id == rule_id, sup.fingerprint == fingerprint)
        found = [s for s in self.suppressions(policy) if s.rule_id == rule_id and s.fingerprint == fingerprint]
        if not found:
            raise ReviewNotFound(f"no suppression of {rule_id} {fingerprint} in policy {policy!r}")
        with self._transition() as conn:
            if not self._unsuppress(conn, where):
                raise ReviewNotFound(f"no suppression of {rule_id} {fingerprint} in policy {policy!r}")
            self._audit(
                conn,
                found[0].item_id or "-",
                actor,
                "revoke_suppression",
                before={"policy": policy, "rule_id": rule_id, "fingerprint": fingerprint, "hits": found[0].hits},
                after=None,
                note=reason.strip() or None,
            )
        self._invalidate_caches()
        return found[0]

    def suppressions(self, policy: str | None = None, *, details: bool = False) -> list[Suppression]:
        """Every suppression (of one policy), newest first; `details` adds the example text and message."""
        sup, hits = schema.suppressions.c, schema.suppression_hits.c
        joined = schema.suppressions.outerjoin(
            schema.suppression_hits,
            sa.and_(hits.policy == sup.policy, hits.rule_id == sup.rule_id, hits.fingerprint == sup.fingerprint),
        )
        query = sa.select(schema.suppressions, hits.hits).select_from(joined).order_by(sup.created_at.desc())
        if policy is not None:
            if not _storable(policy):
                return []
            query = query.where(sup.policy == policy)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
        out = []
        for r in rows:
            example = message = None
            if details and r["item_id"]:
                example, message = self._example(r["item_id"], r["fingerprint"])
            out.append(
                Suppression(
                    policy=r["policy"],
                    rule_id=r["rule_id"],
                    fingerprint=r["fingerprint"],
                    created_by=r["created_by"],
                    created_at=_aware(r["created_at"]) or _now(),
                    item_id=r["item_id"],
                    hits=int(r["hits"] or 0),
                    example=example,
                    message=message,
                )
            )
        return out

    def _example(self, item_id: str, fingerprint: str) -> tuple[str | None, str | None]:
        try:
            item = self.get(item_id)
        except ReviewNotFound:
            return None, None
        for f in item.report.findings:
            if f.fingerprint == fingerprint:
                text = item.output[f.span.start : f.span.end] if f.span.end > f.span.start else None
                return text, f.message
        return None, None

    def record_hits(self, counts: dict[tuple[str, str, str], int]) -> None:
        """Add what a suppressor silenced since its last report (called from its background refresh)."""
        if not counts:
            return
        hits = schema.suppression_hits.c
        now = _now()
        with self.engine.begin() as conn:
            for (policy, rule_id, fp), n in counts.items():
                where = sa.and_(hits.policy == policy, hits.rule_id == rule_id, hits.fingerprint == fp)
                done = conn.execute(
                    schema.suppression_hits.update().where(where).values(hits=hits.hits + n, last_at=now)
                )
                if done.rowcount == 0:
                    conn.execute(
                        schema.suppression_hits.insert().values(
                            policy=policy, rule_id=rule_id, fingerprint=fp, hits=n, last_at=now
                        )
                    )

    def suppressor(self, ttl_s: float = 5.0) -> SuppressionCache:
        """A callable for `Engine(suppressor=...)`: an in-memory set, refreshed every `ttl_s` and on local writes."""
        cache = SuppressionCache(self, ttl_s)
        with self._lock:
            self._caches.append(cache)
        return cache

    def _invalidate_caches(self) -> None:
        with self._lock:
            for cache in self._caches:
                cache.invalidate()


class SuppressionCache:
    """(policy, rule id, fingerprint) -> suppressed? Answered from memory so validation stays in microseconds.

    The first call loads synchronously; afterwards a stale set is refreshed in a background thread while
    the old one keeps answering (validation never waits on the database). A decision taken through this
    store reloads the set at once, in the deciding thread.
    """

    def __init__(self, store: ReviewStore, ttl_s: float) -> None:
        self._store = store
        self._ttl = ttl_s
        self._keys: frozenset[tuple[str, str, str]] | None = None
        self._loaded_at = float("-inf")
        self._refreshing = threading.Lock()
        self._hits: Counter[tuple[str, str, str]] = Counter()

    def invalidate(self) -> None:
        self.reload()

    def reload(self) -> None:
        with self._refreshing:
            self._load()

    def _load(self) -> None:
        self.flush_hits()
        keys = frozenset((s.policy, s.rule_id, s.fingerprint) for s in self._store.suppressions())
        self._keys, self._loaded_at = keys, time.monotonic()

    def flush_hits(self) -> None:
        """Write the silenced-output counts to the store (they ride on the refresh, off the hot path)."""
        counts, self._hits = self._hits, Counter()
        try:
            self._store.record_hits(dict(counts))
        except Exception:  # the database is unreachable: keep the counts for the next refresh
            self._hits.update(counts)
            raise

    def _refresh_in_background(self) -> None:
        if not self._refreshing.acquire(blocking=False):
            return  # a refresh is already running

        def run() -> None:
            try:
                self._load()
            except Exception:  # the database is unreachable: keep answering from the last good set
                self._loaded_at = time.monotonic()
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name="outguard-suppressions", daemon=True).start()

    def __call__(self, policy: str, rule_id: str, fp: str) -> bool:
        keys = self._keys
        if keys is None:
            self.reload()
            keys = self._keys or frozenset()
        elif time.monotonic() - self._loaded_at >= self._ttl:
            self._refresh_in_background()
        key = (policy, rule_id, fp)
        if key in keys:
            self._hits[key] += 1  # Counter += is not atomic across threads: a count may rarely be lost
            return True
        return False

    def snapshot(self) -> FrozenSuppressions:
        """The current set, fixed: what a worker process of `Engine.validate_many` gets when pickled."""
        if self._keys is None:
            self.reload()
        return FrozenSuppressions(self._keys or frozenset())

    def __reduce__(self) -> tuple[type[FrozenSuppressions], tuple[frozenset[tuple[str, str, str]]]]:
        return FrozenSuppressions, (self.snapshot().keys,)


@dataclass(frozen=True)
class FrozenSuppressions:
    """A fixed set of suppressed (policy, rule id, fingerprint) keys: a picklable suppressor."""

    keys: frozenset[tuple[str, str, str]]

    def __call__(self, policy: str, rule_id: str, fp: str) -> bool:
        return (policy, rule_id, fp) in self.keys


def _item(row: RowMapping) -> ReviewItem:
    rank = row["severity_rank"]
    return ReviewItem(
        id=row["id"],
        request_id=row["request_id"],
        policy=row["policy"],
        policy_version=row["policy_version"],
        verdict=row["verdict"],
        state=ReviewState(row["state"]),
        assignee=row["assignee"],
        sampled=bool(row["sampled"]),
        output=row["output"],
        delivered=row["delivered"],
        report=Report.model_validate_json(row["report_json"]),
        context=json.loads(row["context_json"]),
        codes=row["codes"].split() if row["codes"] else [],
        max_severity=_SEVERITIES[rank] if rank is not None else None,
        decision=DecisionKind(row["decision"]) if row["decision"] else None,
        final_output=row["final_output"],
        decided_by=row["decided_by"],
        created_at=_aware(row["created_at"]) or _now(),
        updated_at=_aware(row["updated_at"]) or _now(),
        decided_at=_aware(row["decided_at"]),
        claim_expires_at=_aware(row.get("claim_expires_at")),
    )


def _routed(policies: Sequence[str], codes: Sequence[str], policy: Any) -> sa.ColumnElement[bool]:
    """Items of one of `policies`, or with a finding of one of `codes` (a reviewer group's routing)."""
    either: list[sa.ColumnElement[bool]] = []
    if policies:
        either.append(policy.in_(list(policies)))
    if codes:
        sub = sa.select(schema.item_codes.c.item_id).where(schema.item_codes.c.code.in_(list(codes)))
        either.append(schema.items.c.id.in_(sub))
    return sa.or_(*either) if either else sa.false()


def _fts_match(text: str) -> str | None:
    """An FTS5 query from the words of `text` only, each quoted: a reviewer's `"` or `OR(` is never a
    syntax error. None when the text has no word."""
    words = _WORD.findall(text)[:20]
    return " ".join('"' + w.replace('"', "") + '"' for w in words) if words else None


def _storable(text: str) -> bool:
    """Whether a caller's string can be a key or a query parameter: PostgreSQL text refuses NUL."""
    return "\x00" not in text


def _report_summary(report: Report) -> dict[str, Any]:
    """What the audit trail keeps of a re-validation: the verdict and each finding's code, rule and message."""
    return {
        "verdict": report.verdict.value,
        "codes": sorted({f.code for f in report.findings if f.status is not FindingStatus.SUPPRESSED}),
        "findings": [
            {"code": f.code, "rule_id": f.rule_id, "message": f.message, "status": f.status.value}
            for f in report.findings
        ],
    }


def _codes_and_worst(report: Report) -> tuple[list[str], int | None]:
    """Codes of the findings not suppressed (what fired); the worst severity of those still open.

    A repaired finding fired, so it is listed, but the text delivered no longer holds it: the queue's
    severity is about what a reviewer still has to judge.
    """
    codes = sorted({f.code for f in report.findings if f.status is not FindingStatus.SUPPRESSED})
    worst = max((f.severity.rank for f in report.findings if f.status is FindingStatus.OPEN), default=None)
    return codes, worst


def _clean(text: str) -> str:
    return text.replace("\x00", " ")


def _search_body(output: str, context: Any) -> str:
    """What search looks at: the output, then every string in the context (prompt, messages, metadata)."""
    data = context.model_dump(by_alias=True, exclude_defaults=True) if isinstance(context, Context) else context
    parts = [output]

    def walk(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(data)
    return _clean("\n".join(parts))


def _sort_columns(sort: SortKey) -> list[tuple[Any, bool, str]]:
    """(expression, descending, row key) per sort; the id last makes every order total (keyset needs it)."""
    c = schema.items.c
    if sort is SortKey.NEWEST:
        return [(c.created_at, True, "created_at"), (c.id, True, "id")]
    if sort is SortKey.SEVERITY:
        rank = schema.SEVERITY_ORDER
        return [(rank, True, "severity_rank"), (c.created_at, False, "created_at"), (c.id, False, "id")]
    if sort is SortKey.POLICY:
        return [(c.policy, False, "policy"), (c.created_at, False, "created_at"), (c.id, False, "id")]
    return [(c.created_at, False, "created_at"), (c.id, False, "id")]


def _order(sort: SortKey, *, reverse: bool = False) -> list[Any]:
    return [col.desc() if desc != reverse else col.asc() for col, desc, _ in _sort_columns(sort)]


def _cursor(sort: SortKey, row: RowMapping) -> str:
    values: list[Any] = []
    for _, _, key in _sort_columns(sort):
        value = row[key]
        if key == "severity_rank":
            value = -1 if value is None else value
        elif isinstance(value, dt.datetime):
            value = (_aware(value) or _now()).isoformat()
        values.append(value)
    return base64.urlsafe_b64encode(json.dumps([sort.value, values]).encode()).decode().rstrip("=")


def _after(sort: SortKey, cursor: str, *, reverse: bool = False) -> sa.ColumnElement[bool]:
    """Rows strictly after the cursor in `sort` order (before it, `reverse`); a cursor that does not parse
    (or is of another sort) restarts from the top rather than failing the page."""
    columns = _sort_columns(sort)
    try:
        kind, values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if kind != sort.value or len(values) != len(columns):
            return sa.true()
        parsed: list[Any] = []
        for (_, _, key), value in zip(columns, values, strict=True):
            if key == "created_at":
                parsed.append(dt.datetime.fromisoformat(value))
            elif key == "severity_rank":
                parsed.append(int(value))
            elif isinstance(value, str) and _storable(value):
                parsed.append(value)
            else:
                return sa.true()
    except (ValueError, TypeError):
        return sa.true()
    if len({desc for _, desc, _ in columns}) == 1:
        # One direction: a row-value comparison, which both databases answer from an index on these columns.
        left, right = sa.tuple_(*(col for col, _, _ in columns)), sa.tuple_(*parsed)
        return left < right if columns[0][1] != reverse else left > right
    ors = []
    for n, (col, desc, _) in enumerate(columns):
        equal = [columns[i][0] == parsed[i] for i in range(n)]
        beyond = col < parsed[n] if desc != reverse else col > parsed[n]
        ors.append(sa.and_(*equal, beyond))
    return sa.or_(*ors)
