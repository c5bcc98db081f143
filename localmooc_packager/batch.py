"""Many courses at once: each course is built (and its packages checked) in a worker process.

A province packages dozens of courses in one go; building them one after another leaves all but one
core idle. Courses are independent, so they run in a process pool (threads would share one interpreter
lock: the build is Python work). Results come back in the order the courses were given, each with its
own error, so one broken course never stops or hides the others.
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.context
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, LocalMoocError
from .exporters.archive import usable_cores


@dataclass(frozen=True)
class Package:
    path: Path
    seconds: float
    kind: str = ""  # the validator's name for it when checked ("olx", "scorm12", ...)
    problems: list[str] = field(default_factory=list)  # what the validator found, printed form
    valid: bool = True


@dataclass(frozen=True)
class CourseResult:
    """What building one course gave: its packages, or the error that stopped it (printed form)."""

    course: Path
    packages: list[Package] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the course's problems when it is invalid
    error: str = ""
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return not self.error and all(p.valid for p in self.packages)


def default_jobs(courses: int) -> int:
    return max(1, min(courses, usable_cores()))


def build_one(
    course: Path, out_dir: Path, formats: list[str], check: bool, options: dict[str, Any]
) -> CourseResult:
    """Build one course; every error becomes part of the result (it crosses a process boundary)."""
    from .build import iter_build_course
    from .validators import validate_path

    packages: list[Package] = []
    try:
        for built in iter_build_course(course, out_dir, formats, **options):
            path, seconds = built.path, built.seconds
            if not check:
                packages.append(Package(path, seconds))
                continue
            kind, report = validate_path(path)
            packages.append(Package(path, seconds, kind, [str(p) for p in report], report.ok(strict=True)))
    except InvalidInputError as exc:
        return CourseResult(course, packages, [str(p) for p in exc.report], str(exc), exc.exit_code)
    except LocalMoocError as exc:
        return CourseResult(course, packages, [], str(exc), exc.exit_code)
    return CourseResult(course, packages)


_PRELOAD = ["localmooc_packager.build", "localmooc_packager.validators", "localmooc_packager.source.loader"]


def _worker_context() -> multiprocessing.context.BaseContext:
    """fork when this process runs one thread: workers start with its imports (XBlock, lxml, ...) loaded.
    A process with other threads (a server, a test runner's helpers) must not fork - a lock held by another
    thread would stay locked in the child - so it starts a clean fork server that imports the toolkit once."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        for name in _PRELOAD:
            importlib.import_module(name)
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def build_courses(
    courses: list[Path],
    out_dir: Path,
    formats: list[str],
    jobs: int = 0,
    check: bool = False,
    **options: Any,
) -> Iterator[CourseResult]:
    """Build each of ``courses`` into ``out_dir/<course folder name>/``; yields results in input order.

    ``jobs`` worker processes (0: one per available core, at most one per course); 1 builds in this
    process. ``check`` validates every package as a platform team would. A bug in a worker (an exception
    that is not a ``LocalMoocError``) propagates, as it would without workers.
    """
    from . import exporters

    for name in formats:
        exporters.get(name)  # an unknown format fails before any work, as in build_course
    targets = [(course, out_dir / course.name) for course in courses]
    jobs = jobs or default_jobs(len(courses))
    if jobs == 1 or len(courses) == 1:
        for course, target in targets:
            yield build_one(course, target, formats, check, options)
        return
    context = _worker_context()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures: list[Future[CourseResult]] = [
            pool.submit(build_one, course, target, formats, check, options) for course, target in targets
        ]
        try:
            for future in futures:
                yield future.result()
        except BaseException:
            # Interrupted (or a bug): no new course starts; builds in flight finish or leave nothing
            # half-written (every archive is written to a temporary file and renamed).
            pool.shutdown(wait=True, cancel_futures=True)
            raise
