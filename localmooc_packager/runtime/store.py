"""Learner data in SQL: identity apart from learner state (PDPA), sessions, enrolments, XBlock state, events.

One ``Store`` per worker process wraps a SQLAlchemy engine (SQLite or PostgreSQL). Every write path is a
single transaction; learner state is written with upserts (``INSERT ... ON CONFLICT DO UPDATE``), never
read-modify-write. A handler transaction first takes a lock on (course, learner, block) - SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's transaction-scoped advisory lock - so two concurrent submissions of one
learner to one quiz are serialised instead of one overwriting the other's attempt count.

The statements of a handler call (session check, state read, state/grade/completion upserts, attempts row)
run as driver SQL on the DBAPI connection of the SQLAlchemy transaction: Core costs ~30-50 us per statement
to build, cache-key and bind, which was half of a quiz submission. The SQL text is fixed, so sqlite3's
statement cache and psycopg's automatic server-side prepare (after 5 uses per connection) apply.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from select import select as select_fds
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from xblock.fields import BlockScope, Scope
from xblock.runtime import KeyValueStore

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# A random id that says nothing about the person; every learner-state row is keyed by it.
learners = Table(
    "learners",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("role", String(16), nullable=False, default="learner"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True)),
    Index("ix_learners_created", "created_at", "id"),
)

# Who the learner is. Erasure deletes this row and leaves the anonymous learner id and its state.
identities = Table(
    "identities",
    metadata,
    Column("learner_id", String(32), ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("national_id_hmac", String(64), unique=True),  # keyed HMAC-SHA256, never the raw id
    Column("org_type", String(32), nullable=False),
    Column("organisation", String(200), nullable=False, default=""),
    Column("province", String(64), nullable=False, default=""),
    Column("lawful_basis", String(16), nullable=False),  # public-task | consent
    Column("consent_version", String(16)),
    Column("consent_at", DateTime(timezone=True)),
    Column("password_hash", String(200), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie: a leaked table opens nothing
    Column("learner_id", String(32), ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_sessions_learner", "learner_id"),
)

enrolments = Table(
    "enrolments",
    metadata,
    Column("learner_id", String(32), ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True),
    Column("course_id", String(100), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_unit", String(100)),
    Column("last_seen", DateTime(timezone=True)),
    Column("study_seconds", Integer, nullable=False, default=0),
    Index("ix_enrolments_course", "course_id"),
)

# XBlock fields of the user scopes. course_id namespaces usage ids (two courses may both have a "post"
# block); it is '' for type- and all-scoped fields, which XBlock shares across courses. user '' = all users.
learner_state = Table(
    "learner_state",
    metadata,
    Column("course_id", String(100), primary_key=True),
    Column("scope", String(24), primary_key=True),
    Column("learner_id", String(32), primary_key=True),
    Column("block_id", String(100), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_learner_state_learner", "learner_id", "course_id", "block_id"),
)

grades = Table(
    "grades",
    metadata,
    Column("course_id", String(100), primary_key=True),
    Column("learner_id", String(32), primary_key=True),
    Column("block_id", String(100), primary_key=True),
    Column("earned", Float, nullable=False),
    Column("possible", Float, nullable=False),
    Column("score", Float, nullable=False),  # best earned/possible so far
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_grades_learner", "learner_id", "course_id"),
)

completions = Table(
    "completions",
    metadata,
    Column("course_id", String(100), primary_key=True),
    Column("learner_id", String(32), primary_key=True),
    Column("block_id", String(100), primary_key=True),
    Column("completion", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_completions_learner", "learner_id", "course_id"),
)

# Every grade event as it happened (append-only): evidence for HR reports and disputes.
attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("course_id", String(100), nullable=False),
    Column("learner_id", String(32), nullable=False),
    Column("block_id", String(100), nullable=False),
    Column("earned", Float, nullable=False),
    Column("possible", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_attempts_learner", "learner_id", "course_id", "block_id"),
)

course_settings = Table(
    "course_settings",
    metadata,
    Column("course_id", String(100), primary_key=True),
    Column("published", Boolean, nullable=False, default=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Who did what to whom; no names or national ids, only learner ids.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(32), nullable=False, default=""),
    Column("action", String(48), nullable=False),
    Column("target", String(200), nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),
    Index("ix_audit_actor", "actor", "at"),
)

T = TypeVar("T")
RowKey = tuple[str, str, str, str, str]  # learner_state's primary key: course, scope, learner, block, field
USER_SCOPES = (Scope.user_state, Scope.user_state_summary, Scope.preferences, Scope.user_info)
MIGRATIONS = Path(__file__).with_name("migrations")


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def new_id() -> str:
    return secrets.token_urlsafe(16)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DuplicateError(Exception):
    """A unique value (username, national id) is taken."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class SessionInfo:
    learner_id: str
    role: str
    expires_at: datetime


@dataclass
class Published:
    """Events a block published during one request; written in the request's transaction."""

    grades: list[tuple[str, float, float]] = field(default_factory=list)
    completions: list[tuple[str, float]] = field(default_factory=list)


class SessionRefused(Exception):
    """A handler call whose session is missing, expired or revoked, or whose learner is not enrolled."""


@dataclass(frozen=True)
class HandlerCall:
    """One call of ``Store.handler_batch``: the session cookie, and the block whose state it needs."""

    token: str
    course_id: str
    block_id: str
    lock_summary: bool = False  # the block has user_state_summary fields (rows of learner '')


