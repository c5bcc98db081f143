"""The runtime's whole statement mix through Debian's PgBouncer in transaction mode.

PgBouncer (started here, its own config and port) sits in front of a throwaway database on the shared
PostgreSQL server. In transaction mode consecutive transactions of one client connection run on any
server connection, so anything that lives in a server session breaks: psycopg's server-side prepared
statements above all (PgBouncer 1.18, Debian 12's, does not track them). The first test shows that
breakage with prepared statements forced on; the rest run every kind of operation the runtime sends
(migrations, accounts and sessions, login throttle, the pipelined group commit of handler batches,
unit views, progress, admin pages, xAPI outbox claims, the results report, ``db check``) through the
pooler, from many threads at once so that many server connections take part, with the setting
detected automatically.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster_support import PgBouncer, missing_tools
from runtime_support import COURSE_ID, Api, LiveServer, call_handler, sample_courses, test_secrets
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from localmooc_packager.runtime.storage.engines import prepares
from localmooc_packager.runtime.store import Store, attempts

pytestmark = pytest.mark.postgres

import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from pgtools import PG_URL, throwaway_database, unreachable  # noqa: E402


@pytest.fixture(scope="module")
def pooled() -> Iterator[tuple[str, str]]:
    """(URL through PgBouncer, URL of the same database direct), migrated through PgBouncer."""
    why = unreachable(PG_URL) or missing_tools(pgbouncer=True)
    if why:
        pytest.skip(why)
    with throwaway_database(PG_URL, "lm_bouncer") as direct:
        u = make_url(direct)
        bouncer = PgBouncer(u.port or 5432, pool_size=8)
        bouncer.start()
        try:
            url = bouncer.url(str(u.database))
            store = Store(url)
            assert store.upgrade()  # Alembic's DDL and version table through the pooler
            store.dispose()
            yield url, direct
        finally:
            bouncer.stop()


def test_prepared_statements_break_behind_transaction_pooling_unless_turned_off(
    pooled: tuple[str, str],
) -> None:
    """Why the setting exists: psycopg prepares a statement on its 5th use, on the server connection
    of that transaction; held by another client, the next transaction gets another server connection,
    where the statement does not exist. "auto" sees the pooler and never prepares."""
    url, direct = pooled
    for prepare, fails in (("on", True), ("auto", False)):
        store = Store(url, prepare=prepare)
        try:
            a = store.engine.raw_connection()
            b = store.engine.raw_connection()
            try:
                for _ in range(6):  # prepared on server connection S1 by now (when "on")
                    a.driver_connection.execute("SELECT count(*) FROM learners WHERE role = %s", ("x",))
                    a.driver_connection.commit()
                b.driver_connection.execute("SELECT 1")  # b's open transaction holds S1
                try:
                    a.driver_connection.execute("SELECT count(*) FROM learners WHERE role = %s", ("x",))
                    a.driver_connection.commit()
                    failed = False
                except Exception as exc:
                    assert "prepared statement" in str(exc), exc
                    failed = True
                    a.driver_connection.rollback()
                b.driver_connection.rollback()
            finally:
                a.close()
                b.close()
            assert failed is fails, prepare
            assert prepares(store.engine) is (prepare == "on")
        finally:
            store.dispose()
    # Straight to PostgreSQL, "auto" keeps psycopg's prepared statements (the hot path's saving).
    store = Store(direct)
    try:
        with store.read() as conn:
            conn.execute(text("SELECT 1"))
        assert prepares(store.engine) is True
    finally:
        store.dispose()


def test_every_runtime_operation_works_through_pgbouncer(pooled: tuple[str, str]) -> None:
    from localmooc_packager.runtime.app import create_app

    url, direct = pooled
    app = create_app(sample_courses(), url, secrets=test_secrets(), migrate=False)
    # One event loop serves every client thread (as a worker does): a real server on loopback.
    with LiveServer(app) as server:
        _operations(app, server.url, url, direct)


def _operations(app: Any, base: str, url: str, direct: str) -> None:

    # Accounts, sessions, CSRF, login throttle, enrolment, unit views, submissions, progress: from 8
    # learners in parallel threads, many times each (past psycopg's prepare threshold of 5).
    def learner(i: int) -> tuple[str, int]:
        api = HttpApi(base)
        me = api.learner(f"bouncer{i}")
        assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
        for _ in range(3):
            assert api.get(f"/api/courses/{COURSE_ID}/units/revenue").status_code == 200
            for _ in range(3):
                r = api.submit("revenue-check", {"q1": "a"})
                assert r.status_code == 200, r.text
        assert api.get(f"/api/courses/{COURSE_ID}/progress").status_code == 200
        assert api.get("/api/me").status_code == 200
        assert api.get("/api/me/export").status_code == 200
        # The attempt limit (2) holds: the 3rd submission is refused.
        codes = [api.submit("process-quiz", {"q1": "b"}).status_code for _ in range(3)]
        assert codes == [200, 200, 409], codes
        assert api.post("/api/logout").status_code == 200
        return me["id"], 9 + 2

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(learner, range(8)))
    assert prepares(app.state.store.engine) is False  # detected on the first connection

    # Lockout: the 6th failure in a row is refused with 429 (the throttle row is shared state).
    api = HttpApi(base)
    api.learner("bouncerlock")
    codes = [api.login("bouncerlock", "wrong pass phrase 9").status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429, codes

    # The pipelined group commit: batches of several calls (unnest statements, advisory locks in key
    # order, all writes in one statement), from 4 threads at once, 3 learners per batch.
    from localmooc_packager.runtime.learner_runtime import call_handlers_for_sessions

    store = app.state.store
    course = sample_courses()[COURSE_ID]
    body = json.dumps({"responses": {"q1": "a"}}).encode()
    tokens = []
    for i in range(12):  # a session and an enrolment for each learner (one call each, serially)
        call_handler(store, course, f"batch{i}", "revenue-check", "submit", body)
        tokens.append(_sessions_of(store, f"batch{i}"))
    barrier = threading.Barrier(4)

    def batch(t: int) -> list[Any]:
        barrier.wait()
        mine = tokens[3 * t : 3 * t + 3]
        requests = [(course, tok, "revenue-check", "submit", body, "th") for tok in mine for _ in range(2)]
        return [r[0] if isinstance(r, tuple) else r for r in call_handlers_for_sessions(store, requests)]

    with ThreadPoolExecutor(4) as pool:
        outcomes = [r for rs in pool.map(batch, range(4)) for r in rs]
    assert outcomes == [200] * 24, outcomes

    # Admin pages (an admin account), the xAPI outbox (enqueue, claim, deliver), db check, the report.
    from localmooc_packager.runtime.server import promote_admin

    admin = HttpApi(base)
    admin.learner("bounceradmin")
    promote_admin(url, "bounceradmin")
    assert admin.login("bounceradmin").status_code == 200
    assert admin.get("/api/admin/learners").status_code == 200
    assert admin.get("/api/admin/courses").status_code == 200

    from localmooc_packager.xapi import outbox

    engine = create_engine(url)
    from localmooc_packager.runtime.storage.engines import no_prepare_on_pg

    no_prepare_on_pg(engine, url)
    try:
        # The runtime's own statements (registered, experienced, answered, ...) are in the outbox already,
        # written with the events above; these 30 come on top, and every one is claimed once.
        with engine.connect() as conn:
            before = outbox.depth(conn).pending
        assert before > 0
        with engine.begin() as conn:
            n = outbox.enqueue(conn, [{"id": str(uuid.uuid4()), "verb": {"id": "x"}} for _ in range(30)])
        assert n == 30
        claimed: list[int] = []
        while True:
            with engine.connect() as conn:
                rows = outbox.claim(conn, 25, timedelta(seconds=30))
            if not rows:
                break
            claimed += [r.row_id for r in rows]
            with engine.connect() as conn:
                outbox.mark_delivered(conn, [r.row_id for r in rows])
        assert len(claimed) == len(set(claimed)) == before + 30
        with engine.connect() as conn:
            assert outbox.depth(conn).pending == 0
    finally:
        engine.dispose()

    from localmooc_packager.runtime.dbcheck import check

    report = check(url)
    assert report.ok, report

    # Every acknowledged submission is in the database (checked on PostgreSQL itself).
    check_engine = create_engine(direct)
    done += [(f"batch{i}", 1 + 2) for i in range(12)]
    try:
        with check_engine.connect() as conn:
            for learner_id, expected in done:
                n = conn.execute(select(func.count()).where(attempts.c.learner_id == learner_id)).scalar_one()
                assert n == expected, (learner_id, n)
    finally:
        check_engine.dispose()


def _sessions_of(store: Any, learner: str) -> str:
    from runtime_support import _sessions

    return _sessions[(id(store), learner)]


class HttpApi(Api):
    """``Api`` over a real HTTP connection to ``base``."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30)  # type: ignore[assignment]
        self.client.get("/api/csrf")


