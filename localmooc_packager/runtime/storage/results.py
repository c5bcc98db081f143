# ruff: noqa: S608  (the SQL below is assembled from this module's fixed column names, never from input)
"""``course_results`` and the xAPI outbox, written in the transaction of the event that changed them.

Both paths that record learning call in here on the DBAPI connection of their transaction: the handler
batch (``state.py``; the reads travel with the batch's lock and state reads, the writes with its other
writes) and the unit view (``learning.record_view``). The rules themselves are in ``runtime/completion.py``.

Concurrency: on PostgreSQL every event of one learner in one course takes the advisory lock
``lock_key(course, learner, RESULTS_LOCK)`` before it reads the row, so two parallel requests of one learner
cannot both count the same idle gap or both miss a milestone; SQLite serialises writers anyway. The upsert
keeps a milestone and a certificate number that are already set (COALESCE) all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ...results.schema import course_results
from ..completion import COLUMNS, TIME_COLUMNS, CourseRules, Step, advance, rules_of
from ..xapi_feed import Built, Feed, outbox_rows
from .schema import aware

RESULTS_LOCK = "#results"  # the third part of the lock key: no block id starts with '#'

WRITE_COLUMNS = tuple(c for c in COLUMNS if c != "revoked_at")
_ONCE = ("enrolled_at", "content_completed_at", "post_test_passed_at", "survey_done_at", "certified_at")
_KEEP = ("credited_hours", "certificate_no")
_PG_TYPES = {
    "learner_id": "text",
    "course_id": "text",
    "study_seconds": "int4",
    "post_test_score": "float8",
    "grade": "float8",
    "credited_hours": "float8",
    "certificate_no": "text",
    "erased": "bool",
}

_UPDATE = ", ".join(
    [f"{c} = COALESCE(course_results.{c}, excluded.{c})" for c in _ONCE + _KEEP]
    + [f"{c} = excluded.{c}" for c in ("study_seconds", "last_active_at", "post_test_score", "grade")]
)
_COLS = ", ".join(WRITE_COLUMNS)
RESULTS_SQL = {
    "result_row": f"SELECT {', '.join(COLUMNS)} FROM course_results WHERE learner_id = ? AND course_id = ?",
    "result_scores": "SELECT block_id, score FROM grades WHERE learner_id = ? AND course_id = ?",
    "result_done": "SELECT block_id, completion FROM completions WHERE learner_id = ? AND course_id = ?",
    "result_upsert": f"INSERT INTO course_results ({_COLS}) VALUES ({', '.join('?' * len(WRITE_COLUMNS))}) "
    f"ON CONFLICT (learner_id, course_id) DO UPDATE SET {_UPDATE}",
    "outbox_insert": "INSERT INTO xapi_outbox (statement_id, statement, created_at, attempts, next_attempt_at) "
    "VALUES (?, ?, ?, 0, ?) ON CONFLICT (statement_id) DO NOTHING",
}

# PostgreSQL, a whole batch: pairs (learner, course) as arrays (binary, ``%b``: see ``sql.PG_BATCH_SQL``).
_PAIRS = "unnest(%b::text[], %b::text[]) AS p(learner_id, course_id)"
# Both arrays of a table in block order, so that they pair up.
_MINE = "WHERE x.learner_id = p.learner_id AND x.course_id = p.course_id ORDER BY x.block_id"
PG_RESULTS_SQL = {
    "result_inputs": f"SELECT p.learner_id, p.course_id, {', '.join('r.' + c for c in COLUMNS)}, "
    f"ARRAY(SELECT x.block_id FROM grades x {_MINE}), ARRAY(SELECT x.score FROM grades x {_MINE}), "
    f"ARRAY(SELECT x.block_id FROM completions x {_MINE}), "
    f"ARRAY(SELECT x.completion FROM completions x {_MINE}) "
    f"FROM {_PAIRS} LEFT JOIN course_results r ON r.learner_id = p.learner_id AND r.course_id = p.course_id",
    "result_upsert": f"INSERT INTO course_results ({_COLS}) SELECT * FROM unnest("
    + ", ".join(f"%b::{_PG_TYPES.get(c, 'timestamptz')}[]" for c in WRITE_COLUMNS)
    + f") ON CONFLICT (learner_id, course_id) DO UPDATE SET {_UPDATE}",
    "outbox_insert": "INSERT INTO xapi_outbox (statement_id, statement, created_at, attempts, next_attempt_at) "
    "SELECT s, t, c, 0, n FROM unnest(%b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[]) "
    "AS x(s, t, c, n) ON CONFLICT (statement_id) DO NOTHING",
}

_rules_cache: dict[int, tuple[Any, CourseRules]] = {}


def rules_for(course: Any) -> CourseRules:
    """The rules of a ``LoadedCourse``, computed once per loaded course object."""
    hit = _rules_cache.get(id(course))
    if hit is None or hit[0] is not course:
        hit = _rules_cache[id(course)] = (course, rules_of(course))
    return hit[1]


Pair = tuple[str, str]  # (learner, course)
Inputs = dict[Pair, tuple[dict[str, Any] | None, dict[str, float], dict[str, float]]]


class ResultStorage:
    """The results part of ``Store`` (a mixin: ``Store`` provides the connection codecs and the feed)."""

    is_sqlite: bool
    engine: Any
    clock: Callable[[], datetime]
    feed: Feed | None
    db_time: Callable[[datetime], Any]
    _read_time: Callable[[Any], Any]
    read: Any

    def _rsql(self, name: str) -> str:
        return RESULTS_SQL[name] if self.is_sqlite else RESULTS_SQL[name].replace("?", "%s")

    # ---- reads inside the event's transaction -----------------------------------------------------
    def _row_of(self, values: Sequence[Any]) -> dict[str, Any]:
        row = dict(zip(COLUMNS, values, strict=True))
        for c in TIME_COLUMNS:
            v = row[c]
            if v is not None:
                # SQLite: SQLAlchemy's text form of a UTC time; PostgreSQL: an aware datetime already.
                row[c] = datetime.fromisoformat(v).replace(tzinfo=UTC) if isinstance(v, str) else aware(v)
        row["erased"] = bool(row["erased"])
        return row

    def _time_param(self, value: datetime) -> Any:
        """A time as the column stores it: SQLite gets SQLAlchemy's text form (what ``db_time`` writes,
        made here in a tenth of its time), PostgreSQL the aware datetime."""
        if self.is_sqlite:
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def _send_result_reads(self, raw: Any, pairs: Sequence[Pair]) -> Callable[..., Inputs]:
        """The reads of ``pairs``' rows, best scores and completions. PostgreSQL: sent now (they travel in
        the pipeline with whatever was sent before) and collected by the returned function. SQLite: run
        by the returned function, which skips what the events cannot change (``wants``: per pair,
        whether the event has a graded score and whether it completed something): every rule is
        evaluated as a lower bound kept with max(), so a read left out never loses a result."""
        if not pairs:
            return lambda wants=None: {}
        if self.is_sqlite:

            def collect_rows(wants: dict[Pair, tuple[bool, bool]] | None = None) -> Inputs:
                out: Inputs = {}
                for p in pairs:
                    found = raw.execute(self._rsql("result_row"), p).fetchone()
                    row = self._row_of(found) if found else None
                    graded, completed = (wants or {}).get(p, (True, True))
                    full = row is None or row["last_active_at"] is None or wants is None
                    scores = raw.execute(self._rsql("result_scores"), p).fetchall() if full or graded else ()
                    unfinished = (
                        row is None or row["content_completed_at"] is None or row["survey_done_at"] is None
                    )
                    done = (
                        raw.execute(self._rsql("result_done"), p).fetchall()
                        if full or (completed and unfinished)
                        else ()
                    )
                    out[p] = (row, {b: float(v) for b, v in scores}, {b: float(v) for b, v in done})
                return out

            return collect_rows
        # PostgreSQL: one statement for every pair (rows, and scores and completions as arrays): each
        # statement in pipeline mode is a send() and a backend wake-up.
        cols = ([p[0] for p in pairs], [p[1] for p in pairs])
        sent = raw.execute(PG_RESULTS_SQL["result_inputs"], cols)

        def collect_batch(wants: Any = None) -> Inputs:
            out: Inputs = {}
            for values in sent.fetchall():
                row = values[2 : 2 + len(COLUMNS)]
                scores, score_values, done, done_values = values[2 + len(COLUMNS) :]
                out[(values[0], values[1])] = (
                    self._row_of(row) if row[0] is not None else None,
                    {b: float(v) for b, v in zip(scores, score_values, strict=True)},
                    {b: float(v) for b, v in zip(done, done_values, strict=True)},
                )
            return out

        return collect_batch

    # ---- writes -------------------------------------------------------------------------------------
    def _result_params(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            (self._time_param(row[c]) if row[c] is not None else None) if c in TIME_COLUMNS else row[c]
            for c in WRITE_COLUMNS
        )

    def _outbox_params(self, statements: list[Built], at: datetime) -> list[tuple[str, str, Any, Any]]:
        stamp = self._time_param(at)
        return outbox_rows(statements, stamp)

    def write_results(
        self, raw: Any, rows: list[dict[str, Any]], statements: list[Built], at: datetime
    ) -> None:
        """Upsert result rows and enqueue statements on a DBAPI connection (one statement per kind)."""
        if rows:
            self._execute_rows(raw, "result_upsert", [self._result_params(r) for r in rows])
        if statements:
            self._execute_rows(raw, "outbox_insert", self._outbox_params(statements, at))

    def result_write_parts(
        self, rows: list[dict[str, Any]], statements: list[Built], at: datetime
    ) -> list[tuple[str, list[list[Any]]]]:
        """PostgreSQL: the same writes as ``write_results``, as (statement, column arrays) for the batch's
        one data-modifying WITH statement."""
        parts: list[tuple[str, list[list[Any]]]] = []
        if rows:
            params = [self._result_params(r) for r in rows]
            parts.append((PG_RESULTS_SQL["result_upsert"], [list(c) for c in zip(*params, strict=True)]))
        if statements:
            params = self._outbox_params(statements, at)
            parts.append((PG_RESULTS_SQL["outbox_insert"], [list(c) for c in zip(*params, strict=True)]))
        return parts

    def _execute_rows(self, raw: Any, name: str, rows: list[tuple[Any, ...]]) -> None:
        sql = self._rsql(name)
        if len(rows) == 1:
            raw.execute(sql, rows[0])
        elif self.is_sqlite:
            raw.executemany(sql, rows)
        else:
            with raw.cursor() as cur:
                cur.executemany(sql, rows)

    # ---- one event on one (learner, course) ------------------------------------------------------------
    def result_step(
        self,
        course: Any,
        learner_id: str,
        inputs: tuple[dict[str, Any] | None, dict[str, float], dict[str, float]],
        at: datetime,
        *,
        grades: Iterable[tuple[str, float, float]] = (),
        completions: Iterable[tuple[str, float]] = (),
        post_attempt: bool = False,
    ) -> Step:
        """The row after an event, from what the transaction read and the event's own (unwritten) grades
        and completions."""
        row, scores, done = inputs
        scores = dict(scores)
        done = dict(done)
        for block, earned, possible in grades:
            s = (earned / possible) if possible else 0.0
            scores[block] = max(s, scores.get(block, s))
        for block, c in completions:
            done[block] = c
        return advance(rules_for(course), row, learner_id, scores, done, at, post_attempt=post_attempt)

    def milestone_statements(
        self, course: Any, learner_id: str, step: Step, at: datetime, attempt: int | None = None
    ) -> list[Built]:
        feed = self.feed
        if feed is None:
            return []
        out: list[Built] = []
        post = rules_for(course).grading.post_test
        for kind in step.reached:
            if kind == "launched":
                out += feed.launched(learner_id, course, at)
            else:
                out += feed.milestone(
                    kind, learner_id, course, step.row, at, post.possible if post else 0.0, attempt
                )
        return out

    # ---- reads for pages and other services -----------------------------------------------------------
    def result(self, learner_id: str, course_id: str) -> dict[str, Any] | None:
        """The ``course_results`` row of one learner in one course (times aware, UTC), or None."""
        with self.read() as conn:
            found = conn.execute(
                select(*(course_results.c[c] for c in COLUMNS)).where(
                    course_results.c.learner_id == learner_id, course_results.c.course_id == course_id
                )
            ).first()
        return _aware(dict(found._mapping)) if found is not None else None

    def results_of(self, learner_id: str) -> list[dict[str, Any]]:
        """Every ``course_results`` row of one learner, by course id."""
        with self.read() as conn:
            rows = conn.execute(
                select(*(course_results.c[c] for c in COLUMNS))
                .where(course_results.c.learner_id == learner_id)
                .order_by(course_results.c.course_id)
            ).mappings()
            return [_aware(dict(r)) for r in rows]


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    for c in TIME_COLUMNS:
        row[c] = aware(row[c])
    row["erased"] = bool(row["erased"])
    return row
