"""Completion rules of a course, and how one learner's ``course_results`` row moves on an event.

Pure: no SQL, no HTTP. The storage calls :func:`advance` inside the transaction of the event (a handler
batch or a unit view) with the row as read under the learner's lock, the learner's best scores and
completions in the course, and the event time from the runtime's clock; it writes the row it returns.

- **Study time** comes from activity only: each unit view or handler call adds the gap since the previous
  one, capped at :data:`IDLE_CAP` (an idle tab, a lunch break or a forgotten login adds at most that).
- **Milestones** are recorded once, the first time they happen, and never cleared: ``content_completed_at``
  (every html, video and quiz block completed: the progress page at 100 %), ``post_test_passed_at``,
  ``survey_done_at`` and ``certified_at`` (every certificate rule met; the certificate number is drawn then).
  Scores only go up (the best post-test score and course grade are kept).
- **Rules** come from the course: ``certificate.requires`` (``all-content``, ``post-test``, ``pass``),
  ``certificate.min_minutes`` and ``certificate.survey``. A course without ``certificate`` issues none; its
  one rule, shown to the learner, is ``pass`` (the course's grading).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from ..grading import CourseGrading
from ..results.certno import new_number
from ..results.thaidate import BE_OFFSET, to_bangkok

# The longest gap between two activities that counts as study. Reading a unit's text or watching a video
# between two page views rarely takes longer; a longer gap is an idle tab and adds only this much.
IDLE_CAP = timedelta(minutes=5)

REQUIRABLE = ("all-content", "post-test", "pass")
RULE_ORDER = ("all-content", "post-test", "pass", "min-minutes", "survey")

# course_results columns the runtime reads and writes, in the order of every SELECT and upsert.
COLUMNS = (
    "learner_id",
    "course_id",
    "enrolled_at",
    "content_completed_at",
    "post_test_passed_at",
    "survey_done_at",
    "certified_at",
    "study_seconds",
    "last_active_at",
    "post_test_score",
    "grade",
    "credited_hours",
    "certificate_no",
    "revoked_at",
    "erased",
)
TIME_COLUMNS = frozenset(
    {
        "enrolled_at",
        "content_completed_at",
        "post_test_passed_at",
        "survey_done_at",
        "certified_at",
        "last_active_at",
        "revoked_at",
    }
)


@dataclass(frozen=True)
class CourseRules:
    """What decides a course's results, taken once from the loaded course."""

    course_id: str
    certificate: bool  # the course declares `certificate`: a certificate is issued when every rule is met
    requires: tuple[str, ...]
    min_seconds: int
    survey: str | None  # a block id
    completable: frozenset[str]
    grading: CourseGrading
    hours: float
    certificate_prefix: str = "LM"

    @cached_property
    def rules(self) -> tuple[str, ...]:
        """The rules a learner must meet, in display order."""
        if not self.certificate:
            return ("pass",)
        out = list(self.requires)
        if self.min_seconds:
            out.append("min-minutes")
        if self.survey:
            out.append("survey")
        return tuple(r for r in RULE_ORDER if r in out)

    @cached_property
    def post_test(self) -> str | None:
        post = self.grading.post_test
        return post.id if post else None


def rules_of(course: Any, certificate_prefix: str = "LM") -> CourseRules:
    """The rules of a ``LoadedCourse`` (its ``certificate`` mapping, grading, completable blocks, hours)."""
    cert = course.tree.course.certificate
    declared = isinstance(cert, Mapping) and cert is not None and "certificate" in _set_fields(course)
    cert = dict(cert or {})
    requires = tuple(r for r in REQUIRABLE if r in (cert.get("requires") or ["pass"]))
    return CourseRules(
        course_id=course.id,
        certificate=declared,
        requires=requires,
        min_seconds=int(cert.get("min_minutes") or 0) * 60,
        survey=str(cert["survey"]) if cert.get("survey") else None,
        completable=frozenset(course.completable),
        grading=course.grading,
        hours=float(course.meta.get("hours") or 0.0),
        certificate_prefix=certificate_prefix,
    )


def _set_fields(course: Any) -> set[str]:
    """The course block's fields the course source sets (a ``certificate: {}`` counts as declared)."""
    return {name for (uid, name) in course.static_fields if uid == course.id}


@dataclass(frozen=True)
class MissingRule:
    """A rule not met yet: ``need`` and ``have`` in the rule's unit (blocks, percent, minutes; None when
    the rule is yes/no)."""

    rule: str
    need: float | None = None
    have: float | None = None


