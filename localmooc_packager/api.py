"""The library API for platforms: small, typed, eager. ``localmooc_packager`` re-exports everything here.

Every path parameter takes ``str`` or any ``os.PathLike``; every function does its work when called and
returns plain objects; wrong arguments raise :class:`UsageError` with a sentence saying what to give.
Heavy modules (XBlock, lxml, SQLAlchemy) are imported inside the functions, so importing the package
stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Problem, Report, UsageError

if TYPE_CHECKING:
    from .importers.olx import ImportReport
    from .runtime.store import Store
    from .tree import CourseTree

StrPath = str | os.PathLike[str]

KINDS = ("source", "olx", "scorm")


def as_path(value: object, what: str) -> Path:
    """``value`` as a Path; UsageError naming the parameter when it is not a path (None, a number, '')."""
    if isinstance(value, Path):
        return value
    if isinstance(value, str | os.PathLike):
        text = os.fspath(value)
        if isinstance(text, bytes):
            raise UsageError(f"{what}: give a str or os.PathLike of str, not bytes")
        if not text:
            raise UsageError(f"{what} is empty: give the path of a file or folder")
        return Path(text)
    raise UsageError(f"{what} must be a path (str or os.PathLike), not {type(value).__name__}")


# --------------------------------------------------------------------------------------------------------
# Course source


def check_course(course_dir: StrPath) -> tuple[CourseTree | None, Report]:
    """Read and check a course source folder; returns its block tree (None when it has errors) and every
    problem found. Raises ``UsageError`` when the folder or its course.yaml is missing."""
    from .source import check_course as check

    return check(_course_folder(course_dir))


def load_course(course_dir: StrPath) -> CourseTree:
    """The block tree of a valid course folder; raises ``InvalidInputError`` carrying the report otherwise."""
    from .source import load_course as load

    return load(_course_folder(course_dir))


def _course_folder(value: object) -> Path:
    path = as_path(value, "course_dir")
    return path.parent if path.name == "course.yaml" and path.is_file() else path


# --------------------------------------------------------------------------------------------------------
# Building


@dataclass(frozen=True)
class BuiltPackage:
    """One archive written by :func:`build_course`."""

    format: str
    path: Path
    seconds: float

    def __iter__(self) -> Iterator[Path | float]:
        """Unpacks as ``(path, seconds)``, the pairs the build used to yield."""
        return iter((self.path, self.seconds))


def build_course(
    course_dir: StrPath,
    out_dir: StrPath,
    formats: str | Sequence[str] | None = None,
    *,
    olx_flavor: str = "stock",
) -> list[BuiltPackage]:
    """Check a course folder and write one package per format into ``out_dir``; returns what was written.

    ``formats``: a name or a list of names from :func:`list_formats` (default: every installed format).
    Raises ``InvalidInputError`` (with every problem) before anything is written when the course is
    invalid, ``UsageError`` for an empty or unknown format, ``BuildError`` when an exporter fails.
    """
    from .build import iter_build_course

    return list(iter_build_course(course_dir, out_dir, formats, olx_flavor=olx_flavor))


def list_formats() -> list[FormatInfo]:
    """Every installed export format (``localmooc.exporters`` entry points), broken plug-ins included."""
    from .plugins import list_formats as formats

    return formats()


def list_blocks() -> list[BlockInfo]:
    """Every installed block type (``xblock.v1`` entry points) with its fields and origin package."""
    from .plugins import list_blocks as blocks

    return blocks()


# --------------------------------------------------------------------------------------------------------
# Validating, importing and reading packages


def validate_path(path: StrPath, kind: str | None = None) -> tuple[str, Report]:
    """Validate a course source folder, an OLX course (folder or archive) or a SCORM package.

    ``kind`` is ``"source"``, ``"olx"`` or ``"scorm"`` (detected when None). Returns the kind and the report.
    """
    from .validators import validate_path as validate

    if kind is not None and kind not in KINDS:
        raise UsageError(f"kind {kind!r}: use one of {', '.join(KINDS)} (or None to detect it)")
    return validate(as_path(path, "path"), kind)


def import_olx(source: StrPath, out_dir: StrPath, check: bool = True) -> ImportReport:
    """Turn an Open edX export (.tar.gz, .zip or folder) into a new course source folder ``out_dir``."""
    from .importers.olx import import_olx as run_import

    return run_import(as_path(source, "source"), as_path(out_dir, "out_dir"), check=check)


@dataclass
class OutlineEntry:
    """One node of a package's outline: ``kind`` is the package's own word (section, chapter, item...)."""

    kind: str
    id: str
    title: str
    children: list[OutlineEntry] = field(default_factory=list)

    def walk(self) -> list[OutlineEntry]:
        """This entry and every entry under it, in document order."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


@dataclass
class PackageInfo:
    """What :func:`open_package` found: the kind, metadata, outline and problems of a package."""

    path: Path
    kind: str  # source | olx | scorm
    title: str
    metadata: dict[str, str]
    outline: list[OutlineEntry]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return Report(list(self.problems)).ok()


def open_package(path: StrPath) -> PackageInfo:
    """Read a course source folder, an OLX course (folder, .tar.gz or .zip) or a SCORM package (folder or
    .zip) in place, without extracting anything to disk; returns its metadata, outline and problems.

    Problems of the package are returned as data; only a path that is none of these raises ``UsageError``
    (and an unreadable archive ``InvalidInputError``).
    """
    from .packages import open_package as read

    return read(as_path(path, "path"))


# --------------------------------------------------------------------------------------------------------
# The runtime


def open_store(db_url: str) -> Store:
    """The reference runtime's learner-state store on a SQLAlchemy URL (``sqlite:///FILE`` or
    ``postgresql+psycopg://USER@HOST/DB``), its schema created or migrated. Call ``dispose()`` when done."""
    if not isinstance(db_url, str) or "://" not in db_url:
        raise UsageError(
            f"db_url {db_url!r}: give a SQLAlchemy URL such as sqlite:///runtime.db "
            "or postgresql+psycopg://user@host/db"
        )
    from .runtime.store import Store

    store = Store(db_url)
    try:
        store.upgrade()
    except BaseException:
        store.dispose()
        raise
    return store


# --------------------------------------------------------------------------------------------------------
# Scaffolding


def new_xblock(name: str, out_dir: StrPath = ".") -> Path:
    """Write an installable XBlock package for block type ``name`` into ``out_dir``/``name``; returns it."""
    from .scaffold import scaffold_xblock

    return scaffold_xblock(name, as_path(out_dir, "out_dir"))


if TYPE_CHECKING:
    from .plugins import BlockInfo, FormatInfo
