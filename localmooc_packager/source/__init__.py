"""Course source on disk -> checked data -> XBlock tree."""

from __future__ import annotations

import gc
from pathlib import Path

from ..errors import InvalidInputError, Report
from ..tree import CourseTree
from .checks import check
from .loader import build_tree
from .reader import read_source


def check_course(course_dir: Path) -> tuple[CourseTree | None, Report]:
    """Read, schema-check and semantically check a course folder; build its block tree when it has no errors.

    Returns the tree (None when there are errors) and every problem found.

    The cyclic garbage collector is paused meanwhile, as for a build (build.gc_paused): a validation
    allocates long-lived objects by the hundred thousand (the data with its positions, the outline, the
    block tree) and forms no cycles, and each of the collector's passes rescanned them all to find nothing
    (a tenth to a quarter of a validation's CPU time). Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        source, report = read_source(course_dir)
        if source is None:
            return None, report
        outline_root = check(source, report)
        if report.errors:
            return None, report
        return build_tree(source, outline_root), report
    finally:
        if enabled:
            gc.enable()


def load_course(course_dir: Path) -> CourseTree:
    """The block tree of a valid course; raises ``InvalidInputError`` carrying the report otherwise."""
    tree, report = check_course(course_dir)
    if tree is None:
        raise InvalidInputError(f"{course_dir}: the course has {len(report.errors)} error(s)", report)
    return tree
