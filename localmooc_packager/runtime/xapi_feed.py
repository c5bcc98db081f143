"""The runtime's events as xAPI statements (``xapi/statements.py``), ready for the outbox.

The storage builds them inside the event's transaction and writes them with the event (``xapi_outbox``), so
a statement exists exactly when its event does. A course's activities (the course, its units, each quiz
question with its interaction shape) are built once per worker. Statement ids are deterministic: the
sequence of each kind is what makes the event unique (the enrolment, the attempt number of a quiz, the
milestone, else the event time), so building the same event again gives the same id.

A course whose ids or names the catalogue cannot express (not ASCII, no Thai title) sends no statements,
and says so once in the log: learning never fails because of the feed.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..xapi import statements as xs

log = logging.getLogger("localmooc.xapi")

# Question types of the course format -> cmi.interaction types.
INTERACTION = {
    "single-choice": "choice",
    "multiple-choice": "choice",
    "true-false": "true-false",
    "numeric": "numeric",
    "short-text": "fill-in",
}
_TAGS = re.compile(r"<[^>]+>")


def _text(html: Any, limit: int = 200) -> str:
    text = " ".join(_TAGS.sub(" ", str(html or "")).split())
    return text[:limit]


def _name(text: str, fallback: str) -> dict[str, str]:
    return {"th-TH": text.strip() or fallback}


@dataclass(frozen=True)
class CourseActivities:
    course: xs.Activity
    units: dict[str, xs.Activity]
    unit_of: dict[str, str]  # block id -> unit id
    questions: dict[str, list[tuple[dict[str, Any], xs.Activity]]]  # quiz id -> (question, activity)
    certificate_title: str


def activities_of(course: Any) -> CourseActivities:
    """The xAPI activities of a ``LoadedCourse`` (raises ValueError when an id or name does not fit)."""
    title = str(course.meta.get("title") or course.id)
    units = {u.id: xs.Activity("unit", u.id, _name(u.title, u.id)) for u in course.units}
    unit_of = {b: u.id for u in course.units for b in u.blocks}
    questions: dict[str, list[tuple[dict[str, Any], xs.Activity]]] = {}
    for quiz in course.quizzes:
        items = []
        for q in course.static_fields.get((quiz.id, "questions"), ()):
            kind = INTERACTION.get(q.get("type", ""), "other")
            choices = tuple((c["id"], _name(_text(c.get("text")), c["id"])) for c in q.get("choices") or ())
            answer = q.get("answer")
            correct: tuple[str, ...] = ()
            if kind == "choice":
                correct = tuple(str(a) for a in (answer or ()))
            elif kind == "true-false":
                correct = ("true" if answer else "false",)
            elif kind == "numeric":
                correct = (f"{answer}:{answer}",) if answer is not None else ()
            activity = xs.Activity(
                "question",
                f"{quiz.id}.{q['id']}",
                _name(_text(q.get("prompt")), q["id"]),
                interaction_type=kind,
                choices=choices,
                correct=correct,
            )
            items.append((q, activity))
        questions[quiz.id] = items
    cert = course.tree.course.certificate or {}
    return CourseActivities(
        xs.Activity("course", course.id, _name(title, course.id)),
        units,
        unit_of,
        questions,
        str(cert.get("title") or "เกียรติบัตร"),
    )


def _response(question: dict[str, Any], answer: Any) -> str | list[str]:
    if isinstance(answer, list):
        return [str(a) for a in answer]
    if isinstance(answer, bool):
        return "true" if answer else "false"
    if answer is None:
        return ""
    return str(answer)[:500] if question.get("type") == "short-text" else str(answer)


class Feed:
    """Statements for the runtime's events on one site (the actor's account home page)."""

    def __init__(self, home_page: str) -> None:
        self.site = xs.Site(home_page.rstrip("/"))
        # id(LoadedCourse) -> (the course, its activities): built once per loaded course (a preview
        # reloads a course as a new object, which gets its own).
        self._courses: dict[int, tuple[Any, CourseActivities | None]] = {}

    def course(self, course: Any) -> CourseActivities | None:
        hit = self._courses.get(id(course))
        if hit is None or hit[0] is not course:
            try:
                acts: CourseActivities | None = activities_of(course)
            except ValueError as exc:  # the course's ids or names do not fit the catalogue: no statements
                log.warning("xAPI statements off for course %s: %s", course.id, exc)
                acts = None
            hit = self._courses[id(course)] = (course, acts)
        return hit[1]

    # ---- one builder per event; each returns statements (possibly none) ----------------------------
    def registered(self, learner_id: str, course: Any, at: datetime) -> list[dict[str, Any]]:
        a = self.course(course)
        return [] if a is None else [xs.registered(self.site, learner_id, a.course, at, sequence="enrol")]

    def launched(self, learner_id: str, course: Any, at: datetime) -> list[dict[str, Any]]:
        a = self.course(course)
        return [] if a is None else [xs.launched(self.site, learner_id, a.course, at)]

    def experienced(self, learner_id: str, course: Any, unit_id: str, at: datetime) -> list[dict[str, Any]]:
        a = self.course(course)
        if a is None or unit_id not in a.units:
            return []
        return [xs.experienced(self.site, learner_id, a.course, a.units[unit_id], at)]

    def answered(
        self,
        learner_id: str,
        course: Any,
        quiz_id: str,
        attempt: int,
        responses: dict[str, Any],
        results: dict[str, Any],
        at: datetime,
    ) -> list[dict[str, Any]]:
        """One statement per question of a quiz submission (sequence: the attempt number)."""
        a = self.course(course)
        if a is None:
            return []
        unit = a.units.get(a.unit_of.get(quiz_id, ""))
        if unit is None:
            return []
        out = []
        for q, activity in a.questions.get(quiz_id, ()):
            points = float(q.get("points", 1) or 1)
            ok = bool(results.get(q["id"]))
            out.append(
                xs.answered(
                    self.site,
                    learner_id,
                    a.course,
                    unit,
                    activity,
                    _response(q, responses.get(q["id"])),
                    ok,
                    xs.Score(points if ok else 0.0, points),
                    at,
                    sequence=attempt,
                )
            )
        return out

    def milestone(
        self,
        kind: str,
        learner_id: str,
        course: Any,
        row: dict[str, Any],
        at: datetime,
        possible: float,
        attempt: int | None = None,
    ) -> list[dict[str, Any]]:
        """``completed``, ``passed``, ``failed`` (a post-test attempt that did not pass: ``attempt`` is its
        number) or ``certified``; each milestone happens once, so its kind is its sequence."""
        a = self.course(course)
        if a is None:
            return []
        if kind == "completed":
            return [xs.completed(self.site, learner_id, a.course, at, sequence="course")]
        if kind in ("passed", "failed"):
            percent = float(row.get("post_test_score") or 0.0)
            score = (
                xs.Score(round(percent * possible / 100, 4), possible) if possible > 0 else xs.Score(0.0, 1.0)
            )
            seq = "post-test" if kind == "passed" else f"attempt-{attempt}" if attempt else None
            return [xs.graded(self.site, learner_id, a.course, score, kind == "passed", at, sequence=seq)]
        if kind == "certified" and row.get("certificate_no"):
            return [
                xs.earned(
                    self.site, learner_id, a.course, str(row["certificate_no"]), at, sequence="certificate"
                )
            ]
        return []


def outbox_rows(statements: list[dict[str, Any]], at: Any) -> list[tuple[str, str, Any, Any]]:
    """(statement_id, statement JSON, created_at, next_attempt_at) rows, as ``xapi.outbox.enqueue`` makes."""
    return [(s["id"], json.dumps(s, ensure_ascii=False, separators=(",", ":")), at, at) for s in statements]
