"""Learners' course results: the service API that pages, certificates and reports build on.

The runtime writes ``course_results`` itself, in the transaction of each unit view and handler call
(``storage/results.py``, rules in ``completion.py``); this module only reads and explains. Stable names
(other parts build on them): :class:`CourseResult`, :func:`result`, :func:`results_for_learner`,
:func:`rules_status`, :func:`rule_text`, :func:`is_passed`.

The functions take the ``Store`` and are synchronous (database calls): from an async route, run them with
the services' ``Runner`` (``await web.run(results.result, web.store, learner_id, course_id)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..completion import MissingRule, grading_passed, missing
from ..storage import Store
from ..storage.results import rules_for

__all__ = [
    "CourseResult",
    "MissingRule",
    "is_passed",
    "result",
    "results_for_learner",
    "rule_text",
    "rules_for",
    "rules_status",
]


@dataclass(frozen=True)
class CourseResult:
    """One learner's result in one course (``course_results``); times are aware datetimes in UTC."""

    learner_id: str
    course_id: str
    enrolled_at: datetime | None
    content_completed_at: datetime | None
    post_test_passed_at: datetime | None
    survey_done_at: datetime | None
    certified_at: datetime | None  # every certificate rule met, first time
    study_seconds: int
    last_active_at: datetime | None
    post_test_score: float | None  # percent, best
    grade: float | None  # percent, best
    credited_hours: float | None  # set when certified
    certificate_no: str | None  # set when certified
    revoked_at: datetime | None
    erased: bool

    @property
    def certified(self) -> bool:
        """A certificate was earned and is not revoked."""
        return self.certified_at is not None and self.revoked_at is None

    @property
    def study_minutes(self) -> int:
        return self.study_seconds // 60

    @classmethod
    def of(cls, row: dict[str, Any]) -> CourseResult:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


def result(store: Store, learner_id: str, course_id: str) -> CourseResult | None:
    """The learner's result in the course, or None (never enrolled)."""
    row = store.result(learner_id, course_id)
    return CourseResult.of(row) if row is not None else None


def results_for_learner(store: Store, learner_id: str) -> list[CourseResult]:
    """Every course result of the learner, by course id."""
    return [CourseResult.of(r) for r in store.results_of(learner_id)]


def rules_status(course: Any, row: CourseResult | None, done_blocks: int | None = None) -> list[MissingRule]:
    """The course's rules that ``row`` does not meet yet, in display order; empty when all are met.

    ``course`` is a ``LoadedCourse``. ``done_blocks`` (completed html/video/quiz blocks, when the caller
    knows it) fills in what the all-content rule has so far."""
    values = row.__dict__ if row is not None else None
    return missing(rules_for(course), values, done_blocks)


def is_passed(course: Any, row: CourseResult | None) -> bool:
    """Whether "passed" (ผ่าน) may be shown: every rule of the course is met (for a course with a
    certificate, its certificate rules; without one, the course's grading)."""
    if row is None:
        return False
    rules = rules_for(course)
    if rules.certificate:
        return row.certified_at is not None or not rules_status(course, row)
    return grading_passed(rules, row.__dict__)


_TEXT = {
    "th": {
        "all-content": "เรียนเนื้อหาให้ครบทุกส่วน",
        "post-test": "สอบผ่านแบบทดสอบหลังเรียน",
        "pass": "ได้คะแนนถึงเกณฑ์ผ่าน",
        "min-minutes": "ใช้เวลาเรียนให้ครบ",
        "survey": "ตอบแบบประเมินความพึงพอใจ",
        "blocks": "ทำแล้ว {have} จาก {need} ส่วน",
        "percent": "ต้องได้อย่างน้อย {need}% (ตอนนี้ {have}%)",
        "percent-none": "ต้องได้อย่างน้อย {need}% (ยังไม่ได้ทำ)",
        "minutes": "ต้องเรียนอย่างน้อย {need} นาที (ตอนนี้ {have} นาที)",
    },
    "en": {
        "all-content": "Complete every part of the content",
        "post-test": "Pass the post-test",
        "pass": "Reach the passing grade",
        "min-minutes": "Study for the minimum time",
        "survey": "Answer the satisfaction survey",
        "blocks": "{have} of {need} parts done",
        "percent": "at least {need}% needed (now {have}%)",
        "percent-none": "at least {need}% needed (not taken yet)",
        "minutes": "at least {need} minutes needed (now {have})",
    },
}


def _n(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def rule_text(rule: MissingRule, lang: str = "th") -> tuple[str, str]:
    """(what the rule asks, what is missing) for people, in ``lang`` ("th" or "en")."""
    tr = _TEXT["en" if lang == "en" else "th"]
    detail = ""
    if rule.rule == "all-content" and rule.have is not None:
        detail = tr["blocks"].format(have=_n(rule.have), need=_n(rule.need))
    elif rule.rule in ("post-test", "pass"):
        key = "percent" if rule.have is not None else "percent-none"
        detail = tr[key].format(have=_n(rule.have), need=_n(rule.need))
    elif rule.rule == "min-minutes":
        detail = tr["minutes"].format(have=_n(rule.have), need=_n(rule.need))
    return tr[rule.rule], detail
