"""Source validation stays linear: file-system resolutions per folder, never per reference or per message.

Counted by wrapping os.path.realpath (Path.resolve calls it too). Courses of the same folders but five
times the units, references and messages must cost the same number of resolutions.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localmooc_packager.errors import DisplayPaths, LazyDisplayPath, display_path
from localmooc_packager.source import check_course

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import shapes  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shapes")


class Counter:
    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def realpaths(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    counter = Counter()
    real = os.path.realpath

    def counted(path: object, *args: object, **kwargs: object) -> str:
        counter.calls += 1
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os.path, "realpath", counted)
    yield counter


def _validate_counting(course: Path, counter: Counter) -> tuple[int, list[str]]:
    counter.calls = 0
    _tree, report = check_course(course)
    return counter.calls, [str(p) for p in report]


# Each pair of sizes of a shape uses the same folders (pages/p0, static/a0, sections/ ...); deep-include has
# one folder per 10 units, so it is compared with its folder count below.
@pytest.mark.parametrize(
    ("shape", "sizes"),
    [
        ("markdown", (12, 60)),
        ("html-files", (12, 60)),
        ("imported", (60, 100)),  # the importer writes a file per chapter from 50 units on
        ("quiz-heavy", (12, 60)),
        ("asset-heavy", (12, 60)),
    ],
)
def test_resolutions_do_not_grow_with_units(
    shape: str, sizes: tuple[int, int], cache: Path, realpaths: Counter
) -> None:
    small, problems_small = _validate_counting(shapes.course(shape, sizes[0], cache), realpaths)
    large, problems_large = _validate_counting(shapes.course(shape, sizes[1], cache), realpaths)
    assert problems_small == problems_large == []
    assert large == small, f"{shape}: {small} resolutions for 12 units, {large} for 60"
    assert small <= 12


def test_includes_resolve_once_per_folder(cache: Path, realpaths: Counter) -> None:
    for units in (20, 100):
        course = shapes.course("deep-include", units, cache)
        folders = {p.parent for p in course.rglob("*.yaml")}
        calls, problems = _validate_counting(course, realpaths)
        assert problems == []
        # 100 units: 100 unit files, 50 quiz files, 10 subsection and 2 section files in 22 folders.
        assert calls <= len(folders) + 4, (units, calls, len(folders))


def test_messages_do_not_resolve_paths(tmp_path: Path, cache: Path, realpaths: Counter) -> None:
    """Every page of html-files links a missing image: one message per page, the same resolutions."""
    counts = []
    for units in (12, 60):
        course = tmp_path / f"broken-{units}"
        shutil.copytree(shapes.course("html-files", units, cache), course)
        for page in (course / "pages").rglob("*.html"):
            page.write_text(page.read_text(encoding="utf-8").replace("fig", "nofig", 1), encoding="utf-8")
        calls, problems = _validate_counting(course, realpaths)
        assert len(problems) == units
        counts.append(calls)
    assert counts[0] == counts[1]


def test_message_paths_are_those_display_path_gives(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    course = tmp_path / "course"
    shutil.copytree(shapes.course("html-files", 12, cache), course)
    page = course / "pages" / "p0" / "u3.html"
    page.write_text(page.read_text(encoding="utf-8").replace("fig", "nofig", 1), encoding="utf-8")
    for cwd in (tmp_path, course, course / "pages", Path("/")):
        monkeypatch.chdir(cwd)
        _tree, report = check_course(course)
        [problem] = report.errors
        assert problem.location.file == display_path(page)
        assert problem.code == "asset-missing"


def test_display_paths_match_display_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "flink").symlink_to(tmp_path / "a" / "b" / "f.txt")
    (tmp_path / "dangling").symlink_to("nowhere/x")
    outside = tmp_path.parent
    for cwd in (tmp_path, tmp_path / "a", outside):
        monkeypatch.chdir(cwd)
        paths = DisplayPaths()
        for case in (
            "a/b/f.txt",
            "link/b/f.txt",
            "a/flink",
            "a/../a/b",
            "link/..",
            ".",
            "a/",
            "missing/x",
            "/",
            "dangling/y/f.txt",
            "a/b/../../link/b/f.txt",
        ):
            for given in (case, Path(case), tmp_path / case):
                assert paths.show(given) == display_path(given), (cwd, given)
                assert paths.real(given) == str(Path(given).resolve()), (cwd, given)


def test_lazy_display_path_resolves_only_when_shown(realpaths: Counter, tmp_path: Path) -> None:
    realpaths.calls = 0
    lazy = LazyDisplayPath(tmp_path / "x.yaml")
    assert realpaths.calls == 0
    assert f"{lazy}: file not found" == f"{display_path(tmp_path / 'x.yaml')}: file not found"
    assert realpaths.calls == 4  # two for the f-string of the lazy path, two for display_path's own
