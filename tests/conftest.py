"""Shared fixtures: the repository's paths, and a working directory at the repo root so that messages
show paths the way a user at the root types them."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
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


def pack_folder(source: Path, archive: Path, top: str = "") -> None:
    """Pack a folder as .tar.gz or .zip, optionally under one top-level folder (Studio's export layout)."""
    files = sorted(p for p in source.rglob("*") if p.is_file())
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in files:
                zf.write(f, f"{top}{f.relative_to(source).as_posix()}")
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for f in files:
                tf.add(f, f"{top}{f.relative_to(source).as_posix()}")