def empty_row(learner_id: str, course_id: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(learner_id=learner_id, course_id=course_id, study_seconds=0, erased=False)
    return row


def grading_passed(rules: CourseRules, row: Mapping[str, Any]) -> bool:
    """The course's grading passed, from the row's best scores (the post-test decides when there is one)."""
    threshold = rules.grading.pass_threshold * 100 - 1e-7
    if not rules.grading.quizzes:
        return False
    deciding = row.get("post_test_score") if rules.post_test else row.get("grade")
    return deciding is not None and deciding >= threshold


def missing(
    rules: CourseRules, row: Mapping[str, Any] | None, done_blocks: int | None = None
) -> list[MissingRule]:
    """The rules ``row`` does not meet yet, in display order (empty: every rule met). ``done_blocks``: how
    many completable blocks are done, when the caller knows (shown as "5 of 8")."""
    r: Mapping[str, Any] = row or {}
    out: list[MissingRule] = []
    threshold = round(rules.grading.pass_threshold * 100, 2)
    for rule in rules.rules:
        if rule == "all-content" and r.get("content_completed_at") is None:
            out.append(
                MissingRule(
                    rule, float(len(rules.completable)), None if done_blocks is None else float(done_blocks)
                )
            )
        elif rule == "post-test" and r.get("post_test_passed_at") is None:
            out.append(MissingRule(rule, threshold, r.get("post_test_score")))
        elif rule == "pass" and not grading_passed(rules, r):
            have = r.get("post_test_score") if rules.post_test else r.get("grade")
            out.append(MissingRule(rule, threshold, have))
        elif rule == "min-minutes" and int(r.get("study_seconds") or 0) < rules.min_seconds:
            out.append(
                MissingRule(rule, rules.min_seconds / 60, float(int(r.get("study_seconds") or 0) // 60))
            )
        elif rule == "survey" and r.get("survey_done_at") is None:
            out.append(MissingRule(rule))
    return out


def _all_met(rules: CourseRules, r: Mapping[str, Any]) -> bool:
    """``not missing(rules, r)``, without building the list (the handler path asks on every call)."""
    for rule in rules.rules:
        if rule == "all-content" and r.get("content_completed_at") is None:
            return False
        if rule == "post-test" and r.get("post_test_passed_at") is None:
            return False
        if rule == "pass" and not grading_passed(rules, r):
            return False
        if rule == "min-minutes" and int(r.get("study_seconds") or 0) < rules.min_seconds:
            return False
        if rule == "survey" and r.get("survey_done_at") is None:
            return False
    return True


@dataclass
class Step:
    """What an event did to a row: the row to write and the milestones it reached, in order
    (``launched``: a new study session; ``completed``, ``passed``, ``failed``, ``certified``)."""

    row: dict[str, Any]
    reached: list[str]


def advance(
    rules: CourseRules,
    row: Mapping[str, Any] | None,
    learner_id: str,
    scores: Mapping[str, float],
    done: Mapping[str, float],
    at: datetime,
    *,
    active: bool = True,
    post_attempt: bool = False,
    number: Callable[[int, str], str] = new_number,
) -> Step:
    """The row after an event at ``at``. ``scores``: best score (0-1) per quiz; ``done``: completion per
    block (both as the transaction sees them, the event's own included). ``active``: the event is study
    activity (a view or a handler call). ``post_attempt``: the event submitted the post-test."""
    r = dict(row) if row is not None else empty_row(learner_id, rules.course_id)
    reached: list[str] = []
    if active:
        last = r.get("last_active_at")
        gap = (at - last) if last is not None else None
        if gap is None or gap > IDLE_CAP:
            reached.append("launched")  # a new study session starts
        if gap is not None and gap > timedelta(0):
            r["study_seconds"] = int(r.get("study_seconds") or 0) + int(min(gap, IDLE_CAP).total_seconds())
        if last is None or at > last:
            r["last_active_at"] = at
    if r.get("content_completed_at") is None and all(done.get(b, 0.0) >= 1.0 for b in rules.completable):
        r["content_completed_at"] = at
        reached.append("completed")
    post = rules.post_test
    if post is not None and post in scores:
        best = round(scores[post] * 100, 4)
        r["post_test_score"] = max(best, r.get("post_test_score") or 0.0)
    graded = [q.id for q in rules.grading.quizzes if q.id in scores]
    if graded:
        grade, _passed = rules.grading.result(dict(scores))
        r["grade"] = max(round(grade * 100, 4), r.get("grade") or 0.0)
    if post is not None and r.get("post_test_passed_at") is None:
        if (r.get("post_test_score") or 0.0) >= rules.grading.pass_threshold * 100 - 1e-7 and post in scores:
            r["post_test_passed_at"] = at
            reached.append("passed")
        elif post_attempt:
            reached.append("failed")
    if rules.survey and r.get("survey_done_at") is None and done.get(rules.survey, 0.0) >= 1.0:
        r["survey_done_at"] = at
    if rules.certificate and r.get("certified_at") is None and _all_met(rules, r):
        r["certified_at"] = at
        r["credited_hours"] = rules.hours
        r["certificate_no"] = number(to_bangkok(at).year + BE_OFFSET, rules.certificate_prefix)
        reached.append("certified")
    return Step(r, reached)