def test_a_wrong_prepare_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="prepare must be one of"):
        Store("postgresql+psycopg://postgres@127.0.0.1:1/x", prepare="sometimes")


def test_pool_size_and_prepare_settings_reach_the_workers_and_are_checked() -> None:
    from localmooc_packager.errors import UsageError
    from localmooc_packager.runtime.settings import Settings

    s = Settings.from_env(
        {"LOCALMOOC_COURSES": ".", "LOCALMOOC_DB_POOL_SIZE": "3", "LOCALMOOC_DB_PREPARE": "off"}
    )
    assert (s.db_pool_size, s.db_prepare) == (3, "off")
    back = Settings.from_env(s.to_env())  # what `serve` hands its uvicorn workers
    assert (back.db_pool_size, back.db_prepare) == (3, "off")
    assert Settings.from_env({"LOCALMOOC_COURSES": "."}).db_pool_size is None
    for name, value in (("DB_POOL_SIZE", "0"), ("DB_POOL_SIZE", "ten"), ("DB_PREPARE", "sometimes")):
        with pytest.raises(UsageError, match=f"LOCALMOOC_{name}"):
            Settings.from_env({"LOCALMOOC_COURSES": ".", f"LOCALMOOC_{name}": value})
    store = Store("postgresql+psycopg://postgres@127.0.0.1:1/x", pool_size=3)  # no connection yet
    try:
        assert store.pool_size == 3
        assert store.engine.pool._max_overflow == 9  # type: ignore[attr-defined]
    finally:
        store.dispose()
