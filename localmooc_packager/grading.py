"""The course's grading rules, derived from its quizzes; one place that every exporter and the runtime use.

- Pre-tests and practice quizzes never count.
- The course grade is the weighted mean of the graded and post-test quizzes' scores (weights normalised).
- With a post-test, the post-test score decides pass/fail (the Local MOOC convention); without one, the
  course grade does. The threshold is the course's ``pass_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .tree import CourseTree

GRADED_ROLES = ("graded", "post-test")


@dataclass(frozen=True)
class GradedQuiz:
    id: str
    role: str
    weight: float  # normalised: the weights of all graded quizzes sum to 1
    possible: float  # points
    subsection: str  # usage id of the subsection holding it (Open edX grades subsections)


@dataclass
class CourseGrading:
    pass_threshold: float
    quizzes: list[GradedQuiz] = field(default_factory=list)

    @property
    def post_test(self) -> GradedQuiz | None:
        return next((q for q in self.quizzes if q.role == "post-test"), None)

    def result(self, scores: dict[str, float]) -> tuple[float, bool]:
        """(course grade 0-1, passed) from each quiz's best score as a fraction 0-1 (missing = 0)."""
        grade = sum(q.weight * min(max(scores.get(q.id, 0.0), 0.0), 1.0) for q in self.quizzes)
        post = self.post_test
        deciding = scores.get(post.id, 0.0) if post else grade
        return grade, bool(self.quizzes) and deciding >= self.pass_threshold - 1e-9


def course_grading(tree: CourseTree) -> CourseGrading:
    """Grading rules of a loaded course."""
    course = tree.course
    found: list[tuple[str, str, float, float, str]] = []
    subsection = ""
    for block, _depth in tree.walk():
        kind = block.scope_ids.block_type
        if kind == "lm-subsection":
            subsection = str(block.scope_ids.usage_id)
        elif kind == "lm-quiz" and block.role in GRADED_ROLES:
            found.append(
                (
                    str(block.scope_ids.usage_id),
                    block.role,
                    max(block.weight, 0.0),
                    block.max_score(),
                    subsection,
                )
            )
    total = sum(w for _id, _role, w, _possible, _sub in found)
    quizzes = [
        GradedQuiz(qid, role, (w / total) if total else 1 / len(found), possible, sub)
        for qid, role, w, possible, sub in found
    ]
    return CourseGrading(course.pass_threshold, quizzes)
