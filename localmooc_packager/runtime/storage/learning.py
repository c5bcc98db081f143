"""Enrolment, navigation (resume point, study time), progress and course settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update

from .schema import attempts, aware, completions, course_settings, enrolments, grades, now


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

    def enrol(self, learner_id: str, course_id: str) -> bool:
        with self.write() as conn:
            created = conn.execute(
                self.enrol_insert,
                {"learner_id": learner_id, "course_id": course_id, "created_at": now(), "study_seconds": 0},
            ).rowcount
            if created:
                self.audit(conn, learner_id, "enrol", course_id, {})
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
        max_gap: timedelta = timedelta(minutes=5),
    ) -> None:
        """A unit was shown: remember it for resume, add study time, complete its html blocks."""
        at = now()
        with self.write() as conn:
            e = enrolments.c
            last = conn.execute(
                select(e.last_seen).where(e.learner_id == learner_id, e.course_id == course_id)
            ).scalar()
            # Time between two page views counts as study time, capped so an idle tab adds little.
            gap = int(min((at - aware(last)).total_seconds(), max_gap.total_seconds())) if last else 0
            conn.execute(
                update(enrolments)
                .where(e.learner_id == learner_id, e.course_id == course_id)
                .values(last_unit=unit_id, last_seen=at, study_seconds=e.study_seconds + max(gap, 0))
            )
            if viewed_blocks:
                stamp = self.db_time(at)
                self.executemany(
                    conn.connection.driver_connection,
                    "completion_upsert",
                    [(course_id, learner_id, b, 1.0, stamp) for b in viewed_blocks],
                )

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
