"""Many courses at once: `localmooc build A B ...`, `localmooc samples` and batch.build_courses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from localmooc_packager.batch import build_courses

from conftest import FIXTURES, ROOT, sample_courses

BROKEN = FIXTURES / "source" / "quiz-answer-unknown"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localmooc_packager", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env=env,
    )


def test_samples_command_builds_and_checks_every_package(tmp_path: Path) -> None:
    done = _cli("samples", "sample_courses", "-o", str(tmp_path), "--jobs", "2")
    assert done.returncode == 0, done.stderr
    for course in sample_courses():
        built = sorted(p.name for p in (tmp_path / course.name).iterdir())
        assert [n.split(".", 1)[1] for n in built] == ["olx.tar.gz", "scorm12.zip", "scorm2004.zip"], built
    n = len(sample_courses())
    assert done.stdout.count("olx valid") == n and done.stdout.count("scorm valid") == 2 * n
    assert "INVALID" not in done.stdout


def test_several_courses_in_parallel_one_broken(tmp_path: Path) -> None:
    """The broken course is reported with its locations; the others are built, byte for byte as alone."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    courses = sample_courses()[:2]  # two good courses around the broken one
    done = _cli(
        "build",
        str(courses[0]),
        str(BROKEN),
        str(courses[1]),
        "--format",
        "olx",
        "-o",
        str(tmp_path / "many"),
        "-j",
        "2",
        env=env,
    )
    assert done.returncode == 1
    assert f"1 of {len(courses) + 1} course(s) failed" in done.stderr
    assert "quiz-answer-unknown" in done.stderr and "[quiz-answer-unknown]" in done.stderr
    assert f"{BROKEN.relative_to(ROOT)}/" in done.stderr or str(BROKEN) in done.stderr
    assert not (tmp_path / "many" / BROKEN.name).exists()  # nothing half-written for the broken one
    for course in courses:
        alone = _cli(
            "build", str(course), "--format", "olx", "-o", str(tmp_path / "alone" / course.name), env=env
        )
        assert alone.returncode == 0, alone.stderr
        [a] = (tmp_path / "alone" / course.name).iterdir()
        [b] = (tmp_path / "many" / course.name).iterdir()
        assert a.name == b.name and a.read_bytes() == b.read_bytes()


def test_build_courses_keeps_input_order_and_equals_one_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    courses = []
    for n in range(4):  # four copies under different folder names: more courses than workers
        copy = tmp_path / "src" / f"c{n}"
        shutil.copytree(sample_courses()[n % 2], copy)
        courses.append(copy)
    courses.insert(2, BROKEN)
    one = list(build_courses(courses, tmp_path / "one", ["scorm12"], jobs=1, check=True))
    two = list(build_courses(courses, tmp_path / "two", ["scorm12"], jobs=2, check=True))
    assert [r.course for r in two] == courses == [r.course for r in one]
    assert [r.ok for r in two] == [True, True, False, True, True]
    assert two[2].exit_code == 1 and any("[quiz-answer-unknown]" in p for p in two[2].problems)
    for a, b in zip(one, two, strict=True):
        assert [p.path.read_bytes() for p in a.packages] == [p.path.read_bytes() for p in b.packages]
        assert all(p.kind == "scorm" and p.valid for p in b.packages)


def test_workers_from_a_process_with_threads_do_not_fork_it(tmp_path: Path) -> None:
    """With another thread alive (a server, a test helper) the workers come from a clean fork server."""
    from localmooc_packager.batch import _worker_context

    assert _worker_context().get_start_method() == ("fork" if threading.active_count() == 1 else "forkserver")
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait, daemon=True)
    waiter.start()
    try:
        assert _worker_context().get_start_method() == "forkserver"
        courses = sample_courses()
        results = list(build_courses(courses, tmp_path, ["olx"], jobs=2))
    finally:
        stop.set()
        waiter.join()
    assert [r.course for r in results] == courses and all(r.ok for r in results)
    assert all(p.path.stat().st_size > 1_000 for r in results for p in r.packages)  # whole courses
