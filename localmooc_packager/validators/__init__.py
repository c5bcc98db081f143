"""Validation of whatever a user points at: a course source folder, an OLX course, or a SCORM package."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..archive import archive_kind, describe_file
from ..errors import InvalidInputError, Report, UsageError, display_path

KINDS = ("source", "olx", "scorm")
# What a file name promises; the first bytes decide what it is.
_NAMED_KINDS = {".zip": "zip", ".tar": "tar", ".tgz": "tar", ".tbz2": "tar", ".txz": "tar"}
_TAR_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz")
_ENTRY_FILES = ("course.yaml", "course.xml", "imsmanifest.xml")


def _named_kind(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(_TAR_SUFFIXES):
        return "tar"
    return _NAMED_KINDS.get(Path(lower).suffix)


def check_archive_file(path: Path) -> str:
    """'zip' or 'tar' for a file that is the archive its name says; InvalidInputError (exit 1) naming what
    the file really is otherwise (a text file called .zip, a tar called .zip, an empty file)."""
    shown = display_path(path)
    actual = archive_kind(path)
    named = _named_kind(path.name)
    if actual is not None and named in (None, actual):
        return actual
    what = describe_file(path)
    if named is None:
        raise InvalidInputError(
            f"{shown}: not a folder, zip or tar archive this tool can validate: it is {what}"
        )
    expected = "a zip archive" if named == "zip" else "a tar archive (.tar, .tar.gz, .tgz)"
    raise InvalidInputError(f"{shown}: named like {expected}, but it is {what}")


def detect(path: Path) -> str:
    """'source', 'olx' or 'scorm' for ``path``; UsageError when it is none of them."""
    shown = display_path(path)
    if not path.exists():
        raise UsageError(f"{shown}: no such file or folder")
    if path.is_file() and path.name in _ENTRY_FILES:
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
    if not path.is_file():
        raise UsageError(f"{shown}: not a file or folder this tool can validate")
    if check_archive_file(path) == "zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n.rstrip("/").split("/")[-1] for n in zf.namelist()]
        except (zipfile.BadZipFile, OSError, ValueError):
            names = []
        # Only a manifest makes a zip SCORM; anything else goes through the OLX reader, whose safe
        # reading refuses hostile archives (and reports a missing course.xml) with exit status 1.
        return "scorm" if "imsmanifest.xml" in names else "olx"
    return "olx"


def _subdirs(path: Path) -> list[Path]:
    try:
        return [d for d in path.iterdir() if d.is_dir()]
    except OSError:
        return []


def validate_path(path: Path, kind: str | None = None, offline: bool = False) -> tuple[str, Report]:
    """Validate ``path`` as ``kind`` (detected when None); returns the kind and the report.

    ``offline`` (SCORM): the package must play without any network access; see docs/validate-scorm.md."""
    if kind in ("olx", "scorm") and path.is_file() and path.name not in _ENTRY_FILES:
        check_archive_file(path)
    kind = kind or detect(path)
    if kind == "source":
        from ..source import check_course

        return kind, check_course(path if path.is_dir() else path.parent)[1]
    if kind == "olx":
        from .olx import validate_olx

        return kind, validate_olx(path)
    if kind == "scorm":
        from .scorm import validate_scorm

        return kind, validate_scorm(path, offline=offline)
    raise UsageError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
