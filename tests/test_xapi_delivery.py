"""Delivery from the outbox to a real LRS (Ralph): exactly once, poison statements, an LRS killed mid-run."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from xapi_support import PASSWORD, ROOT, USER, Ralph, free_port, many, one_of_each, pg_engine

from localmooc_packager.xapi import outbox
from localmooc_packager.xapi.delivery import LrsRefusedError, Pusher


@pytest.fixture(scope="module")
def ralph(tmp_path_factory: pytest.TempPathFactory):
    lrs = Ralph(tmp_path_factory.mktemp("ralph"))
    lrs.start()
    yield lrs
    lrs.kill()


@pytest.fixture
def db(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
    outbox.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _enqueue(engine: sa.Engine, statements: list[dict]) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, statements)


def _rows(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.select(outbox.outbox).order_by(outbox.outbox.c.id)).all()


def _pusher(engine: sa.Engine, ralph: Ralph, **kw) -> Pusher:
    kw.setdefault("backoff_base_s", 0.05)
    kw.setdefault("backoff_cap_s", 0.5)
    return Pusher(engine, ralph.url, (USER, PASSWORD), **kw)


def test_n_statements_arrive_exactly_once(db: sa.Engine, ralph: Ralph) -> None:
    statements = many(230, tag="once")
    _enqueue(db, statements)
    pusher = _pusher(db, ralph, batch_size=50)
    stats = pusher.drain()
    assert (stats.delivered, stats.dead, stats.retried, stats.requests) == (230, 0, 0, 5)
    counts = ralph.stored_id_counts()
    assert all(counts[s["id"]] == 1 for s in statements)
    assert all(r.delivered_at is not None for r in _rows(db))
    # What the LRS hands back is what we built.
    back = {s["id"]: s for s in ralph.stored()}
    assert {k: back[statements[7]["id"]][k] for k in statements[7]} == statements[7]

    # A worker that died after the LRS stored a batch but before it marked the rows: once the lease is
    # over the rows are sent again, and the LRS keeps one copy.
    with db.begin() as conn:
        past = outbox.outbox.c.created_at - timedelta(seconds=1)
        conn.execute(sa.update(outbox.outbox).values(delivered_at=None, next_attempt_at=past))
    again = _pusher(db, ralph, batch_size=50).drain()
    assert again.delivered == 230 and again.duplicates == 230
    assert ralph.stored_id_counts() == counts
    pusher.close()


def test_a_refused_statement_is_set_aside_and_the_rest_delivered(db: sa.Engine, ralph: Ralph) -> None:
    statements = many(20, tag="poison")
    broken = copy.deepcopy(statements[13])
    broken["id"] = str(uuid.uuid4())
    del broken["actor"]["account"]  # Ralph refuses an actor with no identifier (422)
    _enqueue(db, [*statements[:13], broken, *statements[13:]])
    stats = _pusher(db, ralph, batch_size=21).drain()
    assert stats.delivered == 20 and stats.dead == 1
    counts = ralph.stored_id_counts()
    assert all(counts[s["id"]] == 1 for s in statements)
    assert counts[broken["id"]] == 0
    rows = {r.statement_id: r for r in _rows(db)}
    dead = rows[broken["id"]]
    assert dead.dead_at is not None and dead.delivered_at is None
    assert dead.last_error.startswith("422 from LRS:") and "actor" in dead.last_error
    # Never retried: a second run sends nothing.
    assert _pusher(db, ralph).drain().requests == 0


def test_an_id_the_lrs_holds_with_other_content_counts_as_delivered(db: sa.Engine, ralph: Ralph) -> None:
    original = one_of_each(learner="ConflictLearner1")["completed"]
    changed = copy.deepcopy(original)
    changed["result"]["completion"] = False
    assert ralph.post([original]).status_code == 200
    others = many(5, tag="conflict")
    _enqueue(db, [changed, *others])
    stats = _pusher(db, ralph).drain()
    assert stats.delivered == 5 and stats.duplicates == 1 and stats.dead == 0
    row = next(r for r in _rows(db) if r.statement_id == original["id"])
    assert row.delivered_at is not None and row.last_error.startswith("409 from LRS")
    assert ralph.stored_id_counts()[original["id"]] == 1


def test_wrong_credentials_stop_the_worker_and_keep_the_rows(db: sa.Engine, ralph: Ralph) -> None:
    _enqueue(db, many(3, tag="auth"))
    pusher = Pusher(db, ralph.url, (USER, "wrong"), backoff_base_s=0.05)
    with pytest.raises(LrsRefusedError, match="401"):
        pusher.drain()
    assert all(r.delivered_at is None and r.dead_at is None for r in _rows(db))


def test_an_unreachable_lrs_backs_off_and_loses_nothing(db: sa.Engine) -> None:
    _enqueue(db, many(250, tag="down"))
    # A free loopback port: nothing listens there.
    pusher = Pusher(db, f"http://127.0.0.1:{free_port()}/xAPI", (USER, PASSWORD), backoff_base_s=30)
    stats = pusher.drain()
    # One failed request, not one per batch: the first batch backs off and the rest stay due, untouched.
    assert (stats.requests, stats.retried, stats.delivered) == (1, 100, 0)
    rows = _rows(db)
    tried, untouched = rows[:100], rows[100:]
    assert all(r.delivered_at is None and r.attempts == 1 and "ConnectError" in r.last_error for r in tried)
    assert all(r.attempts == 0 and r.last_error is None for r in untouched)
    with db.connect() as conn:
        assert outbox.depth(conn) == outbox.Depth(pending=250, due=150, delivered=0, dead=0)


def test_the_loop_pauses_while_the_lrs_is_down(db: sa.Engine) -> None:
    _enqueue(db, many(500, tag="pause"))
    pusher = Pusher(
        db, f"http://127.0.0.1:{free_port()}/xAPI", (USER, PASSWORD), backoff_base_s=0.2, backoff_cap_s=0.4
    )
    stop = threading.Event()
    worker = threading.Thread(target=pusher.loop, args=(stop, 0.05))
    worker.start()
    time.sleep(1.0)
    stop.set()
    worker.join(10)
    # About one request per pause (0.1-0.4 s), not five back to back for the five due batches.
    assert 2 <= pusher.stats.requests <= 8, pusher.stats


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "localmooc_packager", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_cli_push_once(tmp_path: Path, db: sa.Engine, ralph: Ralph) -> None:
    statements = many(12, tag="cli")
    _enqueue(db, statements)
    secret = tmp_path / "lrs-password"
    secret.write_text(PASSWORD + "\n")
    url = str(db.url)
    common = ["--db", url, "--user", USER, "--password-file", str(secret)]
    done = _cli("lrs", "push", "--lrs", ralph.url, *common, "--once")
    assert done.returncode == 0, done.stderr
    assert "delivered 12 statement(s)" in done.stdout
    assert "outbox: 0 pending, 0 dead" in done.stdout
    counts = ralph.stored_id_counts()
    assert all(counts[s["id"]] == 1 for s in statements)

    _enqueue(db, many(2, tag="cli2"))
    down = _cli("lrs", "push", "--lrs", f"http://127.0.0.1:{free_port()}/xAPI", *common)
    assert down.returncode == 1
    assert "ConnectError" in down.stderr and "will retry" in down.stderr
    assert "Traceback" not in down.stderr

    # The failed push backed the two rows off (about a second): make them due now, so that the next push
    # must talk to the LRS whatever the time between the two processes.
    with db.begin() as conn:
        conn.execute(sa.update(outbox.outbox).values(next_attempt_at=datetime.now(UTC)))
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    refused = _cli(
        "lrs", "push", "--lrs", ralph.url, "--db", url, "--user", USER, "--password-file", str(wrong)
    )
    assert refused.returncode == 1 and "answered 401" in refused.stderr and "Traceback" not in refused.stderr

    empty_db = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty_db}").connect().close()
    usage = _cli("lrs", "push", "--lrs", ralph.url, "--db", f"sqlite:///{empty_db}", *common[2:])
    assert usage.returncode == 2 and "localmooc db upgrade" in usage.stderr

    missing = _cli(
        "lrs", "push", "--lrs", ralph.url, "--db", url, "--user", USER, "--password-file", "/nonexistent"
    )
    assert missing.returncode == 2 and "cannot read the password file" in missing.stderr


def test_cli_status_shows_dead_rows_and_requeues_them(tmp_path: Path, db: sa.Engine, ralph: Ralph) -> None:
    good = many(3, tag="status")
    broken = copy.deepcopy(good[0])
    broken["id"] = str(uuid.uuid4())
    del broken["actor"]["account"]
    _enqueue(db, [*good, broken])
    _pusher(db, ralph).drain()
    shown = _cli("lrs", "status", "--db", str(db.url))
    assert shown.returncode == 0, shown.stderr
    assert "pending 0 (due now 0), delivered 3, dead 1" in shown.stdout
    assert f"dead {broken['id']} at " in shown.stdout and "422 from LRS" in shown.stdout
    requeued = _cli("lrs", "status", "--db", str(db.url), "--requeue-dead")
    assert requeued.returncode == 0, requeued.stderr
    assert "requeued 1 dead statement(s)" in requeued.stdout
    assert "pending 1 (due now 1), delivered 3, dead 0" in requeued.stdout


@pytest.mark.postgres
def test_the_loop_survives_its_database_connections_being_killed(ralph: Ralph) -> None:
    with pg_engine() as admin:
        _loop_survives_killed_connections(admin, ralph)


def _loop_survives_killed_connections(admin: sa.Engine, ralph: Ralph) -> None:
    url = admin.url.render_as_string(hide_password=False)
    name = f"lm-push-test-{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args={"application_name": name})
    outbox.metadata.create_all(admin)
    statements = many(600, tag="pgkill")
    _enqueue(admin, statements)
    # A short lease, so rows sent but not marked before a kill come round again within the test.
    pusher = _pusher(engine, ralph, batch_size=20, lease=timedelta(seconds=3))
    stop = threading.Event()
    worker = threading.Thread(target=pusher.loop, args=(stop, 0.1))
    worker.start()
    terminated = 0
    kill = sa.text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n"
    )
    try:
        while ralph.stored_count() == 0:
            time.sleep(0.05)
        # The server ends the worker's sessions five times, as PostgreSQL restarts or failovers would.
        for _ in range(5):
            with admin.connect() as conn:
                terminated += conn.execute(kill, {"n": name}).scalar_one()
            time.sleep(0.7)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with admin.connect() as conn:
                if outbox.depth(conn).pending == 0:
                    break
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(60)
        pusher.close()
        engine.dispose()
    assert not worker.is_alive()
    # Sessions were ended under the worker. Whether one was mid-statement (db_errors) or idle in the pool
    # (pool_pre_ping reconnects unseen) is up to timing; either way nothing may be lost or sent twice.
    assert terminated > 0
    counts = ralph.stored_id_counts()
    assert all(counts[s["id"]] == 1 for s in statements)
    with admin.connect() as conn:
        assert outbox.depth(conn).delivered == 600


def test_cli_push_loop_delivers_as_events_come_and_stops_on_sigterm(
    tmp_path: Path, db: sa.Engine, ralph: Ralph
) -> None:
    secret = tmp_path / "lrs-password"
    secret.write_text(PASSWORD)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    args = ["lrs", "push", "--loop", "--lrs", ralph.url, "--db", str(db.url), "--user", USER]
    proc = subprocess.Popen(
        [sys.executable, "-m", "localmooc_packager", *args, "--password-file", str(secret)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        for round_ in range(2):  # statements written while the worker waits are picked up
            batch = many(15, tag=f"loop{round_}")
            _enqueue(db, batch)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with db.connect() as conn:
                    if outbox.depth(conn).pending == 0:
                        break
                time.sleep(0.1)
            counts = ralph.stored_id_counts()
            assert all(counts[s["id"]] == 1 for s in batch)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "delivered 30 statement(s)" in out


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
        outbox.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    with pg_engine() as engine:
        outbox.metadata.create_all(engine)
        yield engine


@pytest.mark.slow
def test_lrs_killed_mid_delivery_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, any_db: sa.Engine
) -> None:
    """SIGKILL the LRS while batches are in flight, restart it: every statement arrives exactly once.

    On PostgreSQL two workers drain the same outbox at once (their claims skip each other's rows).
    """
    db = any_db
    ralph = Ralph(tmp_path / "lrs")
    ralph.start()
    total = 3000
    statements = many(total, tag="kill")
    _enqueue(db, statements)
    workers = 2 if db.dialect.name == "postgresql" else 1
    pushers = [
        _pusher(db, ralph, batch_size=50, timeout_s=5, backoff_base_s=0.2, backoff_cap_s=2.0)
        for _ in range(workers)
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=p.loop, args=(stop, 0.1)) for p in pushers]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 120
        while ralph.stored_count() < total // 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 0 < ralph.stored_count() < total, "the kill must land mid-delivery"
        ralph.kill()
        time.sleep(1.5)  # the workers meet connection errors and back off
        assert sum(p.stats.retried for p in pushers) > 0
        ralph.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with db.connect() as conn:
                if outbox.depth(conn).pending == 0:
                    break
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        ralph.kill()
        for p in pushers:
            p.close()
    counts = ralph.stored_id_counts()
    assert set(counts) == {s["id"] for s in statements}, "every statement is in the LRS"
    assert Counter(counts.values()) == Counter({1: total}), "and each exactly once"
    with db.connect() as conn:
        assert outbox.depth(conn) == outbox.Depth(pending=0, due=0, delivered=total, dead=0)
    if workers > 1:
        assert all(p.stats.delivered > 0 for p in pushers), [p.stats for p in pushers]
