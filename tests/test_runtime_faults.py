"""The runtime under database faults and a killed worker: clean 503s, recovery, nothing acknowledged lost.

* PostgreSQL: the app's backend connections are terminated (``pg_terminate_backend``) while a submission
  is in flight. That is what a server restart does to the app, without restarting the server every other
  test on this machine shares (docs/robustness.md says why). The request in flight gets a 503 with a JSON
  body; the next requests succeed (the pool checks connections at checkout and opens new ones).
* SQLite: another process holds the write lock past ``busy_timeout``: a 503 with a JSON body, and the
  same request succeeds once the lock is gone.
* A uvicorn worker is SIGKILLed under load: every submission answered 2xx has its attempts row.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from runtime_support import COURSE_ID, Api, make_app, pg_database  # noqa: F401
from sqlalchemy import create_engine, func, select, text

from localmooc_packager.runtime.storage.engines import lock_key as _lock_key
from localmooc_packager.runtime.store import Store, attempts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import load_test

SUBMIT = f"/api/courses/{COURSE_ID}/blocks/revenue-check/handler/submit"
ANSWER = {"responses": {"q1": "a"}}


def _learner_api(app: Any, username: str) -> tuple[Api, str]:
    api = Api(app)
    # A failing request must come back as a response (the 503 under test), not as an exception.
    api.client = TestClient(app, raise_server_exceptions=False, cookies=api.client.cookies)
    learner = api.learner(username)
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    return api, learner["id"]


def _attempt_rows(url: str, learner_id: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).where(attempts.c.learner_id == learner_id)).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_terminated_postgres_connections_fail_the_request_cleanly_then_recover(
    pg_database: str,  # noqa: F811 - the fixture imported above
) -> None:
    store = Store(pg_database)
    store.upgrade()
    store.dispose()
    app = make_app(pg_database)
    api, learner_id = _learner_api(app, "pgfault")
    assert api.post(SUBMIT, json=ANSWER).status_code == 200

    # Hold the lock the submission's transaction takes, so the request is provably in flight (waiting
    # inside its transaction on the database) when its connection is terminated.
    admin = create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        key = _lock_key(COURSE_ID, learner_id, "revenue-check")
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        answer: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: answer.setdefault("r", api.post(SUBMIT, json=ANSWER)))
        worker.start()
        deadline = time.monotonic() + 20
        while not conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'"
            )
        ).scalar_one():
            assert time.monotonic() < deadline, "the submission never reached the lock"
            time.sleep(0.05)
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
        worker.join(timeout=30)
        assert not worker.is_alive(), "the request in flight hung"
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    admin.dispose()
    assert killed >= 1
    failed = answer["r"]
    assert failed.status_code == 503, failed.text
    assert failed.json()["detail"] == "unavailable"
    # Every later request gets a fresh connection: reads, the session lookup and a submission.
    for _ in range(3):
        r = api.post(SUBMIT, json=ANSWER)
        assert r.status_code == 200, r.text
    assert api.get("/api/me").status_code == 200
    assert _attempt_rows(pg_database, learner_id) == 4  # 1 before + 3 after; the failed one wrote nothing
    app.state.store.dispose()


@pytest.mark.slow
def test_sqlite_locked_past_busy_timeout_is_a_clean_503(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    app = make_app(url)
    api, learner_id = _learner_api(app, "locked")
    assert api.post(SUBMIT, json=ANSWER).status_code == 200
    # Another process's writer holding the lock is the same, to SQLite, as another connection's.
    holder = sqlite3.connect(tmp_path / "runtime.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = api.post(SUBMIT, json=ANSWER)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503, r.text
    assert r.json()["detail"] == "unavailable"
    # It waited for the lock as configured (the wait itself is SQLite's; no clock is read here).
    with app.state.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    assert api.post(SUBMIT, json=ANSWER).status_code == 200
    assert _attempt_rows(url, learner_id) == 2
    app.state.store.dispose()


def _kill_one_worker(server: Any) -> None:
    """SIGKILL one of uvicorn's worker processes (children of the `serve` process running our app)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    workers = [
        int(pid)
        for pid in children
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()  # not the resource tracker
    ]
    assert len(workers) >= 2, children

    def sockets(pid: int) -> int:
        fds = Path(f"/proc/{pid}/fd")
        return sum(1 for fd in fds.iterdir() if fd.readlink().as_posix().startswith("socket:"))

    # The kernel may hand every keep-alive connection to one worker: kill the one holding the most
    # sockets, so that requests are surely in flight when it dies.
    os.kill(max(workers, key=sockets), signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_worker_killed_under_load_loses_no_acknowledged_submission(kind: str) -> None:
    if kind == "postgresql":
        from runtime_support import _pg_reachable

        why = _pg_reachable()
        if why:
            pytest.skip(why)
    with load_test.fresh_database(kind) as url:
        result = load_test.run_load(
            url, learners=12, concurrency=12, seconds=6, workers=2, during=_kill_one_worker
        )
    # The kill cut some requests off (no answer: neither acknowledged nor refused) ...
    assert result.connection_errors >= 1, result.summary(kind)
    assert result.acknowledged > 100, result.summary(kind)
    # ... and lost nothing that was acknowledged, invented nothing, and answered no request with a 5xx.
    assert result.lost_writes == 0, result.summary(kind)
    assert result.phantom_writes == 0, result.summary(kind)
    assert result.server_errors == 0, result.summary(kind)
