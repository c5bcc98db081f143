"""The xAPI 1.0.3 statement catalogue: pure functions from a runtime event to one statement (a dict).

Every builder takes the same first arguments (the site, the opaque learner id, the course) and returns a
statement that an LRS accepts as is. Rules that hold for every statement:

- The actor is an account on the site (``homePage`` = the site's base URL, ``name`` = the runtime's random
  learner id). Never a national id, a name or an e-mail: the LRS is outside the runtime's erasure reach.
- Verbs come from the ADL vocabulary (the one cmi5 uses) where one fits; ``earned`` from the TinCan registry
  (ADL has none for certificates). Displays are Thai and English language maps.
- Object ids are IRIs under the site's base URL: ``/courses/<id>``, ``/courses/<id>/units/<id>``,
  ``/courses/<id>/blocks/<id>``, ``/courses/<id>/certificate/<serial>``.
- The statement id is a UUID v5 over (kind, learner, object, sequence), so the same event built twice has the
  same id and a redelivery is a duplicate the LRS ignores rather than a second record.
- ``context.registration`` is a UUID v5 per enrolment (learner, course); ``contextActivities.grouping`` names
  the course for every statement below the course.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# A fixed namespace: statement and registration ids must stay the same across releases and machines.
NAMESPACE = uuid.UUID("5f0b8f3e-7d5a-5c1e-9a61-4c6f63616c6d")

LANGUAGES = ("th-TH", "en-US")
PLATFORM = "localmooc"

ADL = "http://adlnet.gov/expapi/verbs/"
ACTIVITY = "http://adlnet.gov/expapi/activities/"

# kind -> (verb IRI, Thai display, English display)
VERBS: dict[str, tuple[str, str, str]] = {
    "registered": (ADL + "registered", "ลงทะเบียนเรียน", "registered"),
    "launched": (ADL + "launched", "เริ่มเรียน", "launched"),
    "experienced": (ADL + "experienced", "เข้าชม", "experienced"),
    "answered": (ADL + "answered", "ตอบคำถาม", "answered"),
    "completed": (ADL + "completed", "เรียนจบ", "completed"),
    "passed": (ADL + "passed", "สอบผ่าน", "passed"),
    "failed": (ADL + "failed", "สอบไม่ผ่าน", "failed"),
    # ADL has no verb for receiving a credential; the TinCan registry's "earned" is the one LRS analytics
    # already query for certificates (Open edX Aspects' ClickHouse views, for one).
    "earned": ("http://id.tincanapi.com/verb/earned", "ได้รับ", "earned"),
}

ACTIVITY_TYPES = {
    "course": ACTIVITY + "course",
    "unit": ACTIVITY + "lesson",
    "question": ACTIVITY + "cmi.interaction",
    "assessment": ACTIVITY + "assessment",
    "video": ACTIVITY + "media",
    "certificate": "http://id.tincanapi.com/activitytype/certificate",
}

INTERACTION_TYPES = ("true-false", "choice", "fill-in", "long-fill-in", "numeric", "other")

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_LEARNER = re.compile(r"[A-Za-z0-9_-]{8,64}")
_NATIONAL_ID = re.compile(r"\d{13}")


@dataclass(frozen=True)
class Site:
    """The runtime's public address (no trailing slash) and the language its learners use."""

    base_url: str
    language: str = "th-TH"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", self.base_url) or self.base_url.endswith("/"):
            msg = (
                f"site base URL must be http(s)://host[/path] without a trailing slash, not {self.base_url!r}"
            )
            raise ValueError(msg)


@dataclass(frozen=True)
class Activity:
    """A course, unit or block as an xAPI object: its kind, ASCII id and names by language."""

    kind: str
    id: str
    name: Mapping[str, str]
    # Only for kind "question": the cmi.interaction shape.
    interaction_type: str = ""
    choices: Sequence[tuple[str, Mapping[str, str]]] = field(default_factory=tuple)
    correct: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in ACTIVITY_TYPES or self.kind == "certificate":
            raise ValueError(f"unknown activity kind {self.kind!r}")
        if not _ID.fullmatch(self.id):
            raise ValueError(f"{self.kind} id must be ASCII letters, digits, '.', '_' or '-': {self.id!r}")
        _check_names(self.name, f"{self.kind} {self.id}")
        if self.kind == "question":
            if self.interaction_type not in INTERACTION_TYPES:
                raise ValueError(f"question {self.id}: interaction type must be one of {INTERACTION_TYPES}")
            for choice_id, names in self.choices:
                if not _ID.fullmatch(choice_id):
                    raise ValueError(f"question {self.id}: choice id {choice_id!r} is not an ASCII id")
                _check_names(names, f"question {self.id} choice {choice_id}")
        elif self.interaction_type or self.choices or self.correct:
            raise ValueError(f"{self.kind} {self.id}: only questions carry an interaction shape")


