"""initial schema: learners, identity, sessions, state, events, audit

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 11:44:15.770997
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("course_id", sa.String(length=100), nullable=False),
        sa.Column("learner_id", sa.String(length=32), nullable=False),
        sa.Column("block_id", sa.String(length=100), nullable=False),
        sa.Column("earned", sa.Float(), nullable=False),
        sa.Column("possible", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_learner", ["learner_id", "course_id", "block_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_actor", ["actor", "at"], unique=False)

    op.create_table(
        "completions",
        sa.Column("course_id", sa.String(length=100), nullable=False),
        sa.Column("learner_id", sa.String(length=32), nullable=False),
        sa.Column("block_id", sa.String(length=100), nullable=False),
        sa.Column("completion", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("course_id", "learner_id", "block_id", name=op.f("pk_completions")),
    )
    with op.batch_alter_table("completions", schema=None) as batch_op:
        batch_op.create_index("ix_completions_learner", ["learner_id", "course_id"], unique=False)

    op.create_table(
        "course_settings",
        sa.Column("course_id", sa.String(length=100), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_course_settings")),
    )
    op.create_table(
        "grades",
        sa.Column("course_id", sa.String(length=100), nullable=False),
        sa.Column("learner_id", sa.String(length=32), nullable=False),
        sa.Column("block_id", sa.String(length=100), nullable=False),
        sa.Column("earned", sa.Float(), nullable=False),
        sa.Column("possible", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("course_id", "learner_id", "block_id", name=op.f("pk_grades")),
    )
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.create_index("ix_grades_learner", ["learner_id", "course_id"], unique=False)

    op.create_table(
        "learner_state",
        sa.Column("course_id", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("learner_id", sa.String(length=32), nullable=False),
        sa.Column("block_id", sa.String(length=100), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "course_id", "scope", "learner_id", "block_id", "field", name=op.f("pk_learner_state")
        ),
    )
    with op.batch_alter_table("learner_state", schema=None) as batch_op:
        batch_op.create_index(
            "ix_learner_state_learner", ["learner_id", "course_id", "block_id"], unique=False
        )

    op.create_table(
        "learners",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learners")),
    )
    with op.batch_alter_table("learners", schema=None) as batch_op:
        batch_op.create_index("ix_learners_created", ["created_at", "id"], unique=False)

    op.create_table(
        "enrolments",
        sa.Column("learner_id", sa.String(length=32), nullable=False),
        sa.Column("course_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_unit", sa.String(length=100), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("study_seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            name=op.f("fk_enrolments_learner_id_learners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("learner_id", "course_id", name=op.f("pk_enrolments")),
    )
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.create_index("ix_enrolments_course", ["course_id"], unique=False)

    op.create_table(
        "identities",
        sa.Column("learner_id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("national_id_hmac", sa.String(length=64), nullable=True),
        sa.Column("org_type", sa.String(length=32), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=False),
        sa.Column("lawful_basis", sa.String(length=16), nullable=False),
        sa.Column("consent_version", sa.String(length=16), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            name=op.f("fk_identities_learner_id_learners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("learner_id", name=op.f("pk_identities")),
        sa.UniqueConstraint("national_id_hmac", name=op.f("uq_identities_national_id_hmac")),
        sa.UniqueConstraint("username", name=op.f("uq_identities_username")),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("learner_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_sessions_learner_id_learners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_learner", ["learner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_learner")

    op.drop_table("sessions")
    op.drop_table("identities")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrolments_course")

    op.drop_table("enrolments")
    with op.batch_alter_table("learners", schema=None) as batch_op:
        batch_op.drop_index("ix_learners_created")

    op.drop_table("learners")
    with op.batch_alter_table("learner_state", schema=None) as batch_op:
        batch_op.drop_index("ix_learner_state_learner")

    op.drop_table("learner_state")
    with op.batch_alter_table("grades", schema=None) as batch_op:
        batch_op.drop_index("ix_grades_learner")

    op.drop_table("grades")
    op.drop_table("course_settings")
    with op.batch_alter_table("completions", schema=None) as batch_op:
        batch_op.drop_index("ix_completions_learner")

    op.drop_table("completions")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_actor")

    op.drop_table("audit_log")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_learner")

    op.drop_table("attempts")
