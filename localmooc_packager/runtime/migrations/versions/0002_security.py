"""security: idle session expiry, login throttle per (account, client), case-folded usernames

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idle_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_sessions_expires", ["expires_at"], unique=False)
    op.execute("UPDATE sessions SET idle_until = expires_at")
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),  # sha256 of (canonical username, client)
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("wait_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index("ix_login_throttle_updated", ["updated_at"], unique=False)
    # Usernames are compared case-folded from now on; fold the stored ones unless that would merge two
    # accounts. Those pairs keep their spelling and cannot log in until an operator renames one of them
    # (a look-alike pair is what case folding exists to prevent; main let them both register).
    op.execute(
        "UPDATE identities SET username = lower(username) WHERE username <> lower(username) AND NOT EXISTS "
        "(SELECT 1 FROM identities other WHERE lower(other.username) = lower(identities.username) "
        "AND other.learner_id <> identities.learner_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index("ix_login_throttle_updated")
    op.drop_table("login_throttle")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_expires")
        batch_op.drop_column("idle_until")
