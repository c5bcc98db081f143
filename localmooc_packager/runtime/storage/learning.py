"""Enrolment, navigation (resume point, study time), progress and course settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text, update

from ..completion import empty_row
from .engines import lock_key
from .results import RESULTS_LOCK
from .schema import attempts, completions, course_settings, enrolments, grades, now


class LearningStorage:
    """The learning part of ``Store`` (a mixin: ``Store`` provides the engine and transactions)."""

    engine: Any
    enrol_insert: Any
    course_settings_upsert: Any
    db_time: Callable[[datetime], Any]
    write: Any
    read: Any
    executemany: Any
    audit: Any
    is_sqlite: bool
    clock: Callable[[], datetime]
    feed: Any
    write_results: Any
    result_step: Any
    milestone_statements: Any
    _send_result_reads: Any

    def enrol(self, learner_id: str, course_id: str, course: Any = None) -> bool:
        """Enrol; a new enrolment starts its ``course_results`` row and (with the ``LoadedCourse``) writes
        the xAPI "registered"."""
        at = self.clock()
        with self.write() as conn:
            created = conn.execute(
                self.enrol_insert,
                {"learner_id": learner_id, "course_id": course_id, "created_at": at, "study_seconds": 0},
            ).rowcount
            if created:
                self.audit(conn, learner_id, "enrol", course_id, {})
                row = empty_row(learner_id, course_id) | {"enrolled_at": at}
                feed = self.feed
                said = feed.registered(learner_id, course, at) if feed and course is not None else []
                self.write_results(conn.connection.driver_connection, [row], said, at)
        return bool(created)

    def enrolment(self, learner_id: str, course_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(enrolments).where(
                    enrolments.c.learner_id == learner_id, enrolments.c.course_id == course_id
                )
            ).first()
            conn.rollback()
        return dict(row._mapping) if row is not None else None

    def enrolled_courses(self, learner_id: str) -> list[str]:
        with self.read() as conn:
            return list(
                conn.execute(
                    select(enrolments.c.course_id).where(enrolments.c.learner_id == learner_id)
                ).scalars()
            )

    def record_view(
        self,
        learner_id: str,
        course_id: str,
        unit_id: str,
        viewed_blocks: list[str],
        course: Any = None,
    ) -> None:
        """A unit was shown: remember it for resume, complete its html blocks and, with the
        ``LoadedCourse``, move the course result on (study time, milestones) and write the xAPI
        "experienced" (and what the view reached), all in one transaction."""
        at = self.clock()
        with self.write() as conn:
            raw = conn.connection.driver_connection
            if course is not None and not self.is_sqlite:  # the learner's results lock (storage/results.py)
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"),
                    {"k": lock_key(course_id, learner_id, RESULTS_LOCK)},
                )
            e = enrolments.c
            conn.execute(
                update(enrolments)
                .where(e.learner_id == learner_id, e.course_id == course_id)
                .values(last_unit=unit_id, last_seen=at)
            )
            if viewed_blocks:
                stamp = self.db_time(at)
                self.executemany(
                    raw, "completion_upsert", [(course_id, learner_id, b, 1.0, stamp) for b in viewed_blocks]
                )
            if course is None:
                return
            pair = (learner_id, course_id)
            # After the view's completions: the read includes them.
            inputs = self._send_result_reads(raw, [pair])({pair: (False, bool(viewed_blocks))})[pair]
            step = self.result_step(course, learner_id, inputs, at)
            said: list[Any] = []  # xapi_feed.Built
            if self.feed is not None:  # in order: launched (a new session), experienced, milestones
                reached = self.milestone_statements(course, learner_id, step, at)
                first = 1 if step.reached[:1] == ["launched"] else 0
                seen = self.feed.experienced(learner_id, course, unit_id, at)
                said = reached[:first] + seen + reached[first:]
            self.write_results(raw, [step.row], said, at)

    def progress(
        self, learner_id: str, course_id: str
    ) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
        """(best (earned, possible) per graded block, completion per block) of one learner in one course."""
        with self.read() as conn:
            g = conn.execute(
                select(grades.c.block_id, grades.c.earned, grades.c.possible).where(
                    grades.c.learner_id == learner_id, grades.c.course_id == course_id
                )
            )
            best = {r[0]: (r[1], r[2]) for r in g}
            c = conn.execute(
                select(completions.c.block_id, completions.c.completion).where(
                    completions.c.learner_id == learner_id, completions.c.course_id == course_id
                )
            )
            done = {r[0]: r[1] for r in c}
        return best, done

    def attempt_count(self, learner_id: str, course_id: str, block_id: str) -> int:
        with self.read() as conn:
            return conn.execute(
                select(func.count())
                .select_from(attempts)
                .where(
                    and_(
                        attempts.c.learner_id == learner_id,
                        attempts.c.course_id == course_id,
                        attempts.c.block_id == block_id,
                    )
                )
            ).scalar_one()

    def published_map(self) -> dict[str, bool]:
        with self.read() as conn:
            return {r[0]: bool(r[1]) for r in conn.execute(select(course_settings))}

    def set_published(self, actor: str, course_id: str, published: bool) -> None:
        with self.write() as conn:
            conn.execute(
                self.course_settings_upsert,
                {"course_id": course_id, "published": published, "updated_at": now()},
            )
            self.audit(conn, actor, "course-published" if published else "course-hidden", course_id, {})