@dataclass(frozen=True)
class Score:
    """Points earned of points possible; ``scaled`` is derived (xAPI wants it in [-1, 1])."""

    raw: float
    max: float
    min: float = 0.0

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.raw, self.max, self.min)):
            raise ValueError("score values must be finite numbers")
        if not self.min <= self.raw <= self.max or self.max <= self.min:
            raise ValueError(f"score must satisfy min <= raw <= max and min < max, got {self}")
        if self.max <= 0 or self.min < -self.max:
            raise ValueError(
                f"score range must have max > 0 and min >= -max (scaled stays in [-1, 1]), got {self}"
            )

    def to_xapi(self) -> dict[str, float]:
        return {"scaled": round(self.raw / self.max, 4), "raw": self.raw, "min": self.min, "max": self.max}


def _check_names(names: Mapping[str, str], what: str) -> None:
    if not names or not names.get("th-TH", "").strip():
        raise ValueError(f"{what}: a Thai name ('th-TH') is required")
    for lang, text in names.items():
        if lang not in LANGUAGES:
            raise ValueError(f"{what}: language {lang!r} is not one of {LANGUAGES}")
        if not text.strip():
            raise ValueError(f"{what}: the {lang} name is empty")


def _check_learner(learner_id: str) -> None:
    # The runtime's learner ids are random (secrets.token_urlsafe); a Thai national id is 13 digits.
    if _NATIONAL_ID.fullmatch(learner_id):
        raise ValueError(
            "learner id looks like a national id; xAPI statements carry only the opaque learner id"
        )
    if not _LEARNER.fullmatch(learner_id):
        raise ValueError(
            f"learner id must be the runtime's opaque id (8-64 URL-safe characters), not {learner_id!r}"
        )


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("event time must be timezone-aware (UTC is written)")
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def course_iri(site: Site, course_id: str) -> str:
    return f"{site.base_url}/courses/{course_id}"


def activity_iri(site: Site, course_id: str, activity: Activity) -> str:
    if activity.kind == "course":
        return course_iri(site, activity.id)
    segment = "units" if activity.kind == "unit" else "blocks"
    return f"{course_iri(site, course_id)}/{segment}/{activity.id}"


def registration_id(site: Site, learner_id: str, course_id: str) -> str:
    """One UUID per enrolment: the same learner in the same course on the same site."""
    return str(uuid.uuid5(NAMESPACE, f"registration\n{site.base_url}\n{learner_id}\n{course_id}"))


def statement_id(kind: str, learner_id: str, object_iri: str, sequence: str) -> str:
    """Deterministic: building the same event again gives the same id, so redelivery is idempotent."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}\n{learner_id}\n{object_iri}\n{sequence}"))


def _definition(activity: Activity) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": ACTIVITY_TYPES[activity.kind], "name": dict(activity.name)}
    if activity.kind == "question":
        definition["interactionType"] = activity.interaction_type
        if activity.choices:
            definition["choices"] = [
                {"id": cid, "description": dict(names)} for cid, names in activity.choices
            ]
        if activity.correct:
            definition["correctResponsesPattern"] = ["[,]".join(activity.correct)]
    return definition


def _object(site: Site, course_id: str, activity: Activity) -> dict[str, Any]:
    return {
        "objectType": "Activity",
        "id": activity_iri(site, course_id, activity),
        "definition": _definition(activity),
    }


def _statement(
    kind: str,
    site: Site,
    learner_id: str,
    course: Activity,
    obj: dict[str, Any],
    at: datetime,
    sequence: str | int | None,
    parent: Activity | None = None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    _check_learner(learner_id)
    if course.kind != "course":
        raise ValueError(f"course must be an Activity of kind 'course', not {course.kind!r}")
    timestamp = _timestamp(at)
    verb_iri, th, en = VERBS[kind]
    seq = timestamp if sequence is None else str(sequence)
    context_activities: dict[str, Any] = {}
    if obj["id"] != course_iri(site, course.id):
        # parent: the nearest container; grouping: the course, so an LRS query by course finds everything.
        context_activities["parent"] = [_object(site, course.id, parent or course)]
        context_activities["grouping"] = [_object(site, course.id, course)]
    context: dict[str, Any] = {
        "registration": registration_id(site, learner_id, course.id),
        "platform": PLATFORM,
        "language": site.language,
    }
    if context_activities:
        context["contextActivities"] = context_activities
    statement: dict[str, Any] = {
        "id": statement_id(kind, learner_id, obj["id"], seq),
        "actor": {"objectType": "Agent", "account": {"homePage": site.base_url, "name": learner_id}},
        "verb": {"id": verb_iri, "display": {"th-TH": th, "en-US": en}},
        "object": obj,
        "context": context,
        "timestamp": timestamp,
    }
    if result is not None:
        statement["result"] = result
    return statement


def registered(
    site: Site, learner_id: str, course: Activity, at: datetime, sequence: str | int | None = None
) -> dict[str, Any]:
    """The learner enrolled in the course."""
    return _statement("registered", site, learner_id, course, _object(site, course.id, course), at, sequence)


def launched(
    site: Site, learner_id: str, course: Activity, at: datetime, sequence: str | int | None = None
) -> dict[str, Any]:
    """The learner opened the course to study (a new study session), as cmi5's "launched"."""
    return _statement("launched", site, learner_id, course, _object(site, course.id, course), at, sequence)


