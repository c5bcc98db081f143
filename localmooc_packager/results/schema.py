"""The ``course_results`` table: one row per learner and course, written by the runtime, read by reports.

Each milestone is recorded once, the first time it happens, in UTC. A row is "completed" for a round when
``certified_at`` (every certificate rule met) falls in the round and the certificate is not revoked.

Personal data stays in the runtime's ``identities`` table; this table holds only the random learner id. When a
learner is erased (PDPA), :func:`anonymise_learner` copies the two coarse grouping fields (organisation type and
province) here, drops what describes the person's learning (scores, study time, other milestones) and marks
the rows erased, so the round totals keep counting them after the identity row is gone.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    column,
    false,
    select,
    table,
    true,
    update,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

course_results = Table(
    "course_results",
    metadata,
    Column("learner_id", String(32), nullable=False),  # the runtime's random learner id
    Column("course_id", String(100), nullable=False),
    Column("enrolled_at", DateTime(timezone=True)),
    Column("content_completed_at", DateTime(timezone=True)),  # every unit visited, first time
    Column("post_test_passed_at", DateTime(timezone=True)),  # post-test passed, first time
    Column("certified_at", DateTime(timezone=True)),  # every certificate rule met, first time
    Column("study_seconds", Integer, nullable=False, default=0),  # active time, idle gaps capped
    Column("post_test_score", Float),  # percent, 0-100, best post-test result
    Column("grade", Float),  # course grade in percent, 0-100
    Column("credited_hours", Float),  # hours credited for the evaluation round (the course's `hours`)
    Column("certificate_no", String(40)),  # see results.certno; unique (index below)
    Column("revoked_at", DateTime(timezone=True)),  # set by an admin; the certificate no longer counts
    Column("revoked_reason", String(200)),
    Column("erased", Boolean, nullable=False, default=False),  # the learner's identity was erased
    Column("org_type", String(32)),  # kept only once erased: the identity row is gone then
    Column("province", String(64)),
    # Migration 0004: the latest counted activity (the next one adds the gap since it, capped, to
    # study_seconds) and the first completion of the course's satisfaction survey (certificate.survey).
    Column("last_active_at", DateTime(timezone=True)),
    Column("survey_done_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("learner_id", "course_id"),
    Index("ix_course_results_certificate_no", "certificate_no", unique=True),  # verification looks it up
    # The round report reads only this index: a range of certified_at, every column it shows in the key, so
    # neither database visits the table's rows (measured in benchmarks/bench_report.py: on 2 M rows the
    # table lookups made the SQLite report I/O-bound).
    Index(
        "ix_course_results_round",
        "certified_at",
        "revoked_at",
        "learner_id",
        "course_id",
        "credited_hours",
        "erased",
        "org_type",
        "province",
        "post_test_score",
        "grade",
        "certificate_no",
    ),
)

# The runtime's identity table, only the columns reports need (no import of the runtime: it depends on us).
identities = table(
    "identities",
    column("learner_id", String),
    column("username", String),
    column("name", String),
    column("org_type", String),
    column("organisation", String),
    column("province", String),
)


def anonymise_learner(conn: Connection, learner_id: str) -> int:
    """Before the identity row of ``learner_id`` is deleted: keep its organisation type and province on the
    learner's results and mark them erased. Run it in the erasure's transaction. Returns the rows changed."""
    who = select(identities.c.org_type, identities.c.province).where(identities.c.learner_id == learner_id)
    found = conn.execute(who).first()
    # What stays is what the counts and the verification need: course, certified_at, credited hours,
    # certificate number, revocation, and the two grouping fields. Scores, study time and the other
    # milestones describe the person's learning and go (docs/privacy.md).
    values: dict[str, object] = {
        "erased": true(),
        "post_test_score": None,
        "grade": None,
        "study_seconds": 0,
        "enrolled_at": None,
        "content_completed_at": None,
        "post_test_passed_at": None,
        "last_active_at": None,
        "survey_done_at": None,
    }
    if found is not None:
        values |= {"org_type": found.org_type, "province": found.province}
    stmt = (
        update(course_results)
        .where(course_results.c.learner_id == learner_id, course_results.c.erased == false())
        .values(values)
    )
    return conn.execute(stmt).rowcount
