"""Every driver-level SQL statement of the runtime, written once.

The statements of a handler call run as driver SQL on the DBAPI connection of the transaction: Core costs
~30-50 us per statement to build, cache-key and bind, which was half of a quiz submission. The text is
fixed, so sqlite3's statement cache and psycopg's automatic server-side prepare (after 5 uses) apply.
``HOT_SQL`` is written with "?" placeholders (PostgreSQL gets "%s", see ``for_dialect``); ``PG_BATCH_SQL``
is PostgreSQL's form of the same statements for a whole batch (rows as arrays, ``unnest``).
"""

from __future__ import annotations

# Hot statements, written once for both databases ("?" placeholders; PostgreSQL gets "%s"). They are the
# Core statements of the Store's slow paths, spelled out: same tables, same upsert rules.
HOT_SQL = {
    # Session and enrolment in one indexed lookup (sessions PK, learners PK, enrolments PK); with it the
    # identity's must_change_password (identities PK), so the guard costs no statement of its own.
    "session": "SELECT s.learner_id, s.expires_at, l.role, (SELECT 1 FROM enrolments e "
    "WHERE e.learner_id = s.learner_id AND e.course_id = ?), s.idle_until, (SELECT i.must_change_password "
    "FROM identities i WHERE i.learner_id = s.learner_id) FROM sessions s "
    "JOIN learners l ON l.id = s.learner_id WHERE s.token_hash = ?",
    # ix_learner_state_learner (learner_id, course_id, block_id): an index range, never a scan.
    "state1": "SELECT course_id, scope, learner_id, block_id, field, value FROM learner_state "
    "WHERE learner_id = ? AND course_id = ? AND block_id = ?",
    "state2": "SELECT course_id, scope, learner_id, block_id, field, value FROM learner_state "
    "WHERE learner_id IN (?, ?) AND course_id = ? AND block_id = ?",
    "state_get": "SELECT value FROM learner_state "
    "WHERE course_id = ? AND scope = ? AND learner_id = ? AND block_id = ? AND field = ?",
    "state_delete": "DELETE FROM learner_state "
    "WHERE course_id = ? AND scope = ? AND learner_id = ? AND block_id = ? AND field = ?",
    "state_upsert": "INSERT INTO learner_state (course_id, scope, learner_id, block_id, field, value, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (course_id, scope, learner_id, block_id, field) "
    "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    # The best score stays (earned/possible with it); updated_at always moves.
    "grade_upsert": "INSERT INTO grades (course_id, learner_id, block_id, earned, possible, score, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (course_id, learner_id, block_id) DO UPDATE SET "
    "earned = CASE WHEN excluded.score > grades.score THEN excluded.earned ELSE grades.earned END, "
    "possible = CASE WHEN excluded.score > grades.score THEN excluded.possible ELSE grades.possible END, "
    "score = {greatest}(grades.score, excluded.score), updated_at = excluded.updated_at",
    "attempt": "INSERT INTO attempts (course_id, learner_id, block_id, earned, possible, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)",
    "completion_upsert": "INSERT INTO completions (course_id, learner_id, block_id, completion, updated_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (course_id, learner_id, block_id) DO UPDATE SET "
    "completion = excluded.completion, updated_at = excluded.updated_at",
    "lock": "SELECT pg_advisory_xact_lock(?)",
    # A session in use moves its idle end on (only when half the idle time has passed: rarely a write).
    "session_touch": "UPDATE sessions SET idle_until = ? WHERE token_hash = ?",
}


# PostgreSQL, a batch of handler calls: one statement for all rows of a kind, rows passed as arrays
# (``unnest``); same tables and upsert rules as HOT_SQL. Each statement in pipeline mode is a send()
# and a wake-up of the backend: per-row statements were half of the worker's CPU in a batch.
# The arrays travel in binary (``%b``): psycopg writes a text array literal in Python, escaping every
# element with a regex (3/4 of a batch's write statement in the worker, ~120 us per submission); binary
# elements are copied as they are (15x less CPU for a batch's columns).
PG_BATCH_SQL = {
    "sessions": "SELECT s.token_hash, s.learner_id, s.expires_at, l.role, ARRAY(SELECT e.course_id "
    "FROM enrolments e WHERE e.learner_id = s.learner_id AND e.course_id = ANY(%b::text[])), s.idle_until, "
    "(SELECT i.must_change_password FROM identities i WHERE i.learner_id = s.learner_id) "
    "FROM sessions s JOIN learners l ON l.id = s.learner_id WHERE s.token_hash = ANY(%b::text[])",
    # unnest yields the keys in array order and each row's lock is taken as the row is produced.
    "locks": "SELECT pg_advisory_xact_lock(k) FROM unnest(%b::bigint[]) AS k",
    "state": "SELECT st.course_id, st.scope, st.learner_id, st.block_id, st.field, st.value "
    "FROM unnest(%b::text[], %b::text[], %b::text[]) AS w(learner_id, course_id, block_id) "
    "JOIN learner_state st ON st.learner_id = w.learner_id AND st.course_id = w.course_id "
    "AND st.block_id = w.block_id",
    "state_upsert": "INSERT INTO learner_state (course_id, scope, learner_id, block_id, field, value, "
    "updated_at) SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], "
    "%b::text[], %b::timestamptz[]) ON CONFLICT (course_id, scope, learner_id, block_id, field) "
    "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    "state_delete": "DELETE FROM learner_state WHERE (course_id, scope, learner_id, block_id, field) IN "
    "(SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[]))",
    "grade_upsert": "INSERT INTO grades (course_id, learner_id, block_id, earned, possible, score, updated_at) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::float8[], %b::float8[], %b::float8[], "
    "%b::timestamptz[]) ON CONFLICT (course_id, learner_id, block_id) DO UPDATE SET "
    "earned = CASE WHEN excluded.score > grades.score THEN excluded.earned ELSE grades.earned END, "
    "possible = CASE WHEN excluded.score > grades.score THEN excluded.possible ELSE grades.possible END, "
    "score = greatest(grades.score, excluded.score), updated_at = excluded.updated_at",
    "attempt": "INSERT INTO attempts (course_id, learner_id, block_id, earned, possible, created_at) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::float8[], %b::float8[], "
    "%b::timestamptz[])",
    "completion_upsert": "INSERT INTO completions (course_id, learner_id, block_id, completion, updated_at) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::float8[], %b::timestamptz[]) "
    "ON CONFLICT (course_id, learner_id, block_id) DO UPDATE SET "
    "completion = excluded.completion, updated_at = excluded.updated_at",
}


def for_dialect(is_sqlite: bool) -> dict[str, str]:
    """``HOT_SQL`` in the placeholder style and with the functions of one database."""
    return {
        name: text.format(greatest="max" if is_sqlite else "greatest").replace(
            "?", "?" if is_sqlite else "%s"
        )
        for name, text in HOT_SQL.items()
    }
