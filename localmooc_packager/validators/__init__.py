"""Validation of whatever a user points at: a course source folder, an OLX course, or a SCORM package."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..archive import is_archive
from ..errors import Report, UsageError, display_path

KINDS = ("source", "olx", "scorm")


def detect(path: Path) -> str:
    """'source', 'olx' or 'scorm' for ``path``; UsageError when it is none of them."""
    shown = display_path(path)
    if not path.exists():
        raise UsageError(f"{shown}: no such file or folder")
    if path.is_file() and path.name in ("course.yaml", "course.xml", "imsmanifest.xml"):
        return detect(path.parent)
    if path.is_dir():
        if (path / "course.yaml").is_file():
            return "source"
        if (path / "imsmanifest.xml").is_file():
            return "scorm"
        if (path / "course.xml").is_file() or any((d / "course.xml").is_file() for d in _subdirs(path)):
            return "olx"
        if any((d / "imsmanifest.xml").is_file() for d in _subdirs(path)):
            return "scorm"
        raise UsageError(
            f"{shown}: not a course folder (no course.yaml), an OLX course (no course.xml) "
            "or a SCORM package (no imsmanifest.xml)"
        )
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n.rstrip("/").split("/")[-1] for n in zf.namelist()]
        except (zipfile.BadZipFile, OSError, ValueError):
            names = []
        # Only a manifest makes a zip SCORM; anything else goes through the OLX reader, whose safe
        # extraction refuses hostile archives (and reports a missing course.xml) with exit status 1.
        return "scorm" if "imsmanifest.xml" in names else "olx"
    if path.name.endswith((".zip", ".tar.gz", ".tgz", ".tar")) or is_archive(path):
        return "olx"
    raise UsageError(f"{shown}: not a folder, .zip or .tar.gz this tool can validate")


def _subdirs(path: Path) -> list[Path]:
    try:
        return [d for d in path.iterdir() if d.is_dir()]
    except OSError:
        return []


def validate_path(path: Path, kind: str | None = None) -> tuple[str, Report]:
    """Validate ``path`` as ``kind`` (detected when None); returns the kind and the report."""
    kind = kind or detect(path)
    if kind == "source":
        from ..source import check_course

        return kind, check_course(path if path.is_dir() else path.parent)[1]
    if kind == "olx":
        from .olx import validate_olx

        return kind, validate_olx(path)
    if kind == "scorm":
        from .scorm import validate_scorm

        return kind, validate_scorm(path)
    raise UsageError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
