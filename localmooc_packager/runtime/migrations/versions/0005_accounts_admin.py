"""accounts for admins: temporary passwords that must be changed, the login throttle by account

``identities.must_change_password`` is set when an administrator gives a learner a temporary password and
cleared when the learner changes it. ``login_throttle.account`` (SHA-256 of the canonical username) lets an
administrator clear every throttle row of one account: the row's key also hashes the client address, so it
cannot be found from the username alone. Rows older than this revision have no account; they expire after a
day (``login_succeeded`` purges them).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_login_throttle_account", ["account"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index("ix_login_throttle_account")
        batch_op.drop_column("account")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