# Hot statements, written once for both databases ("?" placeholders; PostgreSQL gets "%s"). They are the
# Core statements of the Store's slow paths, spelled out: same tables, same upsert rules.
_HOT_SQL = {
    # Session and enrolment in one indexed lookup (sessions PK, learners PK, enrolments PK).
    "session": "SELECT s.learner_id, s.expires_at, l.role, (SELECT 1 FROM enrolments e "
    "WHERE e.learner_id = s.learner_id AND e.course_id = ?) FROM sessions s "
    "JOIN learners l ON l.id = s.learner_id WHERE s.token_hash = ?",
    # ix_learner_state_learner (learner_id, course_id, block_id): an index range, never a scan.
    "state1": "SELECT course_id, scope, learner_id, block_id, field, value FROM learner_state "
    "WHERE learner_id = ? AND course_id = ? AND block_id = ?",
    "state2": "SELECT course_id, scope, learner_id, block_id, field, value FROM learner_state "
    "WHERE learner_id IN (?, ?) AND course_id = ? AND block_id = ?",
    "state_get": "SELECT value FROM learner_state "
    "WHERE course_id = ? AND scope = ? AND learner_id = ? AND block_id = ? AND field = ?",
    "state_delete": "DELETE FROM learner_state "
    "WHERE course_id = ? AND scope = ? AND learner_id = ? AND block_id = ? AND field = ?",
    "state_upsert": "INSERT INTO learner_state (course_id, scope, learner_id, block_id, field, value, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (course_id, scope, learner_id, block_id, field) "
    "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    # The best score stays (earned/possible with it); updated_at always moves.
    "grade_upsert": "INSERT INTO grades (course_id, learner_id, block_id, earned, possible, score, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (course_id, learner_id, block_id) DO UPDATE SET "
    "earned = CASE WHEN excluded.score > grades.score THEN excluded.earned ELSE grades.earned END, "
    "possible = CASE WHEN excluded.score > grades.score THEN excluded.possible ELSE grades.possible END, "
    "score = {greatest}(grades.score, excluded.score), updated_at = excluded.updated_at",
    "attempt": "INSERT INTO attempts (course_id, learner_id, block_id, earned, possible, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)",
    "completion_upsert": "INSERT INTO completions (course_id, learner_id, block_id, completion, updated_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (course_id, learner_id, block_id) DO UPDATE SET "
    "completion = excluded.completion, updated_at = excluded.updated_at",
    "lock": "SELECT pg_advisory_xact_lock(?)",
}


# PostgreSQL, a batch of handler calls: one statement for all rows of a kind, rows passed as arrays
# (``unnest``); same tables and upsert rules as _HOT_SQL. Each statement in pipeline mode is a send()
# and a wake-up of the backend: per-row statements were half of the worker's CPU in a batch.
_PG_BATCH_SQL = {
    "sessions": "SELECT s.token_hash, s.learner_id, s.expires_at, l.role, ARRAY(SELECT e.course_id "
    "FROM enrolments e WHERE e.learner_id = s.learner_id AND e.course_id = ANY(%s::text[])) "
    "FROM sessions s JOIN learners l ON l.id = s.learner_id WHERE s.token_hash = ANY(%s::text[])",
    # unnest yields the keys in array order and each row's lock is taken as the row is produced.
    "locks": "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k",
    "state": "SELECT st.course_id, st.scope, st.learner_id, st.block_id, st.field, st.value "
    "FROM unnest(%s::text[], %s::text[], %s::text[]) AS w(learner_id, course_id, block_id) "
    "JOIN learner_state st ON st.learner_id = w.learner_id AND st.course_id = w.course_id "
    "AND st.block_id = w.block_id",
    "state_upsert": "INSERT INTO learner_state (course_id, scope, learner_id, block_id, field, value, "
    "updated_at) SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::timestamptz[]) ON CONFLICT (course_id, scope, learner_id, block_id, field) "
    "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    "state_delete": "DELETE FROM learner_state WHERE (course_id, scope, learner_id, block_id, field) IN "
    "(SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]))",
    "grade_upsert": "INSERT INTO grades (course_id, learner_id, block_id, earned, possible, score, updated_at) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], %s::float8[], "
    "%s::timestamptz[]) ON CONFLICT (course_id, learner_id, block_id) DO UPDATE SET "
    "earned = CASE WHEN excluded.score > grades.score THEN excluded.earned ELSE grades.earned END, "
    "possible = CASE WHEN excluded.score > grades.score THEN excluded.possible ELSE grades.possible END, "
    "score = greatest(grades.score, excluded.score), updated_at = excluded.updated_at",
    "attempt": "INSERT INTO attempts (course_id, learner_id, block_id, earned, possible, created_at) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], "
    "%s::timestamptz[])",
    "completion_upsert": "INSERT INTO completions (course_id, learner_id, block_id, completion, updated_at) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::timestamptz[]) "
    "ON CONFLICT (course_id, learner_id, block_id) DO UPDATE SET "
    "completion = excluded.completion, updated_at = excluded.updated_at",
}


