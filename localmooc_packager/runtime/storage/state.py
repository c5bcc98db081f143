"""Learner state: XBlock's KeyValueStore over ``learner_state``, and the group commit of handler calls.

A handler batch is the only way a block handler's writes reach the database (``handler_batch``): the
sessions are checked, the locks taken (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: advisory locks on
(course, learner, block) in key order), the state read, the handlers run one after another, and every
write of the calls that succeeded goes out before one COMMIT.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ..errors import SessionRefused
from .engines import lock_key
from .kvs import SqlKeyValueStore
from .results import RESULTS_LOCK, Pair
from .schema import RowKey, aware, now, token_hash
from .sql import PG_BATCH_SQL

T = TypeVar("T")


@dataclass(frozen=True)
class SessionInfo:
    learner_id: str
    role: str
    expires_at: datetime
    idle_until: datetime
    must_change_password: bool = False  # a temporary password from an admin: only the change page is open


@dataclass
class Published:
    """Events a block published during one call; written in the call's transaction."""

    grades: list[tuple[str, float, float]] = field(default_factory=list)
    completions: list[tuple[str, float]] = field(default_factory=list)
    # Quiz submissions: (quiz id, attempt number, responses, correctness per question), for xAPI.
    answers: list[tuple[str, int, dict[str, Any], dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class HandlerCall:
    """One call of ``handler_batch``: the session cookie, and the block whose state it needs."""

    token: str
    course_id: str
    block_id: str
    lock_summary: bool = False  # the block has user_state_summary fields (rows of learner '')
    course: Any = None  # the LoadedCourse: its results are evaluated with the call (None: not)


class StateStorage:
    """The learner-state part of ``Store`` (a mixin: ``Store`` provides engine, hot SQL and time codecs)."""

    engine: Any
    is_sqlite: bool
    hot: dict[str, str]
    idle_ttl: timedelta
    db_time: Callable[[datetime], Any]
    _read_time: Callable[[Any], Any]
    _queue_fd: int | None
    _unavailable: tuple[type[Exception], ...]
    clock: Callable[[], datetime]
    feed: Any
    _send_result_reads: Any
    result_step: Any
    milestone_statements: Any
    write_results: Any
    result_write_parts: Any

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
    def raw_write(self) -> Iterator[Any]:
        """``write`` on the pooled DBAPI connection itself, for the hot path: SQLAlchemy's Connection,
        begin/commit events and transaction objects cost ~60 us per request around ~10 statements."""
        fairy = self.engine.raw_connection()
        raw = fairy.driver_connection
        queue = self._queue_fd
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

    def handler_batch(
        self,
        calls: Sequence[HandlerCall],
        run: Callable[[int, SessionInfo, SqlKeyValueStore, Published], T],
    ) -> list[T | Exception]:
        """Group commit: the handler calls of several requests in one transaction; a result or an
        exception for each call, in order. Return only after the commit: then every result is durable.

        Each call gets its session (checked in the transaction: expiry, idle expiry, revocation,
        enrolment), its block's state under the lock, a ``Published``, and ``run(i, ...)`` runs its
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
                results, ops, events, extra = self._run_batch(raw, calls, run)
                self._write_batch(raw, ops, events, extra)
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
    ) -> tuple[
        list[T | Exception],
        list[tuple[str, tuple[Any, ...]]],
        list[tuple[str, tuple[Any, ...]]],
        tuple[list[dict[str, Any]], list[Any], datetime],
    ]:
        real = now()  # sessions keep the real time; learning events take the runtime's clock
        at = self.clock()
        # 1. Sessions and enrolments (exact expiry and revocation: read in this transaction).
        sessions_ = [self._session_of(row, real) for row in self._sessions(raw, calls)]
        # 2. Locks in key order, then the state of every (learner, course, block), read after them.
        keys: set[int] = set()
        wanted: dict[tuple[str, str, str], None] = {}  # (learner, course, block), in order
        pairs: dict[Pair, Any] = {}  # (learner, course) -> the course, for results
        for c, s in zip(calls, sessions_, strict=True):
            if isinstance(s, SessionInfo):
                keys.add(lock_key(c.course_id, s.learner_id, c.block_id))
                wanted[(s.learner_id, c.course_id, c.block_id)] = None
                if c.lock_summary:
                    keys.add(lock_key(c.course_id, "", c.block_id))
                    wanted[("", c.course_id, c.block_id)] = None
                if c.course is not None:  # results: one lock per (learner, course), read after it
                    keys.add(lock_key(c.course_id, s.learner_id, RESULTS_LOCK))
                    pairs.setdefault((s.learner_id, c.course_id), c.course)
        # The batch's view of learner_state as JSON text, by (course, learner, block).
        texts: dict[tuple[str, str, str], dict[RowKey, str | None]] = {}
        state_rows, collect = self._lock_and_read(raw, sorted(keys), list(wanted), list(pairs))
        for r in state_rows:
            texts.setdefault((r[0], r[2], r[3]), {})[(r[0], r[1], r[2], r[3], r[4])] = r[5]
        # 3. The handlers, in arrival order; a call's writes join the batch only when it succeeded.
        results: list[T | Exception] = []
        ops: list[tuple[str, tuple[Any, ...]]] = []
        touches = self._touches(calls, sessions_, real)
        events: list[tuple[str, tuple[Any, ...]]] = []
        done_calls: dict[Pair, list[Published]] = {}
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
            if c.course is not None:
                done_calls.setdefault((s.learner_id, c.course_id), []).append(published)
        extra = self._batch_results(pairs, collect, done_calls, at)
        return results, ops, events + touches, extra

    def _batch_results(
        self, pairs: dict[Pair, Any], collect: Any, done_calls: dict[Pair, list[Published]], at: datetime
    ) -> tuple[list[dict[str, Any]], list[Any], datetime]:
        """The batch's ``course_results`` rows and xAPI statements: one step per (learner, course) whose
        calls succeeded, with the grades and completions those calls published."""
        wants = {}
        for pair, published in done_calls.items():
            graded = {q.id for q in pairs[pair].grading.quizzes}
            wants[pair] = (
                any(g[0] in graded for p in published for g in p.grades),
                any(p.completions for p in published),
            )
        inputs = collect(wants)
        rows: list[dict[str, Any]] = []
        statements: list[Any] = []  # xapi_feed.Built
        for pair, published in done_calls.items():
            course = pairs[pair]
            learner = pair[0]
            post = course.grading.post_test
            post_id = post.id if post else None
            grades = [g for p in published for g in p.grades]
            attempts = [a for p in published for a in p.answers if a[0] == post_id]
            step = self.result_step(
                course,
                learner,
                inputs[pair],
                at,
                grades=grades,
                completions=[c for p in published for c in p.completions],
                post_attempt=any(g[0] == post_id for g in grades),
            )
            rows.append(step.row)
            if self.feed is not None:
                for p in published:
                    for quiz, attempt, responses, marks in p.answers:
                        statements += self.feed.answered(learner, course, quiz, attempt, responses, marks, at)
                attempt = attempts[-1][1] if attempts else None
                statements += self.milestone_statements(course, learner, step, at, attempt)
        return rows, statements, at

    def _session_of(self, row: tuple[Any, ...] | None, at: datetime) -> SessionInfo | SessionRefused:
        if row is None:
            return SessionRefused("no session")
        expires = aware(self._read_time(row[1]))
        idle = aware(self._read_time(row[4])) if row[4] is not None else expires
        assert expires is not None and idle is not None
        if min(expires, idle) <= at:
            return SessionRefused("session expired")
        if row[5]:  # a temporary password from an admin: nothing but the password change until it is done
            return SessionRefused("password change required")
        if not row[3]:
            return SessionRefused("not enrolled")
        return SessionInfo(row[0], row[2], expires, idle)

    def _touches(
        self, calls: Sequence[HandlerCall], sessions_: list[SessionInfo | SessionRefused], at: datetime
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """Sessions in use whose idle end is less than half the idle time away move it on (rarely)."""
        out: dict[str, tuple[str, tuple[Any, ...]]] = {}
        for c, s in zip(calls, sessions_, strict=True):
            if isinstance(s, SessionInfo) and s.idle_until - at < self.idle_ttl / 2:
                h = token_hash(c.token)
                out[h] = ("session_touch", (self.db_time(min(at + self.idle_ttl, s.expires_at)), h))
        return list(out.values())

    def _sessions(self, raw: Any, calls: Sequence[HandlerCall]) -> list[tuple[Any, ...] | None]:
        """Per call: (learner id, expires_at, role, enrolled, idle_until, must change password) of its
        session, or None."""
        if self.is_sqlite or len(calls) == 1:  # one call: the row statement (arrays cost more to bind)
            return [
                raw.execute(self.hot["session"], (c.course_id, token_hash(c.token))).fetchone() for c in calls
            ]
        # PostgreSQL: one statement for the batch (a statement is a send() and a backend wake-up).
        hashes = [token_hash(c.token) for c in calls]
        courses = sorted({c.course_id for c in calls})
        rows = {r[0]: r[1:] for r in raw.execute(PG_BATCH_SQL["sessions"], (courses, hashes)).fetchall()}
        out: list[tuple[Any, ...] | None] = []
        for c, h in zip(calls, hashes, strict=True):
            r = rows.get(h)
            out.append(None if r is None else (r[0], r[1], r[2], c.course_id in r[3], r[4], r[5]))
        return out

    def _lock_and_read(
        self, raw: Any, keys: list[int], wanted: list[tuple[str, str, str]], pairs: list[Pair]
    ) -> tuple[list[tuple[Any, ...]], Callable[[], Any]]:
        """Take the advisory locks ``keys`` (PostgreSQL; in this order), then read learner_state rows of
        every (learner, course, block) of ``wanted``, and send the results reads of ``pairs`` (collected
        by the returned function). On PostgreSQL all statements travel together (pipeline mode: one
        round trip); the reads still start after the locks are granted, so they see every transaction
        committed before them."""
        if self.is_sqlite:
            state = [r for w in wanted for r in raw.execute(self.hot["state1"], w).fetchall()]
            return state, self._send_result_reads(raw, pairs)
        if not wanted:
            return [], self._send_result_reads(raw, pairs)
        if len(wanted) <= 2:  # one call (maybe with its summary rows): row statements, one round trip
            sent = [raw.execute(self.hot["lock"], (k,)) for k in keys]
            reads = [raw.execute(self.hot["state1"], w) for w in wanted]
            collect = self._send_result_reads(raw, pairs)
            for cur in sent:
                cur.fetchall()
            return [r for cur in reads for r in cur.fetchall()], collect
        lock = raw.execute(PG_BATCH_SQL["locks"], (keys,))
        read = raw.execute(PG_BATCH_SQL["state"], tuple(list(col) for col in zip(*wanted, strict=True)))
        collect = self._send_result_reads(raw, pairs)
        lock.fetchall()
        return read.fetchall(), collect

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
        self,
        raw: Any,
        ops: list[tuple[str, tuple[Any, ...]]],
        events: list[tuple[str, tuple[Any, ...]]],
        extra: tuple[list[dict[str, Any]], list[Any], datetime] | None = None,
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
        touch_rows: list[tuple[Any, ...]] = []
        parts: list[str] = []
        params: list[list[Any]] = []
        for name, row in events:
            if name == "grade_upsert":
                best = grade.get(row[:3])
                if best is None or row[5] > best[5]:
                    grade[row[:3]] = row
            elif name == "attempt":
                attempt_rows.append(row)
            elif name == "session_touch":
                touch_rows.append(row)
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
                parts.append(f"w{len(parts)} AS ({PG_BATCH_SQL[name]})")
                params += [list(col) for col in zip(*rows, strict=True)]
        if touch_rows:
            self.executemany(raw, "session_touch", touch_rows)
        if extra is not None:  # course_results and the xAPI outbox, with the rest
            if self.is_sqlite:
                self.write_results(raw, *extra)
            else:
                for sql, columns in self.result_write_parts(*extra):
                    parts.append(f"w{len(parts)} AS ({sql})")
                    params += columns
        if parts:
            # PostgreSQL: every write of the batch in one statement (data-modifying WITH clauses, on
            # different tables, each run once): one send() and one backend wake-up before COMMIT.
            raw.execute(f"WITH {', '.join(parts)} SELECT 1", tuple(params))

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
