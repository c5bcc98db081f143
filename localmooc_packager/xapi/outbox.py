"""The xAPI outbox: statements wait in the runtime's own database until an LRS has them.

``enqueue`` runs inside the caller's transaction, so a statement exists exactly when its event does (the
transactional outbox pattern). Delivery workers then ``claim`` due rows with a lease: one UPDATE that picks
rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (several workers never take the same row) and that SQLite
runs as one write (it has a single writer). A claimed row's ``next_attempt_at`` moves to the end of the
lease, so a worker that dies mid-send only delays its rows; the next claim resends them with the same
statement id, which the LRS treats as a duplicate. Nothing is held locked while HTTP is in flight.

Rows end in one of two states: delivered (``delivered_at``) or dead (``dead_at`` + ``last_error``: the LRS
refused the statement itself, so retrying cannot help; an operator reads the error with
``localmooc lrs status`` and may requeue it). ``prune`` deletes delivered rows once they are old (the LRS
has them; the outbox is not an archive); pending rows only on an operator's word that no LRS will come.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()

_BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements only INTEGER

outbox = sa.Table(
    "xapi_outbox",
    metadata,
    sa.Column("id", _BigInt, primary_key=True, autoincrement=True),
    sa.Column("statement_id", sa.String(36), nullable=False, unique=True),
    sa.Column("statement", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    # Pending rows only: the claim scans this index, so delivered history costs nothing.
    sa.Index(
        "ix_xapi_outbox_pending",
        "next_attempt_at",
        "id",
        postgresql_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
        sqlite_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
    ),
)

_PENDING = sa.and_(outbox.c.delivered_at.is_(None), outbox.c.dead_at.is_(None))


@dataclass(frozen=True)
class Claimed:
    """One claimed row: its key, the statement text as stored, and how many times it has been claimed."""

    row_id: int
    statement_id: str
    statement: str
    attempts: int


def _now() -> datetime:
    return datetime.now(UTC)


def _insert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the runtime supports only these two
        raise ValueError(f"the xAPI outbox supports SQLite and PostgreSQL, not {conn.dialect.name}")
    return insert(outbox).on_conflict_do_nothing(index_elements=["statement_id"])


def enqueue(conn: Connection, statements: Iterable[Mapping[str, Any]], now: datetime | None = None) -> int:
    """Add statements to the outbox in the caller's transaction; return how many were new.

    Does not commit: the caller's event and its statements commit or roll back together. A statement whose
    id is already queued (the same event built twice) is skipped, which keeps the outbox idempotent too.
    """
    at = now or _now()
    rows = []
    for statement in statements:
        sid = statement.get("id")
        if not isinstance(sid, str) or len(sid) != 36:
            raise ValueError("every statement needs its deterministic 'id' (build it with xapi.statements)")
        rows.append(
            {
                "statement_id": sid,
                "statement": json.dumps(statement, ensure_ascii=False, separators=(",", ":")),
                "created_at": at,
                "attempts": 0,
                "next_attempt_at": at,
            }
        )
    if not rows:
        return 0
    # RETURNING names only the rows actually inserted (driver rowcounts for executemany disagree).
    return len(conn.execute(_insert(conn).returning(outbox.c.id), rows).all())


def claim(conn: Connection, limit: int, lease: timedelta, now: datetime | None = None) -> list[Claimed]:
    """Take up to ``limit`` due rows (oldest first) for one worker and commit the claim.

    Run it on a connection outside any transaction: the claim is its own short transaction, so the rows are
    free for others again when the lease ends, whatever happens to this worker.
    """
    at = now or _now()
    # A materialised CTE: PostgreSQL evaluates it once. Written as "id IN (SELECT ... LIMIT n FOR UPDATE
    # SKIP LOCKED)" the planner may rescan the subquery per row of a semi-join and claim far more than n.
    due = (
        sa.select(outbox.c.id)
        .where(_PENDING, outbox.c.next_attempt_at <= at)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED")
    )
    stmt = (
        sa.update(outbox)
        # No pending test here: the CTE locked the rows, and repeating it makes the planner (without
        # statistics on a young table) scan the pending index once per claimed row.
        .where(outbox.c.id == due.c.id)
        .values(attempts=outbox.c.attempts + 1, next_attempt_at=at + lease)
        .returning(outbox.c.id, outbox.c.statement_id, outbox.c.statement, outbox.c.attempts)
    )
    with conn.begin():
        rows = conn.execute(stmt).all()
    return sorted(
        (Claimed(r.id, r.statement_id, r.statement, r.attempts) for r in rows), key=lambda c: c.row_id
    )


def mark_delivered(conn: Connection, row_ids: Iterable[int], note: str | None = None) -> None:
    """The LRS has these statements (stored now, or already had them)."""
    ids = list(row_ids)
    if not ids:
        return
    with conn.begin():
        conn.execute(
            sa.update(outbox).where(outbox.c.id.in_(ids)).values(delivered_at=_now(), last_error=note)
        )


def mark_dead(conn: Connection, row_id: int, error: str) -> None:
    """The LRS refused this statement itself (a 400/422 for it alone): keep it with the reason, stop trying."""
    with conn.begin():
        conn.execute(
            sa.update(outbox).where(outbox.c.id == row_id).values(dead_at=_now(), last_error=error[:4000])
        )


def backoff_delay(
    attempts: int, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None
) -> float:
    """Seconds before the next try: exponential in the attempts so far, capped, with "full jitter".

    Full jitter (a uniform draw up to the exponential bound) spreads the retries of many workers that failed
    together, so a recovering LRS is not hit by all of them at the same instant.
    """
    bound = min(cap, base * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(bound / 2, bound)


def back_off(conn: Connection, row_ids: Iterable[int], delay_s: float, error: str) -> None:
    """Delivery failed for a reason that may pass (LRS down, 5xx): retry these rows after ``delay_s``."""
    ids = list(row_ids)
    if not ids:
        return
    with conn.begin():
        conn.execute(
            sa.update(outbox)
            .where(outbox.c.id.in_(ids), _PENDING)
            .values(next_attempt_at=_now() + timedelta(seconds=delay_s), last_error=error[:4000])
        )


def requeue_dead(conn: Connection) -> int:
    """Make every dead row pending again (after the cause was fixed); returns how many. Own transaction."""
    with conn.begin():
        result = conn.execute(
            sa.update(outbox)
            .where(outbox.c.dead_at.is_not(None), outbox.c.delivered_at.is_(None))
            .values(dead_at=None, attempts=0, next_attempt_at=_now())
        )
    return result.rowcount


def dead_rows(conn: Connection, limit: int = 20) -> list[tuple[str, datetime, str]]:
    """The newest dead rows: (statement id, when it died, the LRS's error)."""
    rows = conn.execute(
        sa.select(outbox.c.statement_id, outbox.c.dead_at, outbox.c.last_error)
        .where(outbox.c.dead_at.is_not(None))
        .order_by(outbox.c.dead_at.desc(), outbox.c.id.desc())
        .limit(limit)
    ).all()
    if conn.in_transaction():
        conn.rollback()
    return [(r.statement_id, r.dead_at, r.last_error or "") for r in rows]


@dataclass(frozen=True)
class Pruned:
    """What ``prune`` deleted: delivered rows, and (``undelivered=True`` only) never-tried pending rows."""

    delivered: int = 0
    undelivered: int = 0


def prune(
    conn: Connection,
    older_than: timedelta,
    *,
    undelivered: bool = False,
    batch: int = 1000,
    now: datetime | None = None,
) -> Pruned:
    """Delete rows older than ``older_than``, ``batch`` rows per transaction; run outside a transaction.

    Delivered rows go when their delivery is that old. With ``undelivered``, pending rows that no worker
    has ever claimed (``attempts = 0``) go when their creation is that old: for a site without an LRS,
    where nothing will ever read them (the caller checks that, ``localmooc lrs prune``). Dead rows stay:
    they wait for an operator (``lrs status --requeue-dead``). Rows are walked by id (the primary key),
    so each batch is a short index range and the whole run reads the table once; the delete repeats the
    condition, so a row a worker claims in between is left alone. No lock is held between batches, and the
    runtime keeps writing meanwhile.
    """
    cutoff = (now or _now()) - older_than
    old_delivered = sa.and_(outbox.c.delivered_at.is_not(None), outbox.c.delivered_at < cutoff)
    old_pending = sa.and_(_PENDING, outbox.c.attempts == 0, outbox.c.created_at < cutoff)
    counts = {"delivered": 0, "undelivered": 0}
    kinds = [("delivered", old_delivered)] + ([("undelivered", old_pending)] if undelivered else [])
    for kind, condition in kinds:
        last = 0
        while True:
            with conn.begin():
                ids = (
                    conn.execute(
                        sa.select(outbox.c.id)
                        .where(outbox.c.id > last, condition)
                        .order_by(outbox.c.id)
                        .limit(batch)
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    break
                gone = conn.execute(sa.delete(outbox).where(outbox.c.id.in_(ids), condition)).rowcount
            counts[kind] += int(gone or 0)
            last = ids[-1]
    return Pruned(**counts)


def activity_since(conn: Connection, since: datetime) -> bool:
    """Whether a delivery worker has been at work: a row delivered after ``since``, or a pending row it has
    claimed (and will try again). ``lrs prune --undelivered`` refuses to run then."""
    row = conn.execute(
        sa.select(
            sa.exists().where(outbox.c.delivered_at >= since),
            sa.exists().where(_PENDING, outbox.c.attempts > 0),
        )
    ).one()
    if conn.in_transaction():
        conn.rollback()
    return bool(row[0] or row[1])


@dataclass(frozen=True)
class Depth:
    pending: int
    due: int
    delivered: int
    dead: int


def depth(conn: Connection, now: datetime | None = None) -> Depth:
    """Counts for operators and metrics: waiting, waiting and due now, delivered, dead."""
    at = now or _now()
    pending = sa.func.count().filter(_PENDING)
    began = not conn.in_transaction()
    row = conn.execute(
        sa.select(
            pending,
            sa.func.count().filter(_PENDING, outbox.c.next_attempt_at <= at),
            sa.func.count().filter(outbox.c.delivered_at.is_not(None)),
            sa.func.count().filter(outbox.c.dead_at.is_not(None)),
        )
    ).one()
    if began:  # leave the connection as it was, free for the next claim
        conn.rollback()
    return Depth(*row)


__all__ = [
    "Claimed",
    "Depth",
    "Pruned",
    "activity_since",
    "back_off",
    "backoff_delay",
    "claim",
    "dead_rows",
    "depth",
    "enqueue",
    "mark_dead",
    "mark_delivered",
    "metadata",
    "outbox",
    "prune",
    "requeue_dead",
]
