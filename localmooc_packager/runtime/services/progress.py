"""Learning: a unit shown to a learner (and counted as a visit), and progress by the course's grading."""

from __future__ import annotations

from ..blocks import LoadedCourse
from ..errors import NotFound
from ..i18n import be_date
from ..learner_runtime import render_for_learner
from ..models import ProgressOut, QuizProgress, RuleOut, UnitView
from ..storage import SessionInfo, Store
from . import Runner, results
from .courses import Courses
from .rules import when


class Progress:
    def __init__(self, courses: Courses, store: Store, run: Runner) -> None:
        self.courses = courses
        self.store = store
        self.run = run

    async def unit(self, c: LoadedCourse, s: SessionInfo, unit_id: str, lang: str) -> UnitView:
        """The unit rendered with the learner's state; the visit sets the resume point, adds study time
        and completes the unit's html blocks."""
        unit = c.unit_index.get(unit_id)
        if unit is None:
            raise NotFound()
        await self.courses.need_enrolled(s, c)
        rendered = await self.run(render_for_learner, self.store, c, s.learner_id, unit_id, lang)
        await self.run(self.store.record_view, s.learner_id, c.id, unit_id, unit.view_completes, c)
        i = unit.index
        return UnitView(
            course_id=c.id,
            unit_id=unit.id,
            title=unit.title,
            index=i,
            total=len(c.units),
            prev=c.units[i - 1].id if i > 0 else None,
            next=c.units[i + 1].id if i + 1 < len(c.units) else None,
            html=rendered.html,
            css=rendered.css,
            js=rendered.js,
        )

    async def of(self, c: LoadedCourse, s: SessionInfo, lang: str = "th") -> ProgressOut:
        """Best score per quiz, completion, course grade and pass/fail by the course's grading rules."""
        await self.courses.need_enrolled(s, c)
        best, done = await self.run(self.store.progress, s.learner_id, c.id)
        row = await self.run(results.result, self.store, s.learner_id, c.id)
        counted = {q.id for q in c.grading.quizzes}
        quizzes = []
        scores: dict[str, float] = {}
        for q in c.quizzes:
            got = best.get(q.id)
            score = (got[0] / got[1]) if got and got[1] else (0.0 if got else None)
            if score is not None:
                scores[q.id] = score
            earned, possible = (got[0], got[1]) if got else (None, q.possible)
            due = c.due.get(q.id, "")
            quizzes.append(
                QuizProgress(
                    id=q.id,
                    title=q.title,
                    due=due,
                    due_be=be_date(when(due, closing=True), lang),
                    role=q.role,
                    counts=q.id in counted,
                    earned=earned,
                    possible=possible,
                    score=score,
                )
            )
        grade, grade_passed = c.grading.result(scores)
        completed = sum(1 for b in c.completable if done.get(b, 0.0) >= 1.0)
        total = len(c.completable)
        missing = results.rules_status(c, row, completed)
        rules = results.rules_for(c)
        # "Passed" only when every rule is met (recorded, or met now: a certificate once earned stays).
        passed = results.is_passed(c, row) if rules.certificate else grade_passed
        return ProgressOut(
            course_id=c.id,
            completion=(completed / total) if total else 0.0,
            completed_blocks=completed,
            total_blocks=total,
            quizzes=quizzes,
            grade=grade,
            passed=passed,
            grade_passed=grade_passed,
            pass_threshold=c.grading.pass_threshold,
            study_minutes=row.study_minutes if row else 0,
            min_minutes=rules.min_seconds // 60,
            certificate=rules.certificate,
            certified_at=row.certified_at if row and rules.certificate else None,
            certified_be=be_date(row.certified_at, lang) if row and row.certified_at else "",
            certificate_no=row.certificate_no if row else None,
            missing=[
                RuleOut(rule=m.rule, need=m.need, have=m.have, text=t, detail=d)
                for m in (missing if not passed else [])
                for t, d in [results.rule_text(m, lang)]
            ],
        )
