"""Retention of the xAPI outbox (docs/xapi.md, "Retention"): ``localmooc lrs prune`` and the delivery worker's
automatic pruning delete delivered statements once they are old, in bounded transactions, on SQLite and
PostgreSQL; pending statements are kept unless the operator says the site has no LRS, and never while one is
configured or at work; refused (dead) statements are kept for the operator."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from xapi_support import PASSWORD, ROOT, USER, Ralph, many, outbox_engine, pg_engine  # noqa: F401  (the engine fixture)

from localmooc_packager.errors import UsageError
from localmooc_packager.xapi import outbox
from localmooc_packager.xapi.delivery import Pusher, retention_from_env

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)


def _fill(engine: sa.Engine, tag: str, n: int, created: datetime, **state: object) -> list[str]:
    """``n`` statements created at ``created`` and then put in ``state`` (delivered_at, dead_at, attempts)."""
    statements = many(n, tag=tag)
    with engine.begin() as conn:
        outbox.enqueue(conn, statements, now=created)
        ids = [s["id"] for s in statements]
        if state:
            conn.execute(
                sa.update(outbox.outbox).where(outbox.outbox.c.statement_id.in_(ids)).values(**state)
            )
    return ids


def _ids(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(outbox.outbox.c.statement_id)).scalars())


def _mixed(engine: sa.Engine) -> dict[str, list[str]]:
    return {
        "old_delivered": _fill(engine, "od", 23, OLD, delivered_at=OLD),
        "recent_delivered": _fill(engine, "rd", 4, OLD, delivered_at=RECENT),
        "old_pending": _fill(engine, "op", 6, OLD),
        "old_tried": _fill(engine, "ot", 3, OLD, attempts=2),
        "old_dead": _fill(engine, "dd", 2, OLD, dead_at=OLD, attempts=1, last_error="422 from LRS"),
        "new_pending": _fill(engine, "np", 5, NOW),
    }


def test_prune_deletes_old_delivered_rows_in_batches_and_keeps_the_rest(engine: sa.Engine) -> None:
    rows = _mixed(engine)
    commits: list[int] = []
    sa.event.listen(engine, "commit", lambda _conn: commits.append(1))
    with engine.connect() as conn:
        pruned = outbox.prune(conn, timedelta(days=30), batch=5, now=NOW)
    assert pruned == outbox.Pruned(delivered=23, undelivered=0)
    # 23 rows, 5 per transaction: five that delete and one that finds nothing more.
    assert len(commits) == 6
    left = _ids(engine)
    assert not left & set(rows["old_delivered"])
    keep = [k for k in rows if k != "old_delivered"]
    assert left == {i for k in keep for i in rows[k]}

    with engine.connect() as conn:  # run again: nothing more to do
        assert outbox.prune(conn, timedelta(days=30), batch=5, now=NOW) == outbox.Pruned()


def test_prune_undelivered_takes_only_never_tried_pending_rows(engine: sa.Engine) -> None:
    rows = _mixed(engine)
    with engine.connect() as conn:
        pruned = outbox.prune(conn, timedelta(days=30), undelivered=True, batch=4, now=NOW)
    assert pruned == outbox.Pruned(delivered=23, undelivered=6)
    # A row a worker has tried (attempts > 0) is on its way to an LRS; a dead one waits for the operator.
    assert _ids(engine) == {
        i for k in ("recent_delivered", "old_tried", "old_dead", "new_pending") for i in rows[k]
    }


def test_activity_since_sees_a_recent_delivery_or_a_retry(engine: sa.Engine) -> None:
    _fill(engine, "a", 3, OLD, delivered_at=OLD)
    _fill(engine, "b", 3, OLD)
    since = NOW - timedelta(days=30)
    with engine.connect() as conn:
        assert not outbox.activity_since(conn, since)
    tried = _fill(engine, "c", 1, OLD)
    with engine.begin() as conn:
        conn.execute(
            sa.update(outbox.outbox).where(outbox.outbox.c.statement_id == tried[0]).values(attempts=1)
        )
    with engine.connect() as conn:
        assert outbox.activity_since(conn, since)
    with engine.begin() as conn:
        conn.execute(sa.update(outbox.outbox).values(attempts=0, delivered_at=None))
        conn.execute(sa.update(outbox.outbox).where(outbox.outbox.c.id == 1).values(delivered_at=RECENT))
    with engine.connect() as conn:
        assert outbox.activity_since(conn, since)


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOCALMOOC_LRS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "localmooc_packager", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**e, **env},
        timeout=120,
    )


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_cli_lrs_prune(kind: str, tmp_path: Path) -> None:
    if kind == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
        outbox.metadata.create_all(eng)
        _check_cli(eng)
        eng.dispose()
        return
    with pg_engine() as eng:
        outbox.metadata.create_all(eng)
        _check_cli(eng)


def _check_cli(engine: sa.Engine) -> None:
    rows = _mixed(engine)
    url = engine.url.render_as_string(hide_password=False)
    done = _cli("lrs", "prune", "--older-than", "30", "--db", url, "--batch-size", "10")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "pruned 23 delivered statement(s) older than 30 days; outbox: 14 pending, 4 delivered, 2 dead"
    )
    # An LRS is configured in this environment: pending statements are never pruned.
    refused = _cli(
        "lrs", "prune", "--older-than", "30", "--undelivered", "--db", url, LOCALMOOC_LRS_URL="https://lrs/x"
    )
    assert refused.returncode == 2 and "LOCALMOOC_LRS_URL is set" in refused.stderr
    assert "Traceback" not in refused.stderr
    # A worker has been at work (a row it is retrying; deliveries in the last 30 days): refused as well.
    at_work = _cli("lrs", "prune", "--older-than", "30", "--undelivered", "--db", url)
    assert at_work.returncode == 2 and "delivery worker has been at work" in at_work.stderr
    assert len(_ids(engine)) == 20  # nothing went
    # The site has no LRS: the tried rows are forgotten too (an operator's reset) and nothing is recent.
    with engine.begin() as conn:
        conn.execute(sa.update(outbox.outbox).values(attempts=0, delivered_at=None))
    gone = _cli("lrs", "prune", "--older-than", "30", "--undelivered", "--db", url)
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.strip() == (
        "pruned 0 delivered statement(s) older than 30 days and 13 never sent; "
        "outbox: 5 pending, 0 delivered, 2 dead"
    )
    assert _ids(engine) == set(rows["new_pending"]) | set(rows["old_dead"])

    bad = _cli("lrs", "prune", "--older-than", "0", "--db", url)
    assert bad.returncode == 2 and "--older-than" in bad.stderr


def test_retention_setting_is_checked() -> None:
    assert retention_from_env({}) is None
    assert retention_from_env({"LOCALMOOC_XAPI_RETENTION_DAYS": "90"}) == 90
    for wrong in ("0", "-3", "ninety", "1.5"):
        with pytest.raises(UsageError, match="LOCALMOOC_XAPI_RETENTION_DAYS"):
            retention_from_env({"LOCALMOOC_XAPI_RETENTION_DAYS": wrong})


def test_the_delivery_loop_prunes_old_delivered_statements(tmp_path: Path) -> None:
    ralph = Ralph(tmp_path / "lrs")
    ralph.start()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'runtime.db'}")
    outbox.metadata.create_all(engine)
    try:
        old = _fill(engine, "old", 7, OLD, delivered_at=OLD)
        fresh = many(5, tag="fresh")
        with engine.begin() as conn:
            outbox.enqueue(conn, fresh)
        pusher = Pusher(engine, ralph.url, (USER, PASSWORD), retention=timedelta(days=30))
        stop = threading.Event()
        worker = threading.Thread(target=pusher.loop, args=(stop, 0.05))
        worker.start()
        try:
            deadline = threading.Event()
            for _ in range(400):  # until the fresh ones are delivered and the old ones pruned
                if pusher.stats.delivered == 5 and pusher.stats.pruned == 7:
                    break
                deadline.wait(0.05)
        finally:
            stop.set()
            worker.join(30)
        assert (pusher.stats.delivered, pusher.stats.pruned) == (5, 7)
        assert _ids(engine) == {s["id"] for s in fresh}  # delivered now: kept for 30 days
        assert not _ids(engine) & set(old)
        assert all(ralph.stored_id_counts()[s["id"]] == 1 for s in fresh)
    finally:
        pusher.close()
        engine.dispose()
        ralph.kill()
