"""Certificates in SQL: a learner's results, public verification, the admin's list and revocation.

The rows are ``course_results`` (``results/schema.py``), written by the runtime when a learner's state
changes; this part only reads them, and sets the revocation. Every lookup is by an index: the primary key
(learner, course) or ``ix_course_results_certificate_no`` for the public page, so that page costs one
index probe whatever is typed into it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ...results.schema import course_results
from ...results.verify import Verification, verify
from .schema import aware, identities, now


def _aware_row(row: Any) -> dict[str, Any]:
    return {k: aware(v) if isinstance(v, datetime) else v for k, v in row._mapping.items()}


class CertificateStorage:
    """Over a ``Store`` (its transactions and its audit log)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def result(self, learner_id: str, course_id: str) -> dict[str, Any] | None:
        """The learner's result in one course, with the name from the identity (None once erased)."""
        r = course_results.c
        with self.store.read() as conn:
            row = conn.execute(
                select(course_results, identities.c.name)
                .select_from(course_results.outerjoin(identities, identities.c.learner_id == r.learner_id))
                .where(r.learner_id == learner_id, r.course_id == course_id)
            ).first()
        return _aware_row(row) if row is not None else None

    def verify(self, number: str) -> Verification:
        with self.store.read() as conn:
            return verify(conn, number)

    def issued(self, course_id: str | None, username: str | None, limit: int) -> list[dict[str, Any]]:
        """Certificates issued, newest first, for one course and/or one learner (canonical username);
        erased holders are listed without a name."""
        r = course_results.c
        q = (
            select(
                r.certificate_no,
                r.course_id,
                r.certified_at,
                r.credited_hours,
                r.revoked_at,
                r.revoked_reason,
                r.erased,
                identities.c.name,
                identities.c.username,
            )
            .select_from(course_results.outerjoin(identities, identities.c.learner_id == r.learner_id))
            .where(r.certificate_no.is_not(None))
            .order_by(r.certified_at.desc(), r.certificate_no)
            .limit(limit)
        )
        if course_id:
            q = q.where(r.course_id == course_id)
        if username:
            q = q.where(identities.c.username == username)
        with self.store.read() as conn:
            return [_aware_row(row) for row in conn.execute(q)]

    def revoke(self, actor: str, number: str, reason: str) -> datetime | None:
        """Revoke certificate ``number`` (canonical) with ``reason``, audited in the same transaction.
        Returns when it was revoked: now, or the earlier time when it already was; None if no such number."""
        r = course_results.c
        at = now()
        with self.store.write() as conn:
            row = conn.execute(
                select(r.learner_id, r.course_id, r.revoked_at).where(r.certificate_no == number)
            ).first()
            if row is None:
                return None
            if row.revoked_at is not None:
                return aware(row.revoked_at)
            conn.execute(
                update(course_results)
                .where(r.certificate_no == number, r.revoked_at.is_(None))
                .values(revoked_at=at, revoked_reason=reason[:200])
            )
            self.store.audit(
                conn,
                actor,
                "certificate-revoked",
                row.learner_id,
                {"certificate_no": number, "course_id": row.course_id, "reason": reason[:200]},
            )
        return at
