"""What differs between SQLite and PostgreSQL: engines and their connection settings, SQLite's file
permissions, writer queue and WAL checkpointer, PostgreSQL's advisory lock keys, and what changes behind a
pooler in transaction mode (PgBouncer): no server-side prepared statements."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from select import select as select_fds
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url


def private_file(path: Path) -> None:
    """Create ``path`` (and SQLite's -wal/-shm, -writers beside it) readable by the owner only (0600).

    SQLite creates its WAL and shared-memory files with the database file's permissions, so the
    database file is made private before SQLite first opens it; existing files are tightened too."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-writers", "-journal"))):
        if p.exists():
            os.chmod(p, 0o600)


PREPARE_MODES = ("auto", "on", "off")
DEFAULT_POOL_SIZE = 10  # PostgreSQL connections kept open per worker process (LOCALMOOC_DB_POOL_SIZE)


def behind_pooler(dbapi_conn: Any, url: str) -> bool:
    """Whether a PostgreSQL connection reaches the server through something in between (PgBouncer,
    pgpool, a port forward), judged on one fresh connection: the server's own port
    (``inet_server_port()``) is not the port that was dialled, or the server was reached over its Unix
    socket while the client dialled TCP. A false positive only turns prepared statements off (always
    safe); a pooler on the same port number on another host is not seen: set prepare "off" there."""
    u = make_url(url)
    host = str(u.query.get("host") or u.host or "")
    if not host or host.startswith("/"):  # a Unix socket: nothing can sit between (bar a socket proxy)
        return False
    with dbapi_conn.cursor() as cur:
        cur.execute("SELECT inet_server_port()")
        row = cur.fetchone()
    dbapi_conn.rollback()
    server_port = row[0] if row else None
    return server_port is None or int(server_port) != (u.port or 5432)


def engine_for(url: str, pool_size: int | None = None, prepare: str = "auto") -> Engine:
    """An engine with the settings this store relies on (SQLite: WAL, busy timeout, foreign keys).

    PostgreSQL: ``pool_size`` connections per process (default ``DEFAULT_POOL_SIZE``; up to three
    times as many more under bursts, closed when returned), and ``prepare``: psycopg's automatic
    server-side prepared statements ("on"), none ("off": what PgBouncer < 1.21 in transaction mode
    needs, where consecutive transactions run on different server connections and a statement
    prepared on one is missing on the next), or "auto": off when ``behind_pooler`` says so."""
    if prepare not in PREPARE_MODES:
        raise ValueError(f"prepare must be one of {', '.join(PREPARE_MODES)}, not {prepare!r}")
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            private_file(Path(u.database))
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
    size = DEFAULT_POOL_SIZE if pool_size is None else pool_size
    # The pool's rollback on return is ours (below): SQLAlchemy's own logs a traceback for every
    # connection that died with its server, hundreds per PostgreSQL restart under load.
    engine = create_engine(url, pool_size=size, max_overflow=3 * size, pool_reset_on_return=None)
    no_prepare_on_pg(engine, url, prepare)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_conn: Any, _record: Any, state: Any) -> None:
        # A connection lost with its server (psycopg: ``broken``) has nothing to roll back; the
        # checkout check below discards it. Any other connection is rolled back, as by default.
        if not state.terminate_only and not dbapi_conn.broken and not dbapi_conn.closed:
            dbapi_conn.rollback()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # pool_pre_ping without its round trip (a quarter of a quiz submission's): a backend that went
        # away (restart, pg_terminate_backend, crash) left its socket readable - its FATAL message or
        # EOF - while an idle healthy connection has nothing to read. The pool then discards the
        # connection and checks out another (SQLAlchemy's documented DisconnectionError protocol).
        if dbapi_conn.closed or select_fds([dbapi_conn.fileno()], [], [], 0)[0]:
            raise sa_exc.DisconnectionError("the database closed this pooled connection")

    return engine


def no_prepare_on_pg(engine: Engine, url: str, prepare: str = "auto") -> Engine:
    """Turn psycopg's server-side prepared statements off on ``engine``'s connections when ``prepare``
    is "off", or "auto" and the first connection is ``behind_pooler``. Every PostgreSQL engine of the
    package goes through here (the store's, the report's, the LRS pusher's): one engine that prepares
    behind PgBouncer in transaction mode fails with 'prepared statement "_pg3_0" does not exist'.
    ``prepares(engine)`` tells which it chose (after the first connection)."""
    if engine.dialect.name != "postgresql" or prepare == "on":
        _PREPARES[engine] = True
        return engine
    decided: dict[str, bool] = {}

    @event.listens_for(engine, "connect")
    def _prepare_setting(dbapi_conn: Any, _record: Any) -> None:
        if "off" not in decided:
            decided["off"] = prepare == "off" or behind_pooler(dbapi_conn, url)
            _PREPARES[engine] = not decided["off"]
        if decided["off"]:
            dbapi_conn.prepare_threshold = None  # psycopg: never prepare (the plain extended protocol)

    return engine


_PREPARES: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def prepares(engine: Engine) -> bool | None:
    """Whether ``engine``'s connections use server-side prepared statements (None: not connected yet)."""
    return _PREPARES.get(engine)


def pg_engine(url: str, **kwargs: Any) -> Engine:
    """``create_engine`` for the package's other engines (reports, the LRS pusher): on PostgreSQL,
    no server-side prepared statements behind a pooler (``no_prepare_on_pg``, "auto")."""
    return no_prepare_on_pg(create_engine(url, **kwargs), url)


def lock_key(*parts: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def writer_queue(url: str) -> int | None:
    """SQLite file databases: a lock file that writers of all worker processes queue on.

    A writer that finds SQLite's write lock taken sleeps in its busy handler for 1, 2, 5, 10 ... ms
    and retries, while a handler transaction holds the lock for ~0.2 ms: with two workers most of the
    time went to sleeping (1,400/s and p99 175 ms against 2,400/s with one). flock() blocks in the
    kernel and wakes the next writer as soon as the lock is released. SQLite's own lock still decides
    correctness; this only orders the waiting.
    """
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return os.open(f"{u.database}-writers", os.O_RDWR | os.O_CREAT, 0o600)


Checkpointer = tuple[threading.Event, threading.Thread]


def start_checkpointer(engine: Engine, url: str, every: float = 0.5) -> Checkpointer | None:
    """SQLite file databases, in a serving worker: move WAL checkpoints off the request path.

    By default the commit that pushes the WAL past 1,000 pages copies them into the database file and
    fsyncs it, inside a learner's request; with a large learner_state those pages are spread out and
    that request stalls the worker's event loop. Here the request connections never checkpoint and a
    thread runs a PASSIVE checkpoint (never waits for readers or writers) twice a second.
    """
    u = make_url(url)
    db = u.database
    if u.get_backend_name() != "sqlite" or not db or db == ":memory:":
        return None

    @event.listens_for(engine, "connect")
    def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    engine.dispose()  # pooled connections opened before this get the pragma on reconnect
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
    return stop, thread
