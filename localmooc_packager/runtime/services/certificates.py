"""Certificates and results for people: the learner's PDF, the public verification, the admin's revocation and
the learner's "my courses" (status, what is missing, hours credited per evaluation round).

The PDF is ``results/certificate.render`` of the stored row (number, ``certified_at``, hours) and the
organisation's template, so a download again gives the same certificate, byte for byte. The rows are written
by the runtime when learning happens; this service never creates or changes a result, it only revokes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from ...results.certificate import DEFAULT_TITLE, Certificate, CertificateTemplate, load_template, render
from ...results.certno import normalise
from ...results.rounds import Round, round_of
from ...results.verify import Status, Verification
from ..blocks import LoadedCourse
from ..errors import Forbidden, Invalid, NotFound
from ..settings import Settings
from ..storage import SessionInfo
from ..storage.certificates import CertificateStorage
from . import Runner
from .courses import Courses
from .progress import Progress
from .results import CourseResult, rule_text, rules_status

# Texts of these pages (kept here, not in i18n.T, which several parts of the runtime edit).
TEXT: dict[str, dict[str, str]] = {
    "th": {
        "my_courses": "หลักสูตรของฉัน",
        "no_enrolments": "ยังไม่ได้ลงทะเบียนเรียนหลักสูตรใด",
        "status": "สถานะ",
        "in_progress": "กำลังเรียน",
        "completed": "เรียนครบแล้ว ยังไม่ได้รับเกียรติบัตร",
        "certified": "ได้รับเกียรติบัตรแล้ว",
        "revoked": "เกียรติบัตรถูกเพิกถอน",
        "missing": "สิ่งที่ยังขาด",
        "hours_by_round": "ชั่วโมงที่ได้รับการรับรองตามรอบการประเมิน",
        "round": "รอบการประเมิน",
        "credited_hours": "ชั่วโมงที่ได้รับ",
        "no_hours": "ยังไม่มีชั่วโมงที่ได้รับการรับรอง",
        "certificate": "เกียรติบัตร",
        "download": "ดาวน์โหลดเกียรติบัตร (PDF)",
        "certified_on": "ได้รับเมื่อ",
        "number": "เลขที่",
        "verify_link": "หน้าตรวจสอบ",
        "not_certified": "ท่านยังไม่ได้รับเกียรติบัตรของหลักสูตรนี้ ดูสิ่งที่ยังขาดได้ที่หน้า หลักสูตรของฉัน",
        "certificate_revoked": "เกียรติบัตรนี้ถูกเพิกถอนแล้ว จึงดาวน์โหลดไม่ได้",
        "verify_title": "ตรวจสอบเกียรติบัตร",
        "verify_help": "พิมพ์เลขที่เกียรติบัตร (ตัวพิมพ์เล็กหรือใหญ่ มีหรือไม่มีขีดก็ได้)",
        "verify_button": "ตรวจสอบ",
        "holder": "ผู้ได้รับ",
        "course": "หลักสูตร",
        "hours": "จำนวนชั่วโมง",
        "date": "วันที่ออก",
        "revoked_on": "เพิกถอนเมื่อ",
        "certificates": "เกียรติบัตรที่ออกแล้ว",
        "search": "ค้นหา",
        "all_courses": "ทุกหลักสูตร",
        "username": "ชื่อผู้ใช้ของผู้เรียน",
        "reason": "เหตุผลในการเพิกถอน",
        "revoke": "เพิกถอน",
        "none_found": "ไม่พบเกียรติบัตร",
        "erased": "ผู้ถือถูกลบข้อมูล",
        "valid": "ใช้ได้",
        "reason_required": "กรุณาระบุเหตุผลในการเพิกถอน",
    },
    "en": {
        "my_courses": "My courses",
        "no_enrolments": "You have not enrolled in any course yet",
        "status": "Status",
        "in_progress": "In progress",
        "completed": "Content completed, no certificate yet",
        "certified": "Certified",
        "revoked": "Certificate revoked",
        "missing": "Still missing",
        "hours_by_round": "Hours credited per evaluation round",
        "round": "Evaluation round",
        "credited_hours": "Hours credited",
        "no_hours": "No hours credited yet",
        "certificate": "Certificate",
        "download": "Download the certificate (PDF)",
        "certified_on": "Certified on",
        "number": "Number",
        "verify_link": "Verification page",
        "not_certified": "You have no certificate for this course yet; see what is missing on My courses",
        "certificate_revoked": "This certificate was revoked and cannot be downloaded",
        "verify_title": "Verify a certificate",
        "verify_help": "Type the certificate number (any case, dashes optional)",
        "verify_button": "Verify",
        "holder": "Holder",
        "course": "Course",
        "hours": "Hours",
        "date": "Issued on",
        "revoked_on": "Revoked on",
        "certificates": "Certificates issued",
        "search": "Search",
        "all_courses": "All courses",
        "username": "Learner's username",
        "reason": "Reason for revocation",
        "revoke": "Revoke",
        "none_found": "No certificates found",
        "erased": "holder erased",
        "valid": "valid",
        "reason_required": "Please give the reason for the revocation",
    },
}

VERIFY_EN = {
    Status.VALID: "This certificate was issued by this system and is valid",
    Status.REVOKED: "This certificate has been revoked",
    Status.HOLDER_ERASED: "This certificate was issued by this system; the holder's personal data has been "
    "erased at their request",
    Status.NOT_FOUND: "No certificate has this number",
    Status.MALFORMED: "This is not a valid certificate number; please check the typing",
}


def texts(lang: str, word: str = DEFAULT_TITLE) -> dict[str, str]:
    """The texts in ``lang``; in Thai with ``word`` for "certificate", the word the PDF is titled with (the
    course's ``certificate.title``, else the organisation template's title; default เกียรติบัตร)."""
    tx = TEXT.get(lang, TEXT["th"])
    if lang != "th" or word == DEFAULT_TITLE:
        return tx
    return {k: v.replace(DEFAULT_TITLE, word) for k, v in tx.items()}


def template_for(settings: Settings) -> CertificateTemplate:
    """The organisation's template (``--certificate-template``), its QR pointed at ``--public-url`` when
    that is set. A bad template is a UsageError naming the file, raised when the server starts."""
    base = load_template(settings.certificate_template) if settings.certificate_template else None
    template = base or CertificateTemplate()
    if settings.public_url:
        template = replace(template, verify_base_url=settings.public_url.rstrip("/"))
    return template


@dataclass
class CourseStatus:
    """One enrolled course on the learner's "my courses" page."""

    course_id: str
    title: str
    hours: float
    status: str  # in_progress | completed | certified | revoked
    missing: list[str] = field(default_factory=list)
    completion: float = 0.0
    study_minutes: int = 0
    certified_at: datetime | None = None
    revoked_at: datetime | None = None
    certificate_no: str | None = None
    round: Round | None = None
    labels: dict[str, str] = field(default_factory=dict)  # the page's texts with this course's word


