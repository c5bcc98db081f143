"""The catalogue and enrolment: which courses a learner sees, course details, enrolling, resuming."""

from __future__ import annotations

from typing import Any

from ..blocks import LoadedCourse
from ..errors import Forbidden, NotFound
from ..i18n import CATEGORIES, be_date
from ..models import CategoryOut, CourseDetail, CourseSummary, EnrolmentOut, UnitOut
from ..storage import SessionInfo, Store
from . import Runner
from .results import CourseResult, is_passed
from .rules import check_can_enrol, enrolment_open, visible, when


def be_span(start: Any, end: Any, lang: str) -> str:
    """'19 มี.ค. 2564 - 30 ก.ย. 2564' (either end may be open), '' when neither is set."""
    a, b = be_date(when(start), lang), be_date(when(end, closing=True), lang)
    return f"{a} - {b}".strip(" -") if (a or b) else ""


def category_name(key: str, lang: str) -> str:
    for k, th, en in CATEGORIES:
        if k == key:
            return th if lang == "th" else en
    return key


def standing(c: LoadedCourse, row: dict[str, Any] | None) -> str:
    """Where an enrolled learner stands in ``c`` by the course's result row (``course_results``)."""
    if row is None:
        return "enrolled"
    if row["certified_at"] is not None:
        return "revoked" if row["revoked_at"] is not None else "certified"
    if is_passed(c, CourseResult.of(row)):
        return "finished"
    return "completed" if row["content_completed_at"] is not None else "enrolled"


def summary(
    c: LoadedCourse,
    lang: str,
    enrolled: set[str],
    published: dict[str, bool],
    results: dict[str, dict[str, Any]] | None = None,
) -> CourseSummary:
    """A catalogue card; with the learner's ``results`` (course id -> result row), their standing."""
    m = c.meta
    image = m["image"].replace("/static/", f"/courses/{c.id}/static/", 1) if m["image"] else ""
    return CourseSummary(
        id=c.id,
        title=m["title"],
        short_description=m["short_description"],
        category=m["category"],
        category_name=category_name(m["category"], lang),
        hours=m["hours"],
        image=image,
        enrolled=c.id in enrolled,
        published=published.get(c.id, True),
        standing=standing(c, (results or {}).get(c.id)) if c.id in enrolled else "",
    )


class Courses:
    def __init__(self, courses: dict[str, LoadedCourse], store: Store, run: Runner) -> None:
        self.courses = courses
        self.store = store
        self.run = run
        self._enrolled: set[tuple[str, str]] = set()  # positive only: enrolments are never withdrawn

    def get(self, course_id: str) -> LoadedCourse:
        c = self.courses.get(course_id)
        if c is None:
            raise NotFound()
        return c

    async def is_enrolled(self, s: SessionInfo | None, course: LoadedCourse) -> bool:
        if s is None:
            return False
        key = (s.learner_id, course.id)
        if key not in self._enrolled:
            if await self.run(self.store.enrolment, s.learner_id, course.id) is None:
                return False
            self._enrolled.add(key)
        return True

    async def need_enrolled(self, s: SessionInfo, course: LoadedCourse) -> None:
        if not await self.is_enrolled(s, course):
            raise Forbidden("not_enrolled")

    async def visible_or_404(self, c: LoadedCourse, s: SessionInfo | None) -> None:
        """Hidden courses exist only for admins and the learners already enrolled."""
        published = await self.run(self.store.published_map)
        if not visible(c, published, s.role if s else None, await self.is_enrolled(s, c)):
            raise NotFound()

    async def enrol(self, c: LoadedCourse, s: SessionInfo) -> EnrolmentOut:
        """Enrol (the course visible, its enrolment window open); where to resume."""
        published = await self.run(self.store.published_map)
        check_can_enrol(c, published, s.role, await self.is_enrolled(s, c), self.store.clock())
        await self.run(self.store.enrol, s.learner_id, c.id, c)
        return await self.resume(c, s)

    async def resume(self, c: LoadedCourse, s: SessionInfo) -> EnrolmentOut:
        e = await self.run(self.store.enrolment, s.learner_id, c.id)
        last = (e or {}).get("last_unit")
        resume = last if last in c.unit_index else c.units[0].id
        return EnrolmentOut(course_id=c.id, enrolled=e is not None, last_unit=last, resume_unit=resume)

    async def catalogue(self, s: SessionInfo | None, lang: str) -> list[CategoryOut]:
        """Published courses by the seven Local MOOC categories (then any others)."""
        published = await self.run(self.store.published_map)
        enrolled = set(await self.run(self.store.enrolled_courses, s.learner_id)) if s else set()
        results = await self._results(s, enrolled)
        shown = [c for c in self.courses.values() if published.get(c.id, True)]
        out = []
        for key, th, en in CATEGORIES:
            items = [
                summary(c, lang, enrolled, published, results) for c in shown if c.meta["category"] == key
            ]
            out.append(CategoryOut(key=key, name=th if lang == "th" else en, courses=items))
        known = {k for k, _th, _en in CATEGORIES}
        others = [
            summary(c, lang, enrolled, published, results) for c in shown if c.meta["category"] not in known
        ]
        if others:
            out.append(CategoryOut(key="other", name="อื่น ๆ" if lang == "th" else "Other", courses=others))
        return out

    async def detail(self, c: LoadedCourse, s: SessionInfo | None, lang: str) -> CourseDetail:
        await self.visible_or_404(c, s)
        published = await self.run(self.store.published_map)
        enrolled = set(await self.run(self.store.enrolled_courses, s.learner_id)) if s else set()
        results = await self._results(s, enrolled)
        m = c.meta
        return CourseDetail(
            **summary(c, lang, enrolled, published, results).model_dump(),
            description=m["description"],
            pass_threshold=m["pass_threshold"],
            start=str(m["start"]),
            end=str(m["end"]),
            dates_be=be_span(m["start"], m["end"], lang),
            enrolment_be=be_span(m.get("enrollment_start"), m.get("enrollment_end"), lang),
            enrolment_open=enrolment_open(c, self.store.clock()),
            units=[UnitOut(id=u.id, title=u.title, section=u.section) for u in c.units],
        )

    async def _results(self, s: SessionInfo | None, enrolled: set[str]) -> dict[str, dict[str, Any]]:
        """The learner's result rows by course (one query; none without enrolments)."""
        if s is None or not enrolled:
            return {}
        return {r["course_id"]: r for r in await self.run(self.store.results_of, s.learner_id)}

    async def all_for_admin(self, lang: str) -> list[CourseSummary]:
        published = await self.run(self.store.published_map)
        return [summary(c, lang, set(), published) for c in self.courses.values()]
