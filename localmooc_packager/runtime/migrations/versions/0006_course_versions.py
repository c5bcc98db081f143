"""course versions: the published content of every course, which every node serves (runtime/storage/versions.py)

Written out here, not taken from the Core definition, so that this revision stays what it is when that
definition changes later. One row per published version, never updated; the newest is the one served.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "course_versions",
        sa.Column("course_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("archive_size", sa.Integer(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("blocks", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("course_id", "version", name="pk_course_versions"),
    )


def downgrade() -> None:
    op.drop_table("course_versions")
