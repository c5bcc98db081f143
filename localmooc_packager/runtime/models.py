"""The JSON API's request and answer models (pydantic): what /openapi.json documents."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ErrorItem(BaseModel):
    field: str = Field(description="The input the problem is about ('' for the whole request)")
    code: str = Field(description="Stable machine-readable code, e.g. national-id-invalid")
    message: str = Field(description="Message for people, in the requested language")


class ErrorOut(BaseModel):
    detail: str | list[ErrorItem]


class CsrfOut(BaseModel):
    csrf_token: str = Field(description="Send back as the X-CSRFToken header on every POST/DELETE")


class RegisterIn(BaseModel):
    username: str = Field(examples=["somchai.k"])
    password: str = Field(examples=["a long pass phrase"])
    name: str = Field(examples=["สมชาย ใจดี"])
    national_id: str | None = Field(default=None, description="Optional; only a keyed HMAC is stored")
    org_type: Literal["dla-central", "dla-provincial", "local-admin-org", "public"]
    organisation: str = ""
    province: str = Field(default="", description="One of the 77 provinces (Thai name), see /api/options")
    consent: bool = Field(default=False, description="Required for org_type=public (PDPA s.19)")


class LoginIn(BaseModel):
    username: str
    password: str


class LearnerOut(BaseModel):
    id: str
    username: str
    name: str
    role: str
    org_type: str
    organisation: str
    province: str
    lawful_basis: str
    consent_version: str | None
    has_national_id: bool


class Option(BaseModel):
    key: str
    th: str
    en: str


class OptionsOut(BaseModel):
    provinces: list[Option]
    org_types: list[Option]
    categories: list[Option]
    privacy_notice_version: str


class CourseSummary(BaseModel):
    id: str
    title: str
    short_description: str
    category: str
    category_name: str
    hours: float
    image: str
    enrolled: bool
    published: bool
    standing: str = Field(
        default="",
        description="The learner's standing: '' (not enrolled), enrolled, completed (all content), "
        "finished (every rule met), certified, revoked",
    )


class CategoryOut(BaseModel):
    key: str
    name: str
    courses: list[CourseSummary]


class UnitOut(BaseModel):
    id: str
    title: str
    section: str


class CourseDetail(CourseSummary):
    description: str
    pass_threshold: float
    start: str
    end: str
    dates_be: str = Field(
        default="", description="Course dates for people, Buddhist Era (19 มี.ค. 2564 - ...)"
    )
    enrolment_be: str = Field(
        default="", description="Enrolment window for people, Buddhist Era ('' = always)"
    )
    enrolment_open: bool = True
    units: list[UnitOut]


class EnrolmentOut(BaseModel):
    course_id: str
    enrolled: bool
    last_unit: str | None
    resume_unit: str


class UnitView(BaseModel):
    course_id: str
    unit_id: str
    title: str
    index: int
    total: int
    prev: str | None
    next: str | None
    html: str = Field(description="The unit's student_view (blocks wrapped in div.xblock[data-init])")
    css: list[str]
    js: list[str]


class QuizProgress(BaseModel):
    id: str
    title: str
    role: str
    counts: bool = Field(description="Counts toward the course grade")
    earned: float | None
    possible: float
    score: float | None
    due: str = Field(default="", description="Due date (ISO) from the course; '' when none")
    due_be: str = Field(default="", description="The due date for people, Buddhist Era")


class RuleOut(BaseModel):
    """A completion rule the learner has not met yet, and what is missing."""

    rule: str = Field(description="all-content | post-test | pass | min-minutes | survey")
    need: float | None = Field(description="What the rule needs: blocks, percent or minutes (none: yes/no)")
    have: float | None = Field(description="What the learner has so far, in the same unit (none: unknown)")
    text: str = Field(description="The rule, for people")
    detail: str = Field(description="What is missing, for people ('' for a yes/no rule)")


class ProgressOut(BaseModel):
    course_id: str
    completion: float = Field(description="Share of html/video/quiz blocks completed, 0-1")
    completed_blocks: int
    total_blocks: int
    quizzes: list[QuizProgress]
    grade: float
    passed: bool = Field(description="Every rule of the course is met (its certificate rules, if it has any)")
    grade_passed: bool = Field(description="The course's grading alone passed (post-test or course grade)")
    pass_threshold: float
    study_minutes: int = Field(description="Study time from activity, idle gaps capped at 5 minutes")
    min_minutes: int = Field(default=0, description="Study time the certificate needs (0: none)")
    certificate: bool = Field(default=False, description="The course issues a certificate")
    certified_at: datetime | None = Field(default=None, description="When every certificate rule was met")
    certified_be: str = Field(default="", description="That date for people, Buddhist Era")
    certificate_no: str | None = None
    missing: list[RuleOut] = Field(default_factory=list, description="Rules not met yet, in order")


class AdminLearner(BaseModel):
    id: str
    role: str
    username: str | None
    name: str | None
    org_type: str | None
    organisation: str | None
    province: str | None
    enrolments: int
    created_at: str


class AdminLearners(BaseModel):
    learners: list[AdminLearner]
    more: bool


class PublishIn(BaseModel):
    published: bool


class OkOut(BaseModel):
    ok: bool = True
