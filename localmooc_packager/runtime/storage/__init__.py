"""Storage: every table and SQL statement of the runtime, on SQLite or PostgreSQL.

``Store`` is one object per worker process over a SQLAlchemy engine, assembled from three parts:
``accounts`` (identity, throttle, sessions, PDPA export/erasure, audit), ``learning`` (enrolment,
navigation, progress, course settings) and ``state`` (XBlock learner state and the group commit of
handler calls). ``schema`` holds the tables, ``sql`` the driver statements, ``engines`` what differs
between the two databases. Services call it; it knows nothing of HTTP or XBlock handlers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import Clock, system_clock
from ..faults import DB_UNAVAILABLE
from .accounts import AccountStorage
from .engines import Checkpointer, engine_for, start_checkpointer, writer_queue
from .learning import LearningStorage
from .results import ResultStorage
from .schema import (
    MIGRATIONS,
    DuplicateError,
    course_settings,
    enrolments,
    learner_state,
    login_throttle,
)
from .sql import for_dialect
from .state import HandlerCall, Published, SessionInfo, SqlKeyValueStore, StateStorage

__all__ = ["DuplicateError", "HandlerCall", "Published", "SessionInfo", "SqlKeyValueStore", "Store"]


class Store(AccountStorage, LearningStorage, StateStorage, ResultStorage):
    """All SQL of the runtime. Thread-safe (one connection per call from the pool).

    ``clock``: the time of learning events (runtime/clock.py). ``feed``: xAPI statements written with the
    events (None: none are written)."""

    def __init__(
        self, url: str, idle_ttl: timedelta = timedelta(hours=2), clock: Clock = system_clock
    ) -> None:
        self.url = url
        self.idle_ttl = idle_ttl
        self.clock = clock
        self.feed = None
        self.engine = engine_for(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._queue_fd = writer_queue(url)
        self._checkpointer: Checkpointer | None = None
        self._unavailable = DB_UNAVAILABLE
        self.pool_size: int = self.engine.pool.size()  # type: ignore[attr-defined]  # a QueuePool
        self.hot = for_dialect(self.is_sqlite)
        # Driver SQL bypasses SQLAlchemy's types: store datetimes exactly as Core does (SQLite: its
        # text format; PostgreSQL: timestamptz) and read them back through the same processors.
        dt = learner_state.c.updated_at.type.dialect_impl(self.engine.dialect)
        self.db_time = dt.bind_processor(self.engine.dialect) or (lambda v: v)
        self._read_time = dt.result_processor(self.engine.dialect, None) or (lambda v: v)
        ins: Any = sqlite.insert if self.is_sqlite else postgresql.insert
        self.enrol_insert = ins(enrolments).on_conflict_do_nothing(index_elements=["learner_id", "course_id"])
        self.throttle_insert = ins(login_throttle).on_conflict_do_nothing(index_elements=["key"])
        cs = ins(course_settings)
        self.course_settings_upsert = cs.on_conflict_do_update(
            index_elements=["course_id"],
            set_={"published": cs.excluded.published, "updated_at": cs.excluded.updated_at},
        )

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

    def start_checkpointer(self, every: float = 0.5) -> None:
        """SQLite file databases, in a serving worker: WAL checkpoints off the request path."""
        if self._checkpointer is None:
            self._checkpointer = start_checkpointer(self.engine, self.url, every)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            stop, thread = self._checkpointer
            stop.set()
            thread.join(timeout=5)
            self._checkpointer = None
        self.engine.dispose()
        if self._queue_fd is not None:
            os.close(self._queue_fd)
        self._queue_fd = None
