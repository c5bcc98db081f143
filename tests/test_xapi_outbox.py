"""The xAPI outbox on SQLite and PostgreSQL: transactional enqueue, idempotence, claims that never overlap."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from xapi_support import many, one_of_each, outbox_engine  # noqa: F401  (the engine fixture)

from localmooc_packager.xapi import outbox

LEASE = timedelta(seconds=60)


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox.outbox)).scalar_one()


def test_enqueue_commits_and_rolls_back_with_the_callers_transaction(engine: sa.Engine) -> None:
    statements = list(one_of_each().values())
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert outbox.enqueue(conn, statements) == len(statements)
        raise RuntimeError("the event failed after its statements were queued")
    assert _count(engine) == 0  # rolled back with the event
    with engine.begin() as conn:
        outbox.enqueue(conn, statements)
    assert _count(engine) == len(statements)


def test_enqueue_is_idempotent_by_statement_id(engine: sa.Engine) -> None:
    statements = list(one_of_each().values())
    with engine.begin() as conn:
        outbox.enqueue(conn, statements)
    with engine.begin() as conn:
        assert (
            outbox.enqueue(conn, statements[:3] + list(one_of_each(learner="SecondLearner01").values())) == 9
        )
    assert _count(engine) == 18


def test_the_stored_text_is_the_statement(engine: sa.Engine) -> None:
    statement = one_of_each()["answered"]
    with engine.begin() as conn:
        outbox.enqueue(conn, [statement])
    with engine.connect() as conn:
        (row,) = outbox.claim(conn, 10, LEASE)
    assert row.statement_id == statement["id"]
    assert json.loads(row.statement) == statement
    assert "ตอบคำถาม" in row.statement  # Thai kept as text, not \\u escapes
    assert row.attempts == 1


def test_enqueue_refuses_statements_without_an_id(engine: sa.Engine) -> None:
    statement = dict(one_of_each()["launched"])
    del statement["id"]
    with pytest.raises(ValueError, match="deterministic 'id'"), engine.begin() as conn:
        outbox.enqueue(conn, [statement])


def test_claim_is_oldest_first_and_leases_rows(engine: sa.Engine) -> None:
    statements = many(25)
    with engine.begin() as conn:
        outbox.enqueue(conn, statements)
    with engine.connect() as conn:
        first = outbox.claim(conn, 10, LEASE)
        second = outbox.claim(conn, 10, LEASE)
        third = outbox.claim(conn, 10, LEASE)
        fourth = outbox.claim(conn, 10, LEASE)
    got = [c.statement_id for c in first + second + third]
    assert got == [s["id"] for s in statements]  # every row once, in order
    assert fourth == []  # all leased
    # After the lease, the rows are due again (a worker that died loses nothing).
    with engine.connect() as conn:
        again = outbox.claim(conn, 100, LEASE, now=datetime.now(UTC) + LEASE + timedelta(seconds=1))
    assert len(again) == 25
    assert {c.attempts for c in again} == {2}


def test_delivered_dead_and_backed_off_rows(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, many(6))
    with engine.connect() as conn:
        rows = outbox.claim(conn, 6, timedelta(0))
        outbox.mark_delivered(conn, [r.row_id for r in rows[:3]])
        outbox.mark_dead(conn, rows[3].row_id, "422 from LRS: bad")
        outbox.back_off(conn, [r.row_id for r in rows[4:]], 30.0, "ConnectError")
        assert outbox.depth(conn) == outbox.Depth(pending=2, due=0, delivered=3, dead=1)
        assert outbox.claim(conn, 10, LEASE) == []  # backing off
        later = outbox.claim(conn, 10, LEASE, now=datetime.now(UTC) + timedelta(seconds=31))
        assert [r.row_id for r in later] == [r.row_id for r in rows[4:]]
        dead = conn.execute(
            sa.select(outbox.outbox.c.last_error).where(outbox.outbox.c.id == rows[3].row_id)
        ).scalar_one()
    assert dead == "422 from LRS: bad"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    import random

    rng = random.Random(7)
    delays = [outbox.backoff_delay(n, base=1.0, cap=60.0, rng=rng) for n in range(1, 12)]
    for n, d in enumerate(delays, start=1):
        bound = min(60.0, 2 ** (n - 1))
        assert bound / 2 <= d <= bound
    assert max(delays) <= 60.0
    # Jitter: two workers failing together do not retry together.
    assert outbox.backoff_delay(5, rng=random.Random(1)) != outbox.backoff_delay(5, rng=random.Random(2))


def test_concurrent_claims_never_share_a_row(engine: sa.Engine) -> None:
    total = 400
    with engine.begin() as conn:
        outbox.enqueue(conn, many(total))
    claimed: list[list[str]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with engine.connect() as conn:
                while rows := outbox.claim(conn, 7, LEASE):
                    claimed[i].extend(r.statement_id for r in rows)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    if engine.dialect.name == "sqlite":
        # SQLite has one writer: concurrent claims wait on its lock instead of skipping rows.
        engine.pool.dispose()
        sa.event.listen(engine, "connect", lambda c, _: c.execute("PRAGMA busy_timeout = 10000"))
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    every = [sid for part in claimed for sid in part]
    assert len(every) == total
    assert len(set(every)) == total
    if engine.dialect.name == "postgresql":
        assert sum(1 for part in claimed if part) > 1  # SKIP LOCKED let several workers claim at once


def test_a_claim_never_takes_more_than_its_limit(engine: sa.Engine) -> None:
    # On PostgreSQL "id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)" claimed all 2,000 rows of a fresh
    # table (the planner rescanned the subquery per row); the claim is a materialised CTE for that reason.
    with engine.begin() as conn:
        outbox.enqueue(conn, many(2000, tag="limit"))
    with engine.connect() as conn:
        sizes = [len(outbox.claim(conn, 100, LEASE)) for _ in range(3)]
    assert sizes == [100, 100, 100]
