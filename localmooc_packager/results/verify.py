"""Certificate verification: a certificate number -> what a public verification page may show.

Only what is needed to verify is returned: the status, the course, the date and hours, and the holder's name
while the holder's identity exists. The route that shows it is a few lines on top of :func:`verify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Connection, select

from .certno import normalise
from .schema import course_results, identities


class Status(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    HOLDER_ERASED = "issued-holder-erased"  # issued and not revoked; the holder's identity was erased (PDPA)
    NOT_FOUND = "not-found"
    MALFORMED = "malformed"  # not a certificate number at all (shape or check character wrong)


MESSAGES_TH = {
    Status.VALID: "เกียรติบัตรนี้ออกโดยระบบและยังมีผลใช้ได้",
    Status.REVOKED: "เกียรติบัตรนี้ถูกเพิกถอนแล้ว",
    Status.HOLDER_ERASED: "เกียรติบัตรนี้ออกโดยระบบ แต่ข้อมูลส่วนบุคคลของผู้ได้รับถูกลบตามคำขอแล้ว",
    Status.NOT_FOUND: "ไม่พบเกียรติบัตรเลขที่นี้",
    Status.MALFORMED: "เลขที่เกียรติบัตรไม่ถูกต้อง กรุณาตรวจสอบการพิมพ์",
}


@dataclass(frozen=True)
class Verification:
    status: Status
    certificate_no: str | None = None  # canonical form
    course_id: str | None = None
    certified_at: datetime | None = None  # UTC
    credited_hours: float | None = None
    holder_name: str | None = None  # only while valid and the identity exists
    revoked_at: datetime | None = None

    @property
    def message_th(self) -> str:
        return MESSAGES_TH[self.status]


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def verify(conn: Connection, number: str) -> Verification:
    """The status of certificate ``number`` as typed or scanned (case, dashes and spaces do not matter)."""
    canonical = normalise(number)
    if canonical is None:
        return Verification(Status.MALFORMED)
    r = course_results
    row = conn.execute(
        select(
            r.c.course_id,
            r.c.certified_at,
            r.c.credited_hours,
            r.c.revoked_at,
            r.c.erased,
            identities.c.name,
        )
        .select_from(r.outerjoin(identities, identities.c.learner_id == r.c.learner_id))
        .where(r.c.certificate_no == canonical)
    ).first()
    if row is None:
        return Verification(Status.NOT_FOUND, canonical)
    common = {
        "certificate_no": canonical,
        "course_id": row.course_id,
        "certified_at": _utc(row.certified_at),
        "credited_hours": row.credited_hours,
    }
    if row.revoked_at is not None:
        return Verification(Status.REVOKED, revoked_at=_utc(row.revoked_at), **common)
    if row.erased or row.name is None:
        return Verification(Status.HOLDER_ERASED, **common)
    return Verification(Status.VALID, holder_name=row.name, **common)
