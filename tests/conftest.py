"""Shared fixtures: the repository's paths, and a working directory at the repo root so that messages
show paths the way a user at the root types them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_courses"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture
def sample_course() -> Path:
    return SAMPLES / "local-budget-basics"


@pytest.fixture
def course_copy(tmp_path: Path, sample_course: Path) -> Path:
    """A writable copy of the sample course, for tests that break it."""
    target = tmp_path / "course"
    shutil.copytree(sample_course, target)
    return target


def sample_courses() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if (p / "course.yaml").is_file())
