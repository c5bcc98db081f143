"""Accounts: learners and their identity, login throttling, sessions, the PDPA export and erasure, the
admin's list of learners, the audit log."""

from __future__ import annotations

import json
import math
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, func, select, update

from ...results.schema import anonymise_learner, course_results
from ..observe import LOGIN_LOCKOUTS
from ..settings import Login
from .schema import (
    DuplicateError,
    attempts,
    audit_log,
    aware,
    completions,
    enrolments,
    grades,
    identities,
    learner_state,
    learners,
    login_throttle,
    new_id,
    now,
    sessions,
    token_hash,
)
from .state import SessionInfo


class AccountStorage:
    """The accounts part of ``Store`` (a mixin: ``Store`` provides the engine and transactions)."""

    engine: Any
    idle_ttl: timedelta
    throttle_insert: Any
    write: Any
    read: Any

    def create_learner(self, identity: dict[str, Any], role: str = "learner") -> str:
        """Insert a learner and their identity in one transaction; DuplicateError on a taken username/id."""
        learner_id = new_id()
        at = now()
        with self.write() as conn:
            i = identities.c
            taken = conn.execute(
                select(i.username, i.national_id_hmac).where(
                    (i.username == identity["username"])
                    | (
                        (i.national_id_hmac == identity["national_id_hmac"])
                        if identity.get("national_id_hmac")
                        else False
                    )
                )
            ).first()
            if taken is not None:
                raise DuplicateError("username" if taken[0] == identity["username"] else "national_id")
            conn.execute(learners.insert().values(id=learner_id, role=role, created_at=at))
            conn.execute(identities.insert().values(learner_id=learner_id, failed_logins=0, **identity))
            self.audit(conn, learner_id, "register", learner_id, {"lawful_basis": identity["lawful_basis"]})
        return learner_id

    def identity_for_login(self, username: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(
                select(
                    identities.c.learner_id,
                    identities.c.password_hash,
                    identities.c.must_change_password,
                    learners.c.role,
                )
                .join(learners, learners.c.id == identities.c.learner_id)
                .where(identities.c.username == username)
            ).first()
        if row is None:
            return None
        return dict(row._mapping)

    def login_attempt(self, key: str, rules: Login, account: str | None = None) -> int | None:
        """Count a login attempt of ``key`` (account + client) before its password is checked.

        None: go ahead (the attempt is counted as a failure until ``login_succeeded`` clears it).
        Otherwise the seconds to wait. The row is inserted if new, then incremented only while no wait
        is running, in one transaction: parallel attempts queue on the row (PostgreSQL's row lock,
        SQLite's write lock), so a burst can never get more than ``free_failures`` checks through."""
        at = now()
        t = login_throttle.c
        armed = False
        with self.write() as conn:
            conn.execute(
                self.throttle_insert, {"key": key, "failures": 0, "updated_at": at, "account": account}
            )
            failures = conn.execute(
                update(login_throttle)
                .where(t.key == key, (t.wait_until.is_(None)) | (t.wait_until <= at))
                .values(failures=t.failures + 1, updated_at=at)
                .returning(t.failures)
            ).scalar()
            if failures is None:
                until = aware(conn.execute(select(t.wait_until).where(t.key == key)).scalar())
                return max(1, math.ceil((until - at).total_seconds())) if until else 1
            if failures >= rules.free_failures:
                wait = min(rules.first_wait * 2 ** (failures - rules.free_failures), rules.max_wait)
                conn.execute(update(login_throttle).where(t.key == key).values(wait_until=at + wait))
                armed = True
        if armed:  # counted once committed
            LOGIN_LOCKOUTS.inc()
        return None

    def rate_hit(self, key: str, limit: int, window: timedelta) -> int | None:
        """Count one request of ``key`` in its fixed window (``login_throttle`` rows with no account).

        None: within ``limit``; otherwise the seconds until the window ends. Counted in one transaction on
        the shared table, so every node and worker sees the same count. A key's row starts a new window
        when the old one has ended; rows idle for a day go (as after a login)."""
        at = now()
        t = login_throttle.c
        ended = t.wait_until.is_(None) | (t.wait_until <= at)
        with self.write() as conn:
            conn.execute(self.throttle_insert, {"key": key, "failures": 0, "updated_at": at, "account": None})
            count, until = conn.execute(
                update(login_throttle)
                .where(t.key == key)
                .values(
                    failures=case((ended, 1), else_=t.failures + 1),
                    wait_until=case((ended, at + window), else_=t.wait_until),
                    updated_at=at,
                )
                .returning(t.failures, t.wait_until)
            ).one()
            if count == 1:  # a new window: the time to sweep idle rows (an index range on updated_at)
                conn.execute(delete(login_throttle).where(t.updated_at < at - timedelta(days=1)))
        if count <= limit:
            return None
        end = aware(until)
        return max(1, math.ceil((end - at).total_seconds())) if end else 1

    def login_failed(self, learner_id: str | None) -> None:
        """Audit a failed login of an existing account (the throttle counted it already)."""
        if learner_id:
            with self.write() as conn:
                self.audit(conn, learner_id, "login-failed", learner_id, {})

    def login_succeeded(self, learner_id: str, key: str, rules: Login) -> str:
        """Clear the throttle, open a session, purge ended ones; returns the session token (cookie)."""
        token = secrets.token_urlsafe(32)
        at = now()
        s = sessions.c
        with self.write() as conn:
            conn.execute(delete(login_throttle).where(login_throttle.c.key == key))
            conn.execute(delete(sessions).where((s.expires_at <= at) | (s.idle_until <= at)))
            conn.execute(delete(login_throttle).where(login_throttle.c.updated_at < at - timedelta(days=1)))
            conn.execute(
                sessions.insert().values(
                    token_hash=token_hash(token),
                    learner_id=learner_id,
                    created_at=at,
                    expires_at=at + rules.session_ttl,
                    idle_until=at + min(rules.idle_ttl, rules.session_ttl),
                )
            )
            self.audit(conn, learner_id, "login", learner_id, {})
        return token

    def session(self, token: str) -> SessionInfo | None:
        """The session of a cookie, if it is neither past its end nor idle too long (then moved on)."""
        at = now()
        h = token_hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    sessions.c.learner_id,
                    learners.c.role,
                    sessions.c.expires_at,
                    sessions.c.idle_until,
                    identities.c.must_change_password,
                )
                .join(learners, learners.c.id == sessions.c.learner_id)
                .outerjoin(identities, identities.c.learner_id == sessions.c.learner_id)
                .where(sessions.c.token_hash == h)
            ).first()
            conn.rollback()
        if row is None:
            return None
        expires, idle = aware(row[2]), aware(row[3]) or aware(row[2])
        assert expires is not None and idle is not None
        if min(expires, idle) <= at:
            return None
        if idle - at < self.idle_ttl / 2:  # in use: move the idle end on (a write at most every ttl/2)
            idle = min(at + self.idle_ttl, expires)
            with self.write() as conn:
                conn.execute(update(sessions).where(sessions.c.token_hash == h).values(idle_until=idle))
        return SessionInfo(row[0], row[1], expires, idle, bool(row[4]))

    def logout(self, token: str) -> None:
        with self.write() as conn:
            learner_id = conn.execute(
                delete(sessions)
                .where(sessions.c.token_hash == token_hash(token))
                .returning(sessions.c.learner_id)
            ).scalar()
            if learner_id:
                self.audit(conn, learner_id, "logout", learner_id, {})

    def set_role(self, username: str, role: str) -> str | None:
        """Give the account ``username`` (canonical) a role; its learner id, or None when there is none."""
        with self.write() as conn:
            learner_id = conn.execute(
                select(identities.c.learner_id).where(identities.c.username == username)
            ).scalar()
            if learner_id:
                conn.execute(update(learners).where(learners.c.id == learner_id).values(role=role))
                self.audit(conn, "", "set-role", learner_id, {"role": role})
        return learner_id

    def profile(self, learner_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(
                select(
                    learners.c.id,
                    learners.c.role,
                    learners.c.created_at,
                    identities.c.username,
                    identities.c.name,
                    identities.c.org_type,
                    identities.c.organisation,
                    identities.c.province,
                    identities.c.lawful_basis,
                    identities.c.consent_version,
                    identities.c.consent_at,
                    (identities.c.national_id_hmac.is_not(None)).label("has_national_id"),
                )
                .join(identities, identities.c.learner_id == learners.c.id)
                .where(learners.c.id == learner_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    def export(self, learner_id: str) -> dict[str, Any]:
        """Everything held about one learner (PDPA right of access)."""
        out: dict[str, Any] = {"profile": self.profile(learner_id)}
        with self.read() as conn:
            for name, table in (
                ("enrolments", enrolments),
                ("state", learner_state),
                ("grades", grades),
                ("completions", completions),
                ("attempts", attempts),
                ("results", course_results),  # milestones, study time, scores, certificate numbers
            ):
                rows = conn.execute(select(table).where(table.c.learner_id == learner_id)).mappings()
                out[name] = [dict(r) for r in rows]
            out["audit"] = [
                dict(r)
                for r in conn.execute(
                    select(audit_log).where(audit_log.c.actor == learner_id).order_by(audit_log.c.at)
                ).mappings()
            ]
        for rows in out.values():
            for r in rows if isinstance(rows, list) else [rows] if rows else []:
                for k, v in r.items():
                    if isinstance(v, datetime):
                        r[k] = aware(v).isoformat()  # type: ignore[union-attr]
                if "value" in r and isinstance(r["value"], str):
                    r["value"] = json.loads(r["value"])
        return out

    def erase(self, learner_id: str) -> None:
        """PDPA erasure: identity and sessions go; the random id's learning records stay, anonymous."""
        with self.write() as conn:
            # The results keep the organisation type and province (read from the identity before it goes),
            # so the round totals still count them; what describes the person's learning is cleared.
            anonymise_learner(conn, learner_id)
            conn.execute(delete(identities).where(identities.c.learner_id == learner_id))
            conn.execute(delete(sessions).where(sessions.c.learner_id == learner_id))
            # The learner's own state holds what they typed (free-text answers): it goes too. Grades,
            # completions and attempts are numbers under the random id and stay as anonymous records.
            conn.execute(delete(learner_state).where(learner_state.c.learner_id == learner_id))
            conn.execute(
                update(learners).where(learners.c.id == learner_id).values(erased_at=now(), role="erased")
            )
            self.audit(conn, learner_id, "erase", learner_id, {})

    def list_learners(self, offset: int, limit: int) -> tuple[bool, list[dict[str, Any]]]:
        """A page of learners (and whether more follow), with identity and enrolment count."""
        with self.read() as conn:
            n_enrol = (
                select(func.count())
                .select_from(enrolments)
                .where(enrolments.c.learner_id == learners.c.id)
                .scalar_subquery()
            )
            rows = conn.execute(
                select(
                    learners.c.id,
                    learners.c.role,
                    learners.c.created_at,
                    identities.c.username,
                    identities.c.name,
                    identities.c.org_type,
                    identities.c.organisation,
                    identities.c.province,
                    n_enrol.label("enrolments"),
                )
                .outerjoin(identities, identities.c.learner_id == learners.c.id)
                .order_by(learners.c.created_at, learners.c.id)
                .offset(offset)
                .limit(limit + 1)
            ).mappings()
            page = [dict(r) for r in rows]
            return len(page) > limit, page[:limit]

    # ---- what administrators do to accounts (each audited with the admin as actor; never a password)
    def learner_username(self, learner_id: str) -> str | None:
        with self.read() as conn:
            return conn.execute(  # type: ignore[no-any-return]
                select(identities.c.username).where(identities.c.learner_id == learner_id)
            ).scalar()

    def unlock(self, admin_id: str, learner_id: str, account: str) -> int:
        """Clear the login throttle of the account (every client) and its lockout; the rows cleared."""
        with self.write() as conn:
            cleared = conn.execute(delete(login_throttle).where(login_throttle.c.account == account)).rowcount
            conn.execute(
                update(identities)
                .where(identities.c.learner_id == learner_id)
                .values(failed_logins=0, locked_until=None)
            )
            self.audit(conn, admin_id, "admin-unlock", learner_id, {"throttle_rows": cleared})
        return int(cleared or 0)

    def set_temporary_password(
        self, admin_id: str, learner_id: str, password_hash: str, account: str
    ) -> None:
        """A temporary password that must be changed at the next login; the learner's sessions end and the
        throttle is cleared (the learner is told the new password and must be able to use it)."""
        with self.write() as conn:
            conn.execute(
                update(identities)
                .where(identities.c.learner_id == learner_id)
                .values(
                    password_hash=password_hash, must_change_password=True, failed_logins=0, locked_until=None
                )
            )
            conn.execute(delete(sessions).where(sessions.c.learner_id == learner_id))
            conn.execute(delete(login_throttle).where(login_throttle.c.account == account))
            self.audit(conn, admin_id, "admin-temporary-password", learner_id, {})

    def password_hash_of(self, learner_id: str) -> tuple[str, str] | None:
        """(username, password hash) of a learner with an identity."""
        with self.read() as conn:
            row = conn.execute(
                select(identities.c.username, identities.c.password_hash).where(
                    identities.c.learner_id == learner_id
                )
            ).first()
        return (row[0], row[1]) if row is not None else None

    def change_password(self, learner_id: str, password_hash: str, keep_token: str | None) -> int:
        """The learner's new password; every other session of the learner ends. Returns the sessions ended."""
        s = sessions.c
        with self.write() as conn:
            conn.execute(
                update(identities)
                .where(identities.c.learner_id == learner_id)
                .values(password_hash=password_hash, must_change_password=False)
            )
            others = delete(sessions).where(s.learner_id == learner_id)
            if keep_token:
                others = others.where(s.token_hash != token_hash(keep_token))
            ended = conn.execute(others).rowcount
            self.audit(conn, learner_id, "password-change", learner_id, {"sessions_ended": ended})
        return int(ended or 0)

    def learner_results(self, admin_id: str, learner_id: str) -> dict[str, Any] | None:
        """What an admin may see of one learner's learning: identity summary, enrolments with progress,
        course results. The view itself is audited (who looked at whom, when)."""
        profile = self.profile(learner_id)
        with self.write() as conn:
            exists = conn.execute(select(learners.c.id).where(learners.c.id == learner_id)).scalar()
            if exists is None:
                return None
            done = (
                select(func.count())
                .select_from(completions)
                .where(
                    completions.c.learner_id == enrolments.c.learner_id,
                    completions.c.course_id == enrolments.c.course_id,
                    completions.c.completion >= 1.0,
                )
                .scalar_subquery()
            )
            enrolled = [
                dict(r)
                for r in conn.execute(
                    select(
                        enrolments.c.course_id,
                        enrolments.c.created_at,
                        enrolments.c.last_seen,
                        enrolments.c.study_seconds,
                        done.label("blocks_completed"),
                    )
                    .where(enrolments.c.learner_id == learner_id)
                    .order_by(enrolments.c.created_at, enrolments.c.course_id)
                ).mappings()
            ]
            results = [
                dict(r)
                for r in conn.execute(
                    select(course_results)
                    .where(course_results.c.learner_id == learner_id)
                    .order_by(course_results.c.course_id)
                ).mappings()
            ]
            self.audit(conn, admin_id, "admin-view-results", learner_id, {})
        for rows in (enrolled, results):
            for r in rows:
                for k, v in r.items():
                    if isinstance(v, datetime):
                        r[k] = aware(v)
        return {"learner_id": learner_id, "profile": profile, "enrolments": enrolled, "results": results}

    def audit_about(self, learner_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest audit entries whose subject is ``learner_id`` (for the admin's learner page)."""
        with self.read() as conn:
            rows = conn.execute(
                select(
                    audit_log.c.at,
                    audit_log.c.actor,
                    identities.c.username.label("actor_name"),
                    audit_log.c.action,
                    audit_log.c.detail,
                )
                .outerjoin(identities, identities.c.learner_id == audit_log.c.actor)
                .where(audit_log.c.target == learner_id)
                .order_by(audit_log.c.id.desc())
                .limit(limit)
            ).mappings()
            return [{**r, "at": aware(r["at"])} for r in rows]

    # ---- audit
    def audit(self, conn: Connection, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        conn.execute(
            audit_log.insert().values(
                at=now(),
                actor=actor,
                action=action,
                target=target,
                detail=json.dumps(detail, ensure_ascii=False),
            )
        )
