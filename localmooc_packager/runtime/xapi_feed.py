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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
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


_PROBE = "probe-learner"  # builds a template; replaced in every statement made from it
_PROBE_AT = datetime(2000, 1, 1, tzinfo=UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Built:
    """A statement ready for the outbox: its id and its JSON text."""

    id: str
    text: str

    @classmethod
    def of(cls, statement: dict[str, Any]) -> Built:
        return cls(statement["id"], _dumps(statement))

    def data(self) -> dict[str, Any]:
        return json.loads(self.text)  # type: ignore[no-any-return]


class _Template:
    """The statements of one kind about one object, made by the catalogue's builder once and then filled
    in per event (learner, registration, id, time, result): the same statement the builder makes
    (``tests/test_runtime_results_xapi.py`` holds them equal) at a fraction of the cost, which matters
    on the handler path (one "answered" per question of every quiz submission)."""

    def __init__(
        self, site: xs.Site, kind: str, course_id: str, make: Callable[[str, datetime], dict[str, Any]]
    ) -> None:
        t = make(_PROBE, _PROBE_AT)
        self.site, self.kind, self.course_id = site, kind, course_id
        self.iri = t["object"]["id"]
        ctx = dict(t["context"])
        ctx.pop("registration")
        self.actor = '{"objectType":"Agent","account":{"homePage":' + _dumps(site.base_url) + ',"name":'
        self.head = ',"verb":' + _dumps(t["verb"]) + ',"object":' + _dumps(t["object"])
        self.head += ',"context":{"registration":'
        self.ctx_rest = "," + _dumps(ctx)[1:]

    def render(
        self, learner_id: str, registration: str, at: datetime, sequence: object = None, result: str = ""
    ) -> Built:
        """The statement for ``learner_id`` (an id the catalogue's guard has passed: URL-safe characters,
        written as is) at ``at``; ``result``: the result object's JSON text, if any."""
        stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        sid = xs.statement_id(self.kind, learner_id, self.iri, stamp if sequence is None else str(sequence))
        text = (
            f'{{"id":"{sid}","actor":{self.actor}"{learner_id}"}}}}{self.head}"{registration}"{self.ctx_rest}'
            f',"timestamp":"{stamp}"' + (f',"result":{result}' if result else "") + "}"
        )
        return Built(sid, text)


class Feed:
    """Statements for the runtime's events on one site (the actor's account home page)."""

    def __init__(self, home_page: str) -> None:
        self.site = xs.Site(home_page.rstrip("/"))
        # id(LoadedCourse) -> (the course, its activities): built once per loaded course (a preview
        # reloads a course as a new object, which gets its own).
        self._courses: dict[int, tuple[Any, CourseActivities | None]] = {}
        self._templates: dict[tuple[int, str, str], _Template] = {}
        self._registrations: dict[tuple[str, str], str] = {}  # (learner, course) -> registration id
        self._scores: dict[tuple[int, str, bool], str] = {}  # (course, question, right) -> score JSON

    def course(self, course: Any) -> CourseActivities | None:
        hit = self._courses.get(id(course))
        if hit is None or hit[0] is not course:
            try:
                acts: CourseActivities | None = activities_of(course)
            except ValueError as exc:  # the course's ids or names do not fit the catalogue: no statements
                log.warning("xAPI statements off for course %s: %s", course.id, exc)
                acts = None
            hit = self._courses[id(course)] = (course, acts)
            self._templates = {k: v for k, v in self._templates.items() if k[0] != id(course)}
            self._scores = {k: v for k, v in self._scores.items() if k[0] != id(course)}
        return hit[1]

    def _registration(self, learner_id: str, course_id: str) -> str | None:
        """The enrolment's registration id; None for a learner id the catalogue refuses (its guard: an
        opaque id, never a national id), who then gets no statements (logged), rather than a failed
        submission."""
        key = (learner_id, course_id)
        reg = self._registrations.get(key)
        if reg is None:
            try:
                xs._check_learner(learner_id)
            except ValueError as exc:
                log.warning("xAPI statements skipped: %s", exc)
                return None
            if len(self._registrations) > 50_000:
                self._registrations.clear()
            reg = self._registrations[key] = xs.registration_id(self.site, learner_id, course_id)
        return reg

    def _course_for(self, learner_id: str, course: Any) -> CourseActivities | None:
        """The course's activities, when statements can be made for this learner in it."""
        a = self.course(course)
        return a if a is not None and self._registration(learner_id, course.id) is not None else None

    def _template(
        self, course: Any, kind: str, key: str, make: Callable[[str, datetime], dict[str, Any]]
    ) -> _Template:
        t = self._templates.get((id(course), kind, key))
        if t is None:
            t = self._templates[(id(course), kind, key)] = _Template(self.site, kind, course.id, make)
        return t

    # ---- one builder per event; each returns statements (possibly none) ----------------------------
    def registered(self, learner_id: str, course: Any, at: datetime) -> list[Built]:
        a = self._course_for(learner_id, course)
        return (
            []
            if a is None
            else [Built.of(xs.registered(self.site, learner_id, a.course, at, sequence="enrol"))]
        )

    def launched(self, learner_id: str, course: Any, at: datetime) -> list[Built]:
        a = self._course_for(learner_id, course)
        return [] if a is None else [Built.of(xs.launched(self.site, learner_id, a.course, at))]

    def experienced(self, learner_id: str, course: Any, unit_id: str, at: datetime) -> list[Built]:
        a = self._course_for(learner_id, course)
        if a is None or unit_id not in a.units:
            return []
        unit = a.units[unit_id]
        t = self._template(
            course,
            "experienced",
            unit_id,
            lambda who, when: xs.experienced(self.site, who, a.course, unit, when),
        )
        return [t.render(learner_id, self._registrations[(learner_id, course.id)], at)]

    def answered(
        self,
        learner_id: str,
        course: Any,
        quiz_id: str,
        attempt: int,
        responses: dict[str, Any],
        results: dict[str, Any],
        at: datetime,
    ) -> list[Built]:
        """One statement per question of a quiz submission (sequence: the attempt number)."""
        a = self._course_for(learner_id, course)
        if a is None:
            return []
        unit = a.units.get(a.unit_of.get(quiz_id, ""))
        if unit is None:
            return []
        registration = self._registrations[(learner_id, course.id)]
        out = []
        for q, activity in a.questions.get(quiz_id, ()):
            make = partial(self._answered_probe, a.course, unit, activity)
            t = self._template(course, "answered", activity.id, make)
            ok = bool(results.get(q["id"]))
            response = _response(q, responses.get(q["id"]))
            text = response if isinstance(response, str) else "[,]".join(response)
            key = (id(course), activity.id, ok)
            score = self._scores.get(key)
            if score is None:
                points = float(q.get("points", 1) or 1)
                score = self._scores[key] = _dumps(xs.Score(points if ok else 0.0, points).to_xapi())
            result = f'{{"success":{"true" if ok else "false"},"score":{score},"response":{_dumps(text)}}}'
            out.append(t.render(learner_id, registration, at, attempt, result))
        return out

    def _answered_probe(
        self, course: xs.Activity, unit: xs.Activity, question: xs.Activity, who: str, when: datetime
    ) -> dict[str, Any]:
        return xs.answered(self.site, who, course, unit, question, "", False, xs.Score(0.0, 1.0), when)

    def milestone(
        self,
        kind: str,
        learner_id: str,
        course: Any,
        row: dict[str, Any],
        at: datetime,
        possible: float,
        attempt: int | None = None,
    ) -> list[Built]:
        """``completed``, ``passed``, ``failed`` (a post-test attempt that did not pass: ``attempt`` is its
        number) or ``certified``; each milestone happens once, so its kind is its sequence."""
        a = self._course_for(learner_id, course)
        if a is None:
            return []
        if kind == "completed":
            return [Built.of(xs.completed(self.site, learner_id, a.course, at, sequence="course"))]
        if kind in ("passed", "failed"):
            percent = float(row.get("post_test_score") or 0.0)
            score = (
                xs.Score(round(percent * possible / 100, 4), possible) if possible > 0 else xs.Score(0.0, 1.0)
            )
            seq = "post-test" if kind == "passed" else f"attempt-{attempt}" if attempt else None
            return [
                Built.of(
                    xs.graded(self.site, learner_id, a.course, score, kind == "passed", at, sequence=seq)
                )
            ]
        if kind == "certified" and row.get("certificate_no"):
            no = str(row["certificate_no"])
            return [Built.of(xs.earned(self.site, learner_id, a.course, no, at, sequence="certificate"))]
        return []


def outbox_rows(statements: list[Built], at: Any) -> list[tuple[str, str, Any, Any]]:
    """(statement_id, statement JSON, created_at, next_attempt_at) rows, as ``xapi.outbox.enqueue`` makes."""
    return [(s.id, s.text, at, at) for s in statements]
