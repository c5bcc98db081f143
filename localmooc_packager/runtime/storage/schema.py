"""The runtime's tables (SQLAlchemy Core; Alembic migrations in ``../migrations`` create them) and the
small helpers every storage module shares.

Identity is kept apart from learner state (PDPA): every learning record carries only the random learner id.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)
from xblock.fields import Scope

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# A random id that says nothing about the person; every learner-state row is keyed by it.
learners = Table(
    "learners",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("role", String(16), nullable=False, default="learner"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True)),
    Index("ix_learners_created", "created_at", "id"),
)

# Who the learner is. Erasure deletes this row and leaves the anonymous learner id and its state.
identities = Table(
    "identities",
    metadata,
    Column("learner_id", String(32), ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("national_id_hmac", String(64), unique=True),  # keyed HMAC-SHA256, never the raw id
    Column("org_type", String(32), nullable=False),
    Column("organisation", String(200), nullable=False, default=""),
    Column("province", String(64), nullable=False, default=""),
    Column("lawful_basis", String(16), nullable=False),  # public-task | consent
    Column("consent_version", String(16)),
    Column("consent_at", DateTime(timezone=True)),
    Column("password_hash", String(200), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    # Set with a temporary password given by an admin: every page asks for a new one until it is changed.
    Column("must_change_password", Boolean, nullable=False, default=False, server_default=false()),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie: a leaked table opens nothing
    Column("learner_id", String(32), ForeignKey("learners.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),  # absolute end
    Column("idle_until", DateTime(timezone=True)),  # moved on by use; the session ends when either passes
    Index("ix_sessions_learner", "learner_id"),
    Index("ix_sessions_expires", "expires_at"),
)

# Failed logins per (canonical username, client address), keyed by their SHA-256: the attempt is counted
# before the password is checked, in one statement, so parallel guesses cannot pass the limit; a wait
# that doubles replaces a hard lock, so nobody can lock someone else out (docs/security.md).
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("wait_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("account", String(64)),  # sha256 of the canonical username: an admin's unlock clears them all
    Index("ix_login_throttle_updated", "updated_at"),
    Index("ix_login_throttle_account", "account"),
)

enrolments = Table(
    "enrolments",
    metadata,
    Column("learner_id", String(32), ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True),
    Column("course_id", String(100), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_unit", String(100)),
    Column("last_seen", DateTime(timezone=True)),
    Column("study_seconds", Integer, nullable=False, default=0),
    Index("ix_enrolments_course", "course_id"),
)

# XBlock fields of the user scopes. course_id namespaces usage ids (two courses may both have a "post"
# block); it is '' for type- and all-scoped fields, which XBlock shares across courses. user '' = all users.
learner_state = Table(
    "learner_state",
    metadata,
    Column("course_id", String(100), primary_key=True),
    Column("scope", String(24), primary_key=True),
    Column("learner_id", String(32), primary_key=True),
    Column("block_id", String(100), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_learner_state_learner", "learner_id", "course_id", "block_id"),
)

grades = Table(
    "grades",
    metadata,
    Column("course_id", String(100), primary_key=True),
    Column("learner_id", String(32), primary_key=True),
    Column("block_id", String(100), primary_key=True),
    Column("earned", Float, nullable=False),
    Column("possible", Float, nullable=False),
    Column("score", Float, nullable=False),  # best earned/possible so far
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_grades_learner", "learner_id", "course_id"),
)

completions = Table(
    "completions",
    metadata,
    Column("course_id", String(100), primary_key=True),
    Column("learner_id", String(32), primary_key=True),
    Column("block_id", String(100), primary_key=True),
    Column("completion", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_completions_learner", "learner_id", "course_id"),
)

# Every grade event as it happened (append-only): evidence for HR reports and disputes.
attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("course_id", String(100), nullable=False),
    Column("learner_id", String(32), nullable=False),
    Column("block_id", String(100), nullable=False),
    Column("earned", Float, nullable=False),
    Column("possible", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_attempts_learner", "learner_id", "course_id", "block_id"),
)

course_settings = Table(
    "course_settings",
    metadata,
    Column("course_id", String(100), primary_key=True),
    Column("published", Boolean, nullable=False, default=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Who did what to whom; no names or national ids, only learner ids.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(32), nullable=False, default=""),
    Column("action", String(48), nullable=False),
    Column("target", String(200), nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),
    Index("ix_audit_actor", "actor", "at"),
)


RowKey = tuple[str, str, str, str, str]  # learner_state's primary key: course, scope, learner, block, field
USER_SCOPES = (Scope.user_state, Scope.user_state_summary, Scope.preferences, Scope.user_info)
MIGRATIONS = Path(__file__).parent.with_name("migrations")


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def new_id() -> str:
    return secrets.token_urlsafe(16)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DuplicateError(Exception):
    """A unique value (username, national id) is taken."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
