"""The sample courses as deliverables: one per programme category, each strict-clean, built in every format
with packages that pass the project's own validators, and each holding what a Local MOOC course needs
(three units or more, a pre-test, a post-test with explanations, an image with Thai alt text, a video with
Thai subtitles). Read through the real commands and the real packages, not through the source alone."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from localmooc_packager.cli import cli
from localmooc_packager.exporters import available
from localmooc_packager.source.reader import read_source

from conftest import ROOT, SAMPLES, sample_courses

# Besides the seven programme courses, the samples hold demos of plug-in blocks (flashcards-demo uses the
# example third-party XBlock of examples/flashcards): held to the same build and validation bar, but not
# counted as a programme category's course nor held to a full course's contents.
PLUGIN_DEMOS = {"flashcards-demo"}
ALL_COURSES = sample_courses()
COURSES = [c for c in ALL_COURSES if c.name not in PLUGIN_DEMOS]
SCHEMA = json.loads((ROOT / "schemas" / "course.schema.json").read_text(encoding="utf-8"))
THAI = re.compile(r"[\u0e01-\u0e5b]")
ASCII_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# Words a template or an unfinished page leaves behind; the scaffold's own default title included.
PLACEHOLDERS = ("lorem", "ipsum", "todo", "tbd", "fixme", "xxx", "placeholder", "หลักสูตรใหม่", "เขียนเนื้อหา")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def source(course: Path) -> dict[str, Any]:
    tree, report = read_source(course)
    assert tree is not None and not report.errors, [str(p) for p in report]
    return tree.data


def units(data: dict[str, Any]) -> list[dict[str, Any]]:
    if "units" in data:
        return data["units"]
    return [u for s in data["sections"] for sub in s["subsections"] for u in sub["units"]]


def blocks(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for u in units(data) for b in u["blocks"] if b["type"] == kind]


def as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def round_dates(run_name: str) -> tuple[date, date]:
    """The evaluation round a run such as '2570_1' names: B.E. fiscal year, round 1 (Oct-Mar) or 2 (Apr-Sep)."""
    fy_be, part = run_name.split("_")
    ce = int(fy_be) - 543
    return (date(ce - 1, 10, 1), date(ce, 3, 31)) if part == "1" else (date(ce, 4, 1), date(ce, 9, 30))


# The programme's seven categories (docs/course-format.md); the schema may accept Thai aliases as well.
CATEGORIES = [
    "local-finance",
    "local-personnel",
    "public-services",
    "local-law",
    "local-knowledge",
    "admin-techniques",
    "dla-facts",
]


def test_one_course_for_each_of_the_seven_categories() -> None:
    found = sorted(source(c)["category"] for c in COURSES)
    assert found == sorted(CATEGORIES)


def test_every_question_type_and_quiz_role_is_used() -> None:
    types = {name.removeprefix("question-") for name in SCHEMA["$defs"] if name.startswith("question-")}
    roles = {r for r in SCHEMA["$defs"]["block-quiz"]["properties"]["role"]["enum"] if r.isascii()}
    used_types, used_roles = set(), set()
    for course in COURSES:
        for quiz in blocks(source(course), "quiz"):
            used_roles.add(quiz.get("role", "practice"))
            used_types.update(q["type"] for q in quiz["questions"])
    assert types == {"single-choice", "multiple-choice", "true-false", "numeric", "short-text"}
    assert used_types == types
    assert used_roles == roles


def test_small_and_ascii_named() -> None:
    files = [p for p in SAMPLES.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 3_000_000
    for path in files:
        assert ASCII_NAME.match(path.name), path
        if path.suffix == ".mp4":
            assert path.stat().st_size < 100_000, path  # short and small: these ship in every package


@pytest.mark.parametrize("course", ALL_COURSES, ids=lambda p: p.name)
def test_strict_clean_and_every_package_valid(course: Path, tmp_path: Path) -> None:
    code, out = run("validate", "--strict", str(course))
    assert code == 0 and "valid (0 errors, 0 warnings)" in out, out
    code, out = run("build", str(course), "-o", str(tmp_path))
    assert code == 0, out
    packages = sorted(tmp_path.iterdir())
    formats = sorted(p.name.split(".")[1] for p in packages)
    assert formats == sorted(available()) and {"olx", "scorm12", "scorm2004"} <= set(formats)
    code, out = run("validate", "--strict", *map(str, packages))
    assert code == 0, out
    lines = out.strip().splitlines()
    assert len(lines) == len(packages) and all(
        line.endswith("valid (0 errors, 0 warnings)") for line in lines
    )
    assert sum("(olx): valid" in line for line in lines) == 1


@pytest.mark.parametrize("course", COURSES, ids=lambda p: p.name)
def test_what_a_local_mooc_course_holds(course: Path, tmp_path: Path) -> None:
    data = source(course)
    assert data["id"] and ASCII_NAME.match(data["id"]) and data["language"] == "th"
    assert (
        THAI.search(data["title"])
        and THAI.search(data["short_description"])
        and THAI.search(data["description"])
    )
    assert data["category"] in CATEGORIES
    assert len(units(data)) >= 3
    assert all(THAI.search(u["title"]) for u in units(data))

    # C.E. dates in YAML, and a run named after an evaluation round the course is open in.
    start, end = as_date(data["start"]), as_date(data["end"])
    assert start.year > 2000 and end.year < 2100 and start < end  # C.E., not B.E.
    assert re.fullmatch(r"25\d\d_[12]", data["run"]), data["run"]
    first, last = round_dates(data["run"])
    assert start <= last and end >= first, (data["run"], start, end)

    quizzes = blocks(data, "quiz")
    roles = [q.get("role", "practice") for q in quizzes]
    assert roles.count("pre-test") >= 1 and roles.count("post-test") == 1
    post = quizzes[roles.index("post-test")]
    assert len(post["questions"]) >= 4
    for quiz in quizzes:
        if quiz.get("role") in ("pre-test", "post-test"):
            for q in quiz["questions"]:
                assert THAI.search(q.get("explain", "")), (quiz["id"], q["prompt"])

    # What the learner gets: the built page has a Thai-described image and a video with Thai subtitles.
    code, out = run("build", str(course), "--format", "scorm2004", "-o", str(tmp_path))
    assert code == 0, out
    [package] = tmp_path.iterdir()
    with zipfile.ZipFile(package) as zf:
        page = zf.read("index.html").decode("utf-8")
        names = set(zf.namelist())
    images = re.findall(r'<img src="(static/[^"]+)" alt="([^"]*)"', page)
    assert any(THAI.search(alt) for _src, alt in images), images
    assert all(src in names for src, _alt in images)
    tracks = re.findall(r'<track kind="subtitles" src="(static/[^"]+\.vtt)" srclang="th"', page)
    assert tracks and all(t in names for t in tracks)
    sources = re.findall(r'<video [^>]*><source src="(static/[^"]+\.mp4)">', page)
    assert sources and all(s in names for s in sources)
    for video in blocks(data, "video"):
        vtt = (course / video["subtitles"]["th"]).read_text(encoding="utf-8")
        assert vtt.startswith("WEBVTT") and "-->" in vtt and THAI.search(vtt)
        assert (course / video["src"]).read_bytes()[4:8] == b"ftyp"  # an MP4, as the player expects

    # No template leftovers in any text the course ships.
    for path in course.rglob("*"):
        if path.suffix in (".yaml", ".md", ".html", ".vtt"):
            text = path.read_text(encoding="utf-8").lower()
            assert not [w for w in PLACEHOLDERS if re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text)], (
                path
            )
