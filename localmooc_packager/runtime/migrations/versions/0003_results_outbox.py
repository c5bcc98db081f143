"""results and xAPI outbox: course_results (results/schema.py) and xapi_outbox (xapi/outbox.py)

The two tables as their Core definitions declare them, written out here so that this revision stays what it
is when those definitions change later (a change there needs a new revision). Constraint names are the ones
``metadata.create_all`` gives on PostgreSQL, so a database made either way looks the same.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements only INTEGER
_PENDING = "delivered_at IS NULL AND dead_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "course_results",
        sa.Column("learner_id", sa.String(length=32), nullable=False),
        sa.Column("course_id", sa.String(length=100), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("post_test_passed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("study_seconds", sa.Integer(), nullable=False),
        sa.Column("post_test_score", sa.Float(), nullable=True),
        sa.Column("grade", sa.Float(), nullable=True),
        sa.Column("credited_hours", sa.Float(), nullable=True),
        sa.Column("certificate_no", sa.String(length=40), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=200), nullable=True),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.Column("org_type", sa.String(length=32), nullable=True),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("learner_id", "course_id", name="pk_course_results"),
    )
    op.create_index("ix_course_results_certificate_no", "course_results", ["certificate_no"], unique=True)
    op.create_index(
        "ix_course_results_round",
        "course_results",
        [
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
        ],
        unique=False,
    )
    op.create_table(
        "xapi_outbox",
        sa.Column("id", _BigInt, autoincrement=True, nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="xapi_outbox_pkey"),
        sa.UniqueConstraint("statement_id", name="xapi_outbox_statement_id_key"),
    )
    op.create_index(
        "ix_xapi_outbox_pending",
        "xapi_outbox",
        ["next_attempt_at", "id"],
        unique=False,
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_xapi_outbox_pending", table_name="xapi_outbox")
    op.drop_table("xapi_outbox")
    op.drop_index("ix_course_results_round", table_name="course_results")
    op.drop_index("ix_course_results_certificate_no", table_name="course_results")
    op.drop_table("course_results")