def engine_for(url: str) -> Engine:
    """An engine with the settings this store relies on (SQLite: WAL, busy timeout, foreign keys)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=8, max_overflow=24, pool_timeout=30)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN, so writers can ask for BEGIN IMMEDIATE.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            # WAL + NORMAL is durable against application crashes; an OS crash may lose the last commits.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # A deferred transaction that later writes can fail with SQLITE_BUSY without waiting;
            # IMMEDIATE takes the write lock up front and honours busy_timeout.
            immediate = conn.get_execution_options().get("lm_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=30)

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # pool_pre_ping without its round trip (a quarter of a quiz submission's): a backend that went
        # away (restart, pg_terminate_backend, crash) left its socket readable - its FATAL message or
        # EOF - while an idle healthy connection has nothing to read. The pool then discards the
        # connection and checks out another (SQLAlchemy's documented DisconnectionError protocol).
        if dbapi_conn.closed or select_fds([dbapi_conn.fileno()], [], [], 0)[0]:
            raise sa_exc.DisconnectionError("the database closed this pooled connection")

    return engine


def _lock_key(*parts: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class SqlKeyValueStore(KeyValueStore):
    """XBlock's KeyValueStore over ``learner_state``, bound to one DBAPI connection (one transaction).

    ``preload`` reads all rows of the blocks a request touches in one query; later ``get``s are served
    from that snapshot, which is exact because writes go through this object too. Writes are upserts.
    ``raw`` None makes a read-only snapshot. With ``ops`` (a list) writes are not sent but appended to it
    as (statement name, row), for ``Store.handler_batch`` to send once the call succeeded; ``overlay``
    holds the JSON text (None: deleted) of rows written by earlier calls of the batch, which the database
    does not show yet.
    """

    def __init__(
        self,
        store: Store,
        raw: Any,
        course_id: str,
        ops: list[tuple[str, tuple[Any, ...]]] | None = None,
        overlay: dict[RowKey, str | None] | None = None,
    ) -> None:
        self.store = store
        self.raw = raw
        self.course_id = course_id
        self.ops = ops
        self.overlay = overlay
        self._cache: dict[RowKey, Any] = {}
        self._loaded: set[tuple[str, str]] = set()  # (learner, block) pairs fully loaded

    def _row_key(self, key: KeyValueStore.Key) -> RowKey:
        if key.scope not in USER_SCOPES:
            raise ValueError(f"{key.scope} is not learner state")
        shared = key.scope.block in (BlockScope.TYPE, BlockScope.ALL)
        return (
            "" if shared else self.course_id,
            key.scope.name,
            str(key.user_id) if key.user_id is not None else "",
            str(key.block_scope_id) if key.block_scope_id is not None else "",
            key.field_name,
        )

    def preload(self, learner_ids: Iterable[str], block_ids: Iterable[str]) -> None:
        learners_ = list(dict.fromkeys(learner_ids))
        blocks = [b for b in dict.fromkeys(block_ids) if all((u, b) not in self._loaded for u in learners_)]
        if not learners_ or not blocks:
            return
        if len(blocks) == 1 and len(learners_) <= 2:  # a handler call: a fixed, prepared statement
            sql = self.store.hot["state1" if len(learners_) == 1 else "state2"]
        else:  # a page: one query for all its blocks, still on ix_learner_state_learner
            mark = self.store.hot["state1"][-1]  # the placeholder of this driver
            sql = (
                "SELECT course_id, scope, learner_id, block_id, field, value FROM learner_state WHERE "  # noqa: S608 - only placeholders are interpolated
                f"learner_id IN ({', '.join([mark] * len(learners_))}) AND course_id = {mark} "
                f"AND block_id IN ({', '.join([mark] * len(blocks))})"
            )
        for row in self.raw.execute(sql, (*learners_, self.course_id, *blocks)).fetchall():
            self._cache[(row[0], row[1], row[2], row[3], row[4])] = json.loads(row[5])
        self._loaded.update((u, b) for u in learners_ for b in blocks)

    def _known(self, rk: RowKey) -> bool:
        return rk[0] == self.course_id and (rk[2], rk[3]) in self._loaded

    def get(self, key: KeyValueStore.Key) -> Any:
        return self.get_row(self._row_key(key))

    def get_row(self, rk: RowKey) -> Any:
        """``get`` by row key (``LearnerFieldData`` builds it without XBlock's Key)."""
        if rk in self._cache:
            return self._cache[rk]
        key = rk
        if self._known(rk) or self.raw is None:
            raise KeyError(key)
        if self.overlay is not None and rk in self.overlay:
            text = self.overlay[rk]
            if text is None:
                raise KeyError(key)
            self._cache[rk] = json.loads(text)
            return self._cache[rk]
        row = self.raw.execute(self.store.hot["state_get"], rk).fetchone()
        if row is None:
            raise KeyError(key)
        self._cache[rk] = json.loads(row[0])
        return self._cache[rk]

    def has(self, key: KeyValueStore.Key) -> bool:
        try:
            self.get(key)
        except KeyError:
            return False
        return True

    def set(self, key: KeyValueStore.Key, value: Any) -> None:
        self.set_many({key: value})

    def set_many(self, update_dict: dict[KeyValueStore.Key, Any]) -> None:
        self.set_rows({self._row_key(key): value for key, value in update_dict.items()})

    def set_rows(self, update: dict[RowKey, Any]) -> None:
        """``set_many`` by row keys."""
        if not update:
            return
        if self.raw is None:
            raise RuntimeError("a read-only snapshot of learner state cannot be written")
        at = self.store.db_time(now())
        rows = []
        for rk, value in update.items():
            rows.append((*rk, json.dumps(value, ensure_ascii=False, separators=(",", ":")), at))
            self._cache[rk] = value
        if self.ops is not None:
            self.ops.extend(("state_upsert", row) for row in rows)
        else:
            self.store.executemany(self.raw, "state_upsert", rows)

    def delete(self, key: KeyValueStore.Key) -> None:
        rk = self._row_key(key)
        if self.raw is None:
            raise RuntimeError("a read-only snapshot of learner state cannot be written")
        self._cache.pop(rk, None)
        if self.ops is not None:
            self.ops.append(("state_delete", rk))
        else:
            self.raw.execute(self.store.hot["state_delete"], rk)


class Store:
    """All SQL of the runtime. Thread-safe (one connection per call from the pool)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)
        self.dialect = self.engine.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        self._queue_fd: int | None = None
        self._checkpointer: tuple[threading.Event, threading.Thread] | None = None
        from .faults import DB_UNAVAILABLE

        self._unavailable = DB_UNAVAILABLE
        self.pool_size: int = self.engine.pool.size()  # type: ignore[attr-defined]  # a QueuePool
        ins = sqlite.insert if self.is_sqlite else postgresql.insert
        greatest = func.max if self.is_sqlite else func.greatest  # SQLite's 2-arg max() is scalar
        self.hot = {
            name: sql.format(greatest="max" if self.is_sqlite else "greatest").replace(
                "?", "?" if self.is_sqlite else "%s"
            )
            for name, sql in _HOT_SQL.items()
        }
        # Driver SQL bypasses SQLAlchemy's types: store datetimes exactly as Core does (SQLite: its
        # text format; PostgreSQL: timestamptz) and read them back through the same processors.
        dt = learner_state.c.updated_at.type.dialect_impl(self.engine.dialect)
        self.db_time: Callable[[datetime], Any] = dt.bind_processor(self.engine.dialect) or (lambda v: v)
        self._read_time: Callable[[Any], Any] = dt.result_processor(self.engine.dialect, None) or (
            lambda v: v
        )

        s = ins(learner_state)
        self.state_upsert = s.on_conflict_do_update(
            index_elements=[c.name for c in learner_state.primary_key],
            set_={"value": s.excluded.value, "updated_at": s.excluded.updated_at},
        )
        g = ins(grades)
        better = g.excluded.score > grades.c.score
        self.grade_upsert = g.on_conflict_do_update(
            index_elements=["course_id", "learner_id", "block_id"],
            set_={
                "earned": case((better, g.excluded.earned), else_=grades.c.earned),
                "possible": case((better, g.excluded.possible), else_=grades.c.possible),
                "score": greatest(grades.c.score, g.excluded.score),
                "updated_at": g.excluded.updated_at,
            },
        )
        c = ins(completions)
        self.completion_upsert = c.on_conflict_do_update(
            index_elements=["course_id", "learner_id", "block_id"],
            set_={"completion": c.excluded.completion, "updated_at": c.excluded.updated_at},
        )
        self.enrol_insert = ins(enrolments).on_conflict_do_nothing(index_elements=["learner_id", "course_id"])
        cs = ins(course_settings)
        self.course_settings_upsert = cs.on_conflict_do_update(
            index_elements=["course_id"],
            set_={"published": cs.excluded.published, "updated_at": cs.excluded.updated_at},
        )

    # ---- schema
    def upgrade(self) -> str:
        """Bring the schema to the newest migration; returns the revision."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision() or ""

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE)."""
        with self.engine.connect().execution_options(lm_write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def raw_write(self) -> Iterator[Any]:
        """``write`` on the pooled DBAPI connection itself, for the hot path: SQLAlchemy's Connection,
        begin/commit events and transaction objects cost ~60 us per request around ~10 statements."""
        fairy = self.engine.raw_connection()
        raw = fairy.driver_connection
        queue = self._writer_queue()
        # PostgreSQL: psycopg's pipeline mode sends statements without waiting for each answer until a
        # result is needed; BEGIN travels with the first query and the four writes with COMMIT, so a
        # submission costs 4 round trips instead of 9.
        pipeline = nullcontext() if self.is_sqlite else raw.pipeline()
        try:
            if queue is not None:
                fcntl.flock(queue, fcntl.LOCK_EX)
            try:
                with pipeline:
                    if self.is_sqlite:
                        raw.execute("BEGIN IMMEDIATE")  # the write lock up front, honouring busy_timeout
                    yield raw
                    raw.commit()
            except BaseException:
                # Outside the pipeline: inside, after a failed statement, ROLLBACK itself can fail with
                # "pipeline aborted" and hide the error that matters.
                with suppress(Exception):  # a dead connection: the pool's checkout check discards it
                    raw.rollback()
                raise
        finally:
            if queue is not None:
                fcntl.flock(queue, fcntl.LOCK_UN)
            fairy.close()  # back to the pool

    def _writer_queue(self) -> int | None:
        """SQLite file databases: a lock file that writers of all worker processes queue on.

        A writer that finds SQLite's write lock taken sleeps in its busy handler for 1, 2, 5, 10 ... ms
        and retries, while a handler transaction holds the lock for ~0.2 ms: with two workers most of the
        time went to sleeping (1,400/s and p99 175 ms against 2,400/s with one). flock() blocks in the
        kernel and wakes the next writer as soon as the lock is released. SQLite's own lock still decides
        correctness; this only orders the waiting.
        """
        if self._queue_fd is None and self.is_sqlite:
            db = make_url(self.url).database
            if not db or db == ":memory:":
                self._queue_fd = -1
            else:
                self._queue_fd = os.open(f"{db}-writers", os.O_RDWR | os.O_CREAT, 0o600)
        return self._queue_fd if self._queue_fd is not None and self._queue_fd >= 0 else None

    def start_checkpointer(self, every: float = 0.5) -> None:
        """SQLite file databases, in a serving worker: move WAL checkpoints off the request path.

        By default the commit that pushes the WAL past 1,000 pages copies them into the database file and
        fsyncs it, inside a learner's request; with a large learner_state those pages are spread out and
        that request stalls the worker's event loop. Here the request connections never checkpoint and a
        thread runs a PASSIVE checkpoint (never waits for readers or writers) twice a second.
        """
        db = make_url(self.url).database
        if not self.is_sqlite or not db or db == ":memory:" or self._checkpointer is not None:
            return

        @event.listens_for(self.engine, "connect")
        def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

        self.engine.dispose()  # pooled connections opened before this get the pragma on reconnect
        stop = threading.Event()

        def run() -> None:
            conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
            try:
                while not stop.wait(every):
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.OperationalError:  # busy: the next round catches up
                        continue
            finally:
                conn.close()

        thread = threading.Thread(target=run, name="lm-wal-checkpoint", daemon=True)
        thread.start()
        self._checkpointer = (stop, thread)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            stop, thread = self._checkpointer
            stop.set()
            thread.join(timeout=5)
            self._checkpointer = None
        self.engine.dispose()
        if self._queue_fd is not None and self._queue_fd >= 0:
            os.close(self._queue_fd)
        self._queue_fd = None

    # ---- learners and identity
    def create_learner(self, identity: dict[str, Any], role: str = "learner") -> str:
        """Insert a learner and their identity in one transaction; DuplicateError on a taken username/id."""
        learner_id = new_id()
        at = now()
        with self.write() as conn:
            i = identities.c
            taken = conn.execute(
                select(i.username, i.national_id_hmac).where(
                    (i.username == identity["username"])
                    | (
                        (i.national_id_hmac == identity["national_id_hmac"])
                        if identity.get("national_id_hmac")
                        else False
                    )
                )
            ).first()
            if taken is not None:
                raise DuplicateError("username" if taken[0] == identity["username"] else "national_id")
            conn.execute(learners.insert().values(id=learner_id, role=role, created_at=at))
            conn.execute(identities.insert().values(learner_id=learner_id, failed_logins=0, **identity))
            self.audit(conn, learner_id, "register", learner_id, {"lawful_basis": identity["lawful_basis"]})
        return learner_id

    def identity_for_login(self, username: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(
                select(
                    identities.c.learner_id,
                    identities.c.password_hash,
                    identities.c.failed_logins,
                    identities.c.locked_until,
                    learners.c.role,
                )
                .join(learners, learners.c.id == identities.c.learner_id)
                .where(identities.c.username == username)
            ).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["locked_until"] = aware(out["locked_until"])
        return out

    def login_failed(self, learner_id: str, max_failures: int, lock_for: timedelta) -> datetime | None:
        """Count a failed login atomically; at ``max_failures`` lock the account. Returns the lock end."""
        with self.write() as conn:
            i = identities.c
            count = conn.execute(
                update(identities)
                .where(i.learner_id == learner_id)
                .values(failed_logins=i.failed_logins + 1)
                .returning(i.failed_logins)
            ).scalar_one()
            until = None
            if count >= max_failures:
                until = now() + lock_for
                conn.execute(
                    update(identities)
                    .where(i.learner_id == learner_id)
                    .values(failed_logins=0, locked_until=until)
                )
                self.audit(conn, learner_id, "account-locked", learner_id, {"until": until.isoformat()})
            else:
                self.audit(conn, learner_id, "login-failed", learner_id, {"count": count})
        return until

    def login_succeeded(self, learner_id: str, ttl: timedelta) -> str:
        """Reset the failure count and open a session; returns the session token (cookie value)."""
        token = secrets.token_urlsafe(32)
        at = now()
        with self.write() as conn:
            conn.execute(
                update(identities)
                .where(identities.c.learner_id == learner_id)
                .values(failed_logins=0, locked_until=None)
            )
            conn.execute(
                sessions.insert().values(
                    token_hash=token_hash(token), learner_id=learner_id, created_at=at, expires_at=at + ttl
                )
            )
            self.audit(conn, learner_id, "login", learner_id, {})
        return token

    def session(self, token: str) -> SessionInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(sessions.c.learner_id, learners.c.role, sessions.c.expires_at)
                .join(learners, learners.c.id == sessions.c.learner_id)
                .where(sessions.c.token_hash == token_hash(token))
            ).first()
            conn.rollback()
        if row is None:
            return None
        expires = aware(row[2])
        assert expires is not None
        return SessionInfo(row[0], row[1], expires) if expires > now() else None

    def logout(self, token: str) -> None:
        with self.write() as conn:
            learner_id = conn.execute(
                delete(sessions)
                .where(sessions.c.token_hash == token_hash(token))
                .returning(sessions.c.learner_id)
            ).scalar()
            if learner_id:
                self.audit(conn, learner_id, "logout", learner_id, {})

    def set_role(self, username: str, role: str) -> str | None:
        with self.write() as conn:
            learner_id = conn.execute(
                select(identities.c.learner_id).where(identities.c.username == username)
            ).scalar()
            if learner_id:
                conn.execute(update(learners).where(learners.c.id == learner_id).values(role=role))
                self.audit(conn, "", "set-role", learner_id, {"role": role})
        return learner_id

    def profile(self, learner_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(
                select(
                    learners.c.id,
                    learners.c.role,
                    learners.c.created_at,
                    identities.c.username,
                    identities.c.name,
                    identities.c.org_type,
                    identities.c.organisation,
                    identities.c.province,
                    identities.c.lawful_basis,
                    identities.c.consent_version,
                    identities.c.consent_at,
                    (identities.c.national_id_hmac.is_not(None)).label("has_national_id"),
                )
                .join(identities, identities.c.learner_id == learners.c.id)
                .where(learners.c.id == learner_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    def export(self, learner_id: str) -> dict[str, Any]:
        """Everything held about one learner (PDPA right of access)."""
        out: dict[str, Any] = {"profile": self.profile(learner_id)}
        with self.read() as conn:
            for name, table in (
                ("enrolments", enrolments),
                ("state", learner_state),
                ("grades", grades),
                ("completions", completions),
                ("attempts", attempts),
            ):
                rows = conn.execute(select(table).where(table.c.learner_id == learner_id)).mappings()
                out[name] = [dict(r) for r in rows]
            out["audit"] = [
                dict(r)
                for r in conn.execute(
                    select(audit_log).where(audit_log.c.actor == learner_id).order_by(audit_log.c.at)
                ).mappings()
            ]
        for rows in out.values():
            for r in rows if isinstance(rows, list) else [rows] if rows else []:
                for k, v in r.items():
                    if isinstance(v, datetime):
                        r[k] = aware(v).isoformat()  # type: ignore[union-attr]
                if "value" in r and isinstance(r["value"], str):
                    r["value"] = json.loads(r["value"])
        return out

    def erase(self, learner_id: str) -> None:
        """PDPA erasure: identity and sessions go; the random id's learning records stay, anonymous."""
        with self.write() as conn:
            conn.execute(delete(identities).where(identities.c.learner_id == learner_id))
            conn.execute(delete(sessions).where(sessions.c.learner_id == learner_id))
            conn.execute(
                update(learners).where(learners.c.id == learner_id).values(erased_at=now(), role="erased")
            )
            self.audit(conn, learner_id, "erase", learner_id, {})

    # ---- enrolment, navigation, progress
    def enrol(self, learner_id: str, course_id: str) -> bool:
        with self.write() as conn:
            created = conn.execute(
                self.enrol_insert,
                {"learner_id": learner_id, "course_id": course_id, "created_at": now(), "study_seconds": 0},
            ).rowcount
            if created:
                self.audit(conn, learner_id, "enrol", course_id, {})
        return bool(created)

    def enrolment(self, learner_id: str, course_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(enrolments).where(
                    enrolments.c.learner_id == learner_id, enrolments.c.course_id == course_id
                )
            ).first()
            conn.rollback()
        return dict(row._mapping) if row is not None else None

    def enrolled_courses(self, learner_id: str) -> list[str]:
        with self.read() as conn:
            return list(
                conn.execute(
                    select(enrolments.c.course_id).where(enrolments.c.learner_id == learner_id)
                ).scalars()
            )

    def record_view(
        self,
        learner_id: str,
        course_id: str,
        unit_id: str,
        viewed_blocks: list[str],
        max_gap: timedelta = timedelta(minutes=5),
    ) -> None:
        """A unit was shown: remember it for resume, add study time, complete its html blocks."""
        at = now()
        with self.write() as conn:
            e = enrolments.c
            last = conn.execute(
                select(e.last_seen).where(e.learner_id == learner_id, e.course_id == course_id)
            ).scalar()
            # Time between two page views counts as study time, capped so an idle tab adds little.
            gap = int(min((at - aware(last)).total_seconds(), max_gap.total_seconds())) if last else 0
            conn.execute(
                update(enrolments)
                .where(e.learner_id == learner_id, e.course_id == course_id)
                .values(last_unit=unit_id, last_seen=at, study_seconds=e.study_seconds + max(gap, 0))
            )
            if viewed_blocks:
                conn.execute(
                    self.completion_upsert,
                    [
                        {
                            "course_id": course_id,
                            "learner_id": learner_id,
                            "block_id": b,
                            "completion": 1.0,
                            "updated_at": at,
                        }
                        for b in viewed_blocks
                    ],
                )

    def load_state(self, course_id: str, learner_id: str, block_ids: list[str]) -> SqlKeyValueStore:
        """A read-only snapshot of one learner's state for the blocks of a page (one query)."""
        fairy = self.engine.raw_connection()
        try:
            kvs = SqlKeyValueStore(self, fairy.driver_connection, course_id)
            kvs.preload([learner_id, ""], block_ids)
            fairy.driver_connection.rollback()
        finally:
            fairy.close()
        kvs.raw = None  # a snapshot: writing through it is a bug
        return kvs

    @contextmanager
    def handler_transaction(
        self, course_id: str, learner_id: str, block_id: str, lock_summary: bool = False
    ) -> Iterator[tuple[SqlKeyValueStore, Published]]:
        """The one transaction of a handler call: lock, state, then grade/completion events, commit."""
        with self.raw_write() as raw:
            kvs, published = self._handler_state(raw, course_id, learner_id, block_id, lock_summary)
            yield kvs, published
            self.write_events(raw, course_id, learner_id, published)

    @contextmanager
    def session_handler_transaction(
        self, token: str, course_id: str, block_id: str, lock_summary: bool = False
    ) -> Iterator[tuple[SessionInfo, SqlKeyValueStore, Published]]:
        """``handler_transaction`` for the session cookie ``token``, checked in the same transaction.

        SessionRefused when the session is unknown, expired or revoked, or the learner is not enrolled in
        the course: nothing is written then. Checking inside the transaction (rather than caching sessions
        per worker) means a logout or erasure in any worker takes effect at once, for one indexed lookup.
        """
        with self.raw_write() as raw:
            row = raw.execute(self.hot["session"], (course_id, token_hash(token))).fetchone()
            if row is None or not row[3]:
                raise SessionRefused("no session" if row is None else "not enrolled")
            expires = aware(self._read_time(row[1]))
            assert expires is not None
            if expires <= now():
                raise SessionRefused("session expired")
            session = SessionInfo(row[0], row[2], expires)
            kvs, published = self._handler_state(raw, course_id, row[0], block_id, lock_summary)
            yield session, kvs, published
            self.write_events(raw, course_id, row[0], published)

    def handler_batch(
        self,
        calls: Sequence[HandlerCall],
        run: Callable[[int, SessionInfo, SqlKeyValueStore, Published], T],
    ) -> list[T | Exception]:
        """Group commit: the handler calls of several requests in one transaction; a result or an
        exception for each call, in order. Return only after the commit: then every result is durable.

        Each call gets what ``session_handler_transaction`` gives one (session checked in the
        transaction, its block's state under the lock, a ``Published``), and ``run(i, ...)`` runs its
        handler. A call's writes are held back until its ``run`` returns: one that raises (a 4xx
        ``HandlerRefused``, ``SessionRefused``, a bug) leaves nothing behind, and the calls after it see
        the state as if it had never run. Then all writes go out and one COMMIT makes them durable.

        Why: per call, BEGIN and COMMIT were a third of a quiz submission on SQLite; on PostgreSQL the
        statements of all calls travel together (pipeline mode): session checks in one round trip, locks
        and state reads in a second, writes and COMMIT in a third, whatever the number of calls. Locks
        are taken in key order, so concurrent batches cannot deadlock. If the transaction fails as a
        whole, the database's exception is raised (nothing was committed); if a write is refused (a
        constraint, say), every call is retried in a transaction of its own, so only the bad one fails.
        """
        try:
            with self.raw_write() as raw:
                results, ops, events = self._run_batch(raw, calls, run)
                self._write_batch(raw, ops, events)
            return results
        except Exception as exc:
            if len(calls) == 1 or isinstance(exc, self._unavailable):
                raise
        out: list[T | Exception] = []
        for i, call in enumerate(calls):
            try:
                out += self.handler_batch([call], lambda _i, *a, i=i: run(i, *a))  # type: ignore[misc]
            except Exception as exc:  # this call's outcome
                out.append(exc)
        return out

    def _run_batch(
        self,
        raw: Any,
        calls: Sequence[HandlerCall],
        run: Callable[[int, SessionInfo, SqlKeyValueStore, Published], T],
    ) -> tuple[list[T | Exception], list[tuple[str, tuple[Any, ...]]], list[tuple[str, tuple[Any, ...]]]]:
        at = now()
        # 1. Sessions and enrolments (exact expiry and revocation: read in this transaction).
        found = self._sessions(raw, calls)
        sessions_: list[SessionInfo | SessionRefused] = []
        for row in found:
            if row is None or not row[3]:
                sessions_.append(SessionRefused("no session" if row is None else "not enrolled"))
                continue
            expires = aware(self._read_time(row[1]))
            assert expires is not None
            sessions_.append(
                SessionInfo(row[0], row[2], expires) if expires > at else SessionRefused("session expired")
            )
        # 2. Locks in key order, then the state of every (learner, course, block), read after them.
        keys: set[int] = set()
        wanted: dict[tuple[str, str, str], None] = {}  # (learner, course, block), in order
        for c, s in zip(calls, sessions_, strict=True):
            if isinstance(s, SessionInfo):
                keys.add(_lock_key(c.course_id, s.learner_id, c.block_id))
                wanted[(s.learner_id, c.course_id, c.block_id)] = None
                if c.lock_summary:
                    keys.add(_lock_key(c.course_id, "", c.block_id))
                    wanted[("", c.course_id, c.block_id)] = None
        # The batch's view of learner_state as JSON text, by (course, learner, block).
        texts: dict[tuple[str, str, str], dict[RowKey, str | None]] = {}
        for r in self._lock_and_read(raw, sorted(keys), list(wanted)):
            texts.setdefault((r[0], r[2], r[3]), {})[(r[0], r[1], r[2], r[3], r[4])] = r[5]
        # 3. The handlers, in arrival order; a call's writes join the batch only when it succeeded.
        results: list[T | Exception] = []
        ops: list[tuple[str, tuple[Any, ...]]] = []
        events: list[tuple[str, tuple[Any, ...]]] = []
        written: dict[RowKey, str | None] = {}
        db_at = self.db_time(at)
        for i, (c, s) in enumerate(zip(calls, sessions_, strict=True)):
            if isinstance(s, SessionRefused):
                results.append(s)
                continue
            own: list[tuple[str, tuple[Any, ...]]] = []
            kvs = SqlKeyValueStore(self, raw, c.course_id, ops=own, overlay=written)
            readers = [s.learner_id, ""] if c.lock_summary else [s.learner_id]
            for u in readers:
                for rk, text in texts.get((c.course_id, u, c.block_id), {}).items():
                    if text is not None:  # decoded per call: a failed call's in-place edits stay its own
                        kvs._cache[rk] = json.loads(text)
            kvs._loaded.update((u, c.block_id) for u in readers)
            published = Published()
            try:
                results.append(run(i, s, kvs, published))
            except Exception as exc:  # handed back as this call's outcome
                results.append(exc)
                continue
            for name, row in own:
                ops.append((name, row))
                rk: RowKey = row[:5]  # type: ignore[assignment]
                text = row[5] if name == "state_upsert" else None
                texts.setdefault((rk[0], rk[2], rk[3]), {})[rk] = written[rk] = text
            events += self._event_rows(c.course_id, s.learner_id, published, db_at)
        return results, ops, events

    def _sessions(self, raw: Any, calls: Sequence[HandlerCall]) -> list[tuple[Any, ...] | None]:
        """Per call: (learner id, expires_at, role, enrolled) of its session, or None."""
        if self.is_sqlite or len(calls) == 1:  # one call: the row statement (arrays cost more to bind)
            return [
                raw.execute(self.hot["session"], (c.course_id, token_hash(c.token))).fetchone() for c in calls
            ]
        # PostgreSQL: one statement for the batch (a statement is a send() and a backend wake-up).
        hashes = [token_hash(c.token) for c in calls]
        courses = sorted({c.course_id for c in calls})
        rows = {r[0]: r[1:] for r in raw.execute(_PG_BATCH_SQL["sessions"], (courses, hashes)).fetchall()}
        out: list[tuple[Any, ...] | None] = []
        for c, h in zip(calls, hashes, strict=True):
            r = rows.get(h)
            out.append(None if r is None else (r[0], r[1], r[2], c.course_id in r[3]))
        return out

    def _lock_and_read(
        self, raw: Any, keys: list[int], wanted: list[tuple[str, str, str]]
    ) -> list[tuple[Any, ...]]:
        """Take the advisory locks ``keys`` (PostgreSQL; in this order), then read learner_state rows of
        every (learner, course, block) of ``wanted``. On PostgreSQL both statements travel together
        (pipeline mode: one round trip); the read still starts after the locks are granted, so it sees
        every transaction committed before them."""
        if self.is_sqlite:
            return [r for w in wanted for r in raw.execute(self.hot["state1"], w).fetchall()]
        if not wanted:
            return []
        if len(wanted) <= 2:  # one call (maybe with its summary rows): row statements, one round trip
            sent = [raw.execute(self.hot["lock"], (k,)) for k in keys]
            reads = [raw.execute(self.hot["state1"], w) for w in wanted]
            for cur in sent:
                cur.fetchall()
            return [r for cur in reads for r in cur.fetchall()]
        lock = raw.execute(_PG_BATCH_SQL["locks"], (keys,))
        read = raw.execute(_PG_BATCH_SQL["state"], tuple(list(col) for col in zip(*wanted, strict=True)))
        lock.fetchall()
        return read.fetchall()  # type: ignore[no-any-return]

    def _event_rows(
        self, course_id: str, learner_id: str, published: Published, at: Any
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """``write_events``' rows, as (statement name, row)."""
        rows: list[tuple[str, tuple[Any, ...]]] = []
        for b, earned, possible in published.grades:
            score = (earned / possible) if possible else 0.0
            rows.append(("grade_upsert", (course_id, learner_id, b, earned, possible, score, at)))
            rows.append(("attempt", (course_id, learner_id, b, earned, possible, at)))
        rows += [("completion_upsert", (course_id, learner_id, b, c, at)) for b, c in published.completions]
        return rows

    def _write_batch(
        self, raw: Any, ops: list[tuple[str, tuple[Any, ...]]], events: list[tuple[str, tuple[Any, ...]]]
    ) -> None:
        """Send the batch's writes: on PostgreSQL all of them as one statement (rows as arrays), on
        SQLite one executemany per kind. Rows of one key are folded first, with the rules the statements
        apply one after another: the last state write of a field wins (upsert or delete), the best
        grade stays (the first of equal scores, as ``score >`` decides), the latest completion wins."""
        state: dict[RowKey, tuple[Any, ...] | None] = {}
        for name, row in ops:
            state[row[:5]] = row if name == "state_upsert" else None  # type: ignore[index]
        upserts = [row for row in state.values() if row is not None]
        deletes = [rk for rk, row in state.items() if row is None]
        grade: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        completion: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        attempt_rows: list[tuple[Any, ...]] = []
        parts: list[str] = []
        params: list[list[Any]] = []
        for name, row in events:
            if name == "grade_upsert":
                best = grade.get(row[:3])
                if best is None or row[5] > best[5]:
                    grade[row[:3]] = row
            elif name == "attempt":
                attempt_rows.append(row)
            else:
                completion[row[:3]] = row
        for name, rows in (
            ("state_upsert", upserts),
            ("state_delete", deletes),
            ("grade_upsert", list(grade.values())),
            ("attempt", attempt_rows),
            ("completion_upsert", list(completion.values())),
        ):
            if not rows:
                continue
            if self.is_sqlite:
                self.executemany(raw, name, rows)
            else:
                parts.append(f"w{len(parts)} AS ({_PG_BATCH_SQL[name]})")
                params += [list(col) for col in zip(*rows, strict=True)]
        if parts:
            # PostgreSQL: every write of the batch in one statement (data-modifying WITH clauses, on
            # different tables, each run once): one send() and one backend wake-up before COMMIT.
            raw.execute(f"WITH {', '.join(parts)} SELECT 1", tuple(params))

    def _handler_state(
        self, raw: Any, course_id: str, learner_id: str, block_id: str, lock_summary: bool
    ) -> tuple[SqlKeyValueStore, Published]:
        """Lock (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), then read the state."""
        if not self.is_sqlite:
            keys = [_lock_key(course_id, learner_id, block_id)]
            if lock_summary:
                keys.append(_lock_key(course_id, "", block_id))
            for key in sorted(keys):  # every locker takes keys in one order: no deadlock among them
                raw.execute(self.hot["lock"], (key,))
        kvs = SqlKeyValueStore(self, raw, course_id)
        kvs.preload([learner_id, ""] if lock_summary else [learner_id], [block_id])
        return kvs, Published()

    def executemany(self, raw: Any, name: str, rows: list[tuple[Any, ...]]) -> None:
        """One hot statement for each row, on a DBAPI connection (sqlite3's has executemany, psycopg's not)."""
        sql = self.hot[name]
        if len(rows) == 1:
            raw.execute(sql, rows[0])
        elif self.is_sqlite:
            raw.executemany(sql, rows)
        else:
            with raw.cursor() as cur:
                cur.executemany(sql, rows)

    def write_events(self, conn: Any, course_id: str, learner_id: str, published: Published) -> None:
        """Grades (best kept), one attempts row per grade event, completions (latest kept).

        ``conn``: a SQLAlchemy Connection or a DBAPI connection, inside the caller's transaction."""
        raw = conn.connection.driver_connection if isinstance(conn, Connection) else conn
        at = self.db_time(now())
        if published.grades:
            self.executemany(
                raw,
                "grade_upsert",
                [
                    (course_id, learner_id, b, earned, possible, (earned / possible) if possible else 0.0, at)
                    for b, earned, possible in published.grades
                ],
            )
            self.executemany(
                raw,
                "attempt",
                [
                    (course_id, learner_id, b, earned, possible, at)
                    for b, earned, possible in published.grades
                ],
            )
        if published.completions:
            self.executemany(
                raw,
                "completion_upsert",
                [(course_id, learner_id, b, c, at) for b, c in published.completions],
            )

    def progress(
        self, learner_id: str, course_id: str
    ) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
        """(best (earned, possible) per graded block, completion per block) of one learner in one course."""
        with self.read() as conn:
            g = conn.execute(
                select(grades.c.block_id, grades.c.earned, grades.c.possible).where(
                    grades.c.learner_id == learner_id, grades.c.course_id == course_id
                )
            )
            best = {r[0]: (r[1], r[2]) for r in g}
            c = conn.execute(
                select(completions.c.block_id, completions.c.completion).where(
                    completions.c.learner_id == learner_id, completions.c.course_id == course_id
                )
            )
            done = {r[0]: r[1] for r in c}
        return best, done

    def attempt_count(self, learner_id: str, course_id: str, block_id: str) -> int:
        with self.read() as conn:
            return conn.execute(
                select(func.count())
                .select_from(attempts)
                .where(
                    and_(
                        attempts.c.learner_id == learner_id,
                        attempts.c.course_id == course_id,
                        attempts.c.block_id == block_id,
                    )
                )
            ).scalar_one()

    # ---- admin
    def published_map(self) -> dict[str, bool]:
        with self.read() as conn:
            return {r[0]: bool(r[1]) for r in conn.execute(select(course_settings))}

    def set_published(self, actor: str, course_id: str, published: bool) -> None:
        with self.write() as conn:
            conn.execute(
                self.course_settings_upsert,
                {"course_id": course_id, "published": published, "updated_at": now()},
            )
            self.audit(conn, actor, "course-published" if published else "course-hidden", course_id, {})

    def list_learners(self, offset: int, limit: int) -> tuple[bool, list[dict[str, Any]]]:
        """A page of learners (and whether more follow), with identity and enrolment count."""
        with self.read() as conn:
            n_enrol = (
                select(func.count())
                .select_from(enrolments)
                .where(enrolments.c.learner_id == learners.c.id)
                .scalar_subquery()
            )
            rows = conn.execute(
                select(
                    learners.c.id,
                    learners.c.role,
                    learners.c.created_at,
                    identities.c.username,
                    identities.c.name,
                    identities.c.org_type,
                    identities.c.organisation,
                    identities.c.province,
                    n_enrol.label("enrolments"),
                )
                .outerjoin(identities, identities.c.learner_id == learners.c.id)
                .order_by(learners.c.created_at, learners.c.id)
                .offset(offset)
                .limit(limit + 1)
            ).mappings()
            page = [dict(r) for r in rows]
            return len(page) > limit, page[:limit]

    # ---- audit
    def audit(self, conn: Connection, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        conn.execute(
            audit_log.insert().values(
                at=now(),
                actor=actor,
                action=action,
                target=target,
                detail=json.dumps(detail, ensure_ascii=False),
            )
        )
