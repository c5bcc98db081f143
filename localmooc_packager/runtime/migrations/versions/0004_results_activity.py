"""results written by the runtime: activity time and the survey milestone on course_results

``last_active_at`` is the learner's latest counted activity in the course (a unit view or a handler call): the
next activity adds the gap since it, capped, to ``study_seconds`` (runtime/services/results.py). ``survey_done_at``
is the first time the course's satisfaction survey (``certificate.survey``) was completed.

Every existing enrolment gets its ``course_results`` row (enrolment time and the study time counted so far on
the enrolment). ``last_active_at`` stays empty: the learner's next activity then evaluates every rule from the
grades and completions already recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 22:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("course_results", sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("course_results", sa.Column("survey_done_at", sa.DateTime(timezone=True), nullable=True))
    enrolments = sa.table(
        "enrolments",
        sa.column("learner_id", sa.String),
        sa.column("course_id", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("study_seconds", sa.Integer),
    )
    results = sa.table(
        "course_results",
        sa.column("learner_id", sa.String),
        sa.column("course_id", sa.String),
        sa.column("enrolled_at", sa.DateTime(timezone=True)),
        sa.column("study_seconds", sa.Integer),
        sa.column("erased", sa.Boolean),
    )
    e, r = enrolments.c, results.c
    missing = ~sa.exists().where(r.learner_id == e.learner_id, r.course_id == e.course_id)
    rows = sa.select(e.learner_id, e.course_id, e.created_at, e.study_seconds, sa.false()).where(missing)
    op.execute(
        results.insert().from_select(
            ["learner_id", "course_id", "enrolled_at", "study_seconds", "erased"], rows
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("course_results") as batch:
        batch.drop_column("survey_done_at")
        batch.drop_column("last_active_at")