@dataclass
class MyCourses:
    courses: list[CourseStatus]
    rounds: list[tuple[Round, float]]  # newest first: hours credited in each round


class Certificates:
    def __init__(
        self,
        settings: Settings,
        courses: Courses,
        progress: Progress,
        storage: CertificateStorage,
        run: Runner,
    ) -> None:
        self.courses = courses
        self.progress = progress
        self.storage = storage
        self.run = run
        self.template = template_for(settings)
        # Without --public-url or a template naming the site, the QR opens the address the learner used.
        self.fixed_base = bool(settings.public_url or settings.certificate_template)

    def word(self, course_id: str | None = None) -> str:
        """What the certificate of ``course_id`` is called, as its PDF's title says it: the course's
        ``certificate.title``, else the template's title (without a course: the template's)."""
        c = self.courses.courses.get(course_id or "")
        return (
            (course_certificate_title(c) if c is not None else None) or self.template.title or DEFAULT_TITLE
        )

    # ---- the learner's certificate
    async def pdf(self, c: LoadedCourse, s: SessionInfo, base_url: str, lang: str) -> tuple[str, bytes]:
        """(number, PDF bytes) of the learner's certificate for ``c``; Forbidden with a clear message
        while there is none (not certified yet, or revoked)."""
        await self.courses.visible_or_404(c, s)
        row = await self.run(self.storage.result, s.learner_id, c.id)
        tx = texts(lang, self.word(c.id))
        if row is None or row["certified_at"] is None or not row["certificate_no"]:
            raise Forbidden("not_certified", tx["not_certified"])
        if row["revoked_at"] is not None:
            raise Forbidden("certificate_revoked", tx["certificate_revoked"])
        template = self.template
        if not self.fixed_base:
            template = replace(template, verify_base_url=base_url.rstrip("/"))
        cert = Certificate(
            number=row["certificate_no"],
            learner_name=row["name"] or "",
            course_title=c.meta["title"],
            credited_hours=row["credited_hours"] if row["credited_hours"] is not None else c.meta["hours"],
            certified_at=row["certified_at"],
            course_certificate_title=course_certificate_title(c),
        )
        # Shaping and drawing take tens of milliseconds of CPU: off the event loop.
        data = await run_in_threadpool(render, cert, template)
        return row["certificate_no"], data

    # ---- public verification
    async def verify(self, number: str) -> Verification:
        return await self.run(self.storage.verify, number)  # type: ignore[no-any-return]

    def course_title(self, course_id: str | None) -> str:
        c = self.courses.courses.get(course_id or "")
        return c.meta["title"] if c is not None else (course_id or "")

    # ---- admin
    async def issued(self, course_id: str, username: str, limit: int = 200) -> list[dict[str, Any]]:
        from ..security import canonical_username

        user = canonical_username(username) if username.strip() else None
        return await self.run(self.storage.issued, course_id or None, user, limit)  # type: ignore[no-any-return]

    async def revoke(self, admin: SessionInfo, number: str, reason: str, lang: str) -> str:
        """Revoke a certificate; its canonical number. NotFound for an unknown number, Invalid without a
        reason (the audit log and the verification page keep it)."""
        canonical = normalise(number)
        if canonical is None:
            raise NotFound()
        reason = " ".join(reason.split())
        if not reason:
            raise Invalid("reason_required", texts(lang)["reason_required"])
        if await self.run(self.storage.revoke, admin.learner_id, canonical, reason) is None:
            raise NotFound()
        return canonical

    # ---- the learner's courses
    async def my_courses(self, s: SessionInfo, lang: str) -> MyCourses:
        rows = await self.run(self.courses.store.results_of, s.learner_id)
        results = {r["course_id"]: r for r in rows}
        enrolled = await self.run(self.courses.store.enrolled_courses, s.learner_id)
        out: list[CourseStatus] = []
        for course_id in enrolled:
            c = self.courses.courses.get(course_id)
            if c is None:  # a course no longer served: its result still counts below
                continue
            out.append(await self._status(c, s, results.get(course_id), lang))
        rounds: dict[Round, float] = {}
        for r in results.values():
            if r["certified_at"] is not None and r["revoked_at"] is None:
                key = round_of(r["certified_at"])
                rounds[key] = rounds.get(key, 0.0) + float(r["credited_hours"] or 0.0)
        return MyCourses(out, sorted(rounds.items(), reverse=True))

    async def _status(
        self, c: LoadedCourse, s: SessionInfo, row: dict[str, Any] | None, lang: str
    ) -> CourseStatus:
        p = await self.progress.of(c, s, lang)
        result = CourseResult.of(row) if row is not None else None
        st = CourseStatus(
            course_id=c.id,
            title=c.meta["title"],
            hours=float(c.meta["hours"] or 0),
            status="in_progress",
            completion=p.completion,
            study_minutes=result.study_minutes if result else p.study_minutes,
            labels=texts(lang, self.word(c.id)),
        )
        if result is not None and result.certified_at is not None:
            st.certified_at = result.certified_at
            st.certificate_no = result.certificate_no
            st.round = round_of(result.certified_at)
            st.revoked_at = result.revoked_at
            st.status = "revoked" if result.revoked_at is not None else "certified"
            return st
        if result is not None and result.content_completed_at is not None:
            st.status = "completed"
        # What is missing, as the progress page says it (services/results.py: one wording of the rules).
        for rule in rules_status(c, result, p.completed_blocks):
            what, detail = rule_text(rule, lang)
            st.missing.append(f"{what}: {detail}" if detail else what)
        return st


def course_certificate_rules(c: LoadedCourse) -> dict[str, Any]:
    rules = getattr(c.tree.course, "certificate", None)
    return dict(rules) if isinstance(rules, dict) else {}


def course_certificate_title(c: LoadedCourse) -> str | None:
    title = course_certificate_rules(c).get("title")
    return str(title) if title else None


def verify_message(v: Verification, lang: str, word: str = DEFAULT_TITLE) -> str:
    """The verification's sentence; in Thai with the certificate's own word (``Certificates.word``)."""
    return v.message_th.replace(DEFAULT_TITLE, word) if lang == "th" else VERIFY_EN[v.status]
