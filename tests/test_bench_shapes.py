"""The benchmark corpus (benchmarks/shapes.py) and the shapes table of benchmarks/run.py.

Behaviour only: every shape is a valid course of the size asked for, generation is deterministic and
cached, and `run.py --quick` produces its table and JSON on the smallest size. No time is asserted.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from localmooc_packager.source import check_course

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import shapes  # noqa: E402

UNITS = 12


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shapes")


@pytest.mark.parametrize("shape", shapes.SHAPES)
def test_every_shape_is_a_clean_course_of_its_size(shape: str, cache: Path) -> None:
    course = shapes.course(shape, UNITS, cache)
    tree, report = check_course(course)
    assert [str(p) for p in report] == []
    assert tree is not None
    units = [b for b, _depth in tree.walk() if b.scope_ids.block_type == "lm-unit"]
    assert len(units) == UNITS + 1  # and the post-test's unit


def test_shapes_have_their_shape(cache: Path) -> None:
    html = shapes.course("html-files", UNITS, cache)
    page = next((html / "pages").rglob("*.html")).read_text(encoding="utf-8")
    assert page.count("static/") >= 8
    quiz = (shapes.course("quiz-heavy", UNITS, cache) / "sections" / "s0.yaml").read_text(encoding="utf-8")
    assert quiz.count("prompt:") == 10 * UNITS
    assets = shapes.course("asset-heavy", UNITS, cache) / "static"
    assert sum(1 for p in assets.rglob("*") if p.is_file()) >= 1000
    deep = shapes.course("deep-include", UNITS, cache)
    assert len(list(deep.rglob("u*.yaml"))) == UNITS
    assert len(list(deep.rglob("quizzes/*.yaml"))) == UNITS // 2
    imported = shapes.course("imported", UNITS, cache)
    yaml_text = "".join(p.read_text(encoding="utf-8") for p in imported.rglob("*.yaml"))
    assert len(list((imported / "html").glob("*.html"))) == UNITS
    assert yaml_text.count("type: quiz") == UNITS + 1  # a practice quiz per unit, and the post-test


def test_generation_is_deterministic_and_cached(tmp_path: Path, cache: Path) -> None:
    for shape in shapes.SHAPES:
        first = shapes.course(shape, UNITS, cache)
        again = shapes.course(shape, UNITS, tmp_path)
        assert _digest(first) == _digest(again), shape
    archive = shapes.studio_archive(UNITS, cache)
    assert archive.read_bytes() == shapes.studio_archive(UNITS, tmp_path).read_bytes()
    # Cached: a second call neither rewrites nor regenerates.
    stamp = (cache / f"v{shapes.VERSION}" / f"markdown-{UNITS}" / "course" / "course.yaml").stat().st_mtime_ns
    shapes.course("markdown", UNITS, cache)
    assert (
        cache / f"v{shapes.VERSION}" / f"markdown-{UNITS}" / "course" / "course.yaml"
    ).stat().st_mtime_ns == stamp


def test_an_interrupted_generation_is_redone(tmp_path: Path) -> None:
    holder = tmp_path / f"v{shapes.VERSION}" / f"quiz-heavy-{UNITS}"
    (holder / "course").mkdir(parents=True)
    (holder / "course" / "half-written.yaml").write_text("id: x\n")
    course = shapes.course("quiz-heavy", UNITS, tmp_path)
    assert not (course / "half-written.yaml").exists()
    assert check_course(course)[1].errors == []


def test_run_py_quick_prints_the_table_and_writes_the_json(tmp_path: Path) -> None:
    out = tmp_path / "results-shapes.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--only",
            "shapes",
            "--shapes",
            "imported",
            "--shape-units",
            "10",
            "--cache",
            str(tmp_path / "cache"),
            "--shapes-json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    measures = [row["measure"] for row in data["rows"]]
    assert measures == [
        "build olx",
        "build scorm12",
        "build scorm2004",
        "validate source",
        "validate olx",
        "import",
    ]
    for row in data["rows"]:
        assert row["shape"] == "imported" and row["units"] == 10
        assert row["ours_cpu"] > 0 and row["peer_cpu"] > 0 and row["ratio_cpu"] > 0
        assert row["peer"] in ("tar czf", "zip -qrX", "read+parse", "olxcleaner", "tar xzf")
        if row["measure"] != "validate olx":
            assert row["peak_rss_mb"] > 10
        if row["measure"] in ("validate source", "validate olx"):
            assert row["errors"] == 0
    assert len(data["meta"]["load_average_start"]) == 3
    assert "CPU time" in data["meta"]["ratio"]
    assert data["meta"]["complete"] is True
    table = [line for line in done.stdout.splitlines() if line.startswith("| imported |")]
    assert len(table) == 6
    assert "| shape | units | measure |" in done.stdout
