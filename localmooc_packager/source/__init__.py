"""Course source on disk -> checked data -> XBlock tree."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidInputError, Report
from ..tree import CourseTree
from .checks import check
from .loader import build_tree
from .reader import read_source


def check_course(course_dir: Path) -> tuple[CourseTree | None, Report]:
    """Read, schema-check and semantically check a course folder; build its block tree when it has no errors.

    Returns the tree (None when there are errors) and every problem found.
    """
    source, report = read_source(course_dir)
    if source is None:
        return None, report
    outline_root = check(source, report)
    if report.errors:
        return None, report
    return build_tree(source, outline_root), report


def load_course(course_dir: Path) -> CourseTree:
    """The block tree of a valid course; raises ``InvalidInputError`` carrying the report otherwise."""
    tree, report = check_course(course_dir)
    if tree is None:
        raise InvalidInputError(f"{course_dir}: the course has {len(report.errors)} error(s)", report)
    return tree