def experienced(
    site: Site,
    learner_id: str,
    course: Activity,
    unit: Activity,
    at: datetime,
    sequence: str | int | None = None,
) -> dict[str, Any]:
    """The learner viewed a unit (or a block such as a video, with its unit as ``parent``)."""
    return _statement("experienced", site, learner_id, course, _object(site, course.id, unit), at, sequence)


def answered(
    site: Site,
    learner_id: str,
    course: Activity,
    unit: Activity,
    question: Activity,
    response: Sequence[str] | str,
    success: bool,
    score: Score,
    at: datetime,
    sequence: str | int | None = None,
) -> dict[str, Any]:
    """The learner submitted an answer to a question; ``response`` is the chosen choice ids or the text."""
    if question.kind != "question":
        raise ValueError(f"answered needs a question, not a {question.kind}")
    text = response if isinstance(response, str) else "[,]".join(response)
    result = {"success": success, "score": score.to_xapi(), "response": text}
    return _statement(
        "answered",
        site,
        learner_id,
        course,
        _object(site, course.id, question),
        at,
        sequence,
        parent=unit,
        result=result,
    )


def completed(
    site: Site,
    learner_id: str,
    course: Activity,
    at: datetime,
    of: Activity | None = None,
    sequence: str | int | None = None,
) -> dict[str, Any]:
    """The learner completed the course (default) or a unit (``of``)."""
    target = of or course
    result = {"completion": True}
    return _statement(
        "completed", site, learner_id, course, _object(site, course.id, target), at, sequence, result=result
    )


def graded(
    site: Site,
    learner_id: str,
    course: Activity,
    score: Score,
    passed: bool,
    at: datetime,
    sequence: str | int | None = None,
) -> dict[str, Any]:
    """The course's post-test decided the outcome: a "passed" or a "failed" statement about the course."""
    kind = "passed" if passed else "failed"
    result = {"success": passed, "score": score.to_xapi()}
    return _statement(
        kind, site, learner_id, course, _object(site, course.id, course), at, sequence, result=result
    )


def earned(
    site: Site,
    learner_id: str,
    course: Activity,
    certificate_id: str,
    at: datetime,
    sequence: str | int | None = None,
) -> dict[str, Any]:
    """The learner was awarded the course's certificate (``certificate_id``: its serial or verify code)."""
    if not _ID.fullmatch(certificate_id):
        raise ValueError(f"certificate id must be an ASCII id, not {certificate_id!r}")
    names = {"th-TH": f"ประกาศนียบัตร {course.name['th-TH']}"}
    if "en-US" in course.name:
        names["en-US"] = f"Certificate: {course.name['en-US']}"
    obj = {
        "objectType": "Activity",
        "id": f"{course_iri(site, course.id)}/certificate/{certificate_id}",
        "definition": {"type": ACTIVITY_TYPES["certificate"], "name": names},
    }
    return _statement("earned", site, learner_id, course, obj, at, sequence, parent=course)


__all__ = [
    "ACTIVITY_TYPES",
    "VERBS",
    "Activity",
    "Score",
    "Site",
    "activity_iri",
    "answered",
    "completed",
    "course_iri",
    "earned",
    "experienced",
    "graded",
    "launched",
    "registered",
    "registration_id",
    "statement_id",
]
