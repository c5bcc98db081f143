"""localmooc-packager: author, validate, package and run Thai MOOC courses (DLA Local MOOC).

Functions (paths are ``str`` or ``os.PathLike``; each does its work when called; see docs/api.md):

    check_course(course_dir) -> (CourseTree | None, Report)   read and check a course source folder
    load_course(course_dir) -> CourseTree                     ... or raise InvalidInputError with the report
    build_course(course_dir, out_dir, formats=None) -> list[BuiltPackage]   write OLX / SCORM packages
    validate_path(path, kind=None) -> (kind, Report)          check a source folder, OLX course or SCORM zip
    open_package(path) -> PackageInfo                         metadata, outline and problems, read in place
    import_olx(source, out_dir) -> ImportReport               an Open edX export -> a course source folder
    open_store(db_url) -> Store                               the reference runtime's learner-state store
    list_formats() -> list[FormatInfo]                        installed export formats (plug-ins)
    list_blocks() -> list[BlockInfo]                          installed XBlock types with their fields
    new_xblock(name, out_dir=".") -> Path                     scaffold an installable XBlock package

Errors: every error raised on purpose derives from LocalMoocError: UsageError (wrong arguments),
InvalidInputError (its ``report`` lists every Problem), UnsafeInputError, BuildError.
Everything not listed in ``__all__`` is internal and may change.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .api import (
    BuiltPackage,
    OutlineEntry,
    PackageInfo,
    build_course,
    check_course,
    import_olx,
    list_blocks,
    list_formats,
    load_course,
    new_xblock,
    open_package,
    open_store,
    validate_path,
)
from .errors import (
    BuildError,
    InvalidInputError,
    LocalMoocError,
    Location,
    Problem,
    Report,
    Severity,
    UnsafeInputError,
    UsageError,
)
from .plugins import BlockInfo, FieldInfo, FormatInfo

__version__ = "0.1.0.dev0"

# Classes whose modules pull in XBlock and lxml: imported on first use, so `import localmooc_packager`
# (and the CLI's start-up) stays light.
_LAZY = {"CourseTree": "localmooc_packager.tree"}

__all__ = [
    "BlockInfo",
    "BuildError",
    "BuiltPackage",
    "CourseTree",
    "FieldInfo",
    "FormatInfo",
    "InvalidInputError",
    "LocalMoocError",
    "Location",
    "OutlineEntry",
    "PackageInfo",
    "Problem",
    "Report",
    "Severity",
    "UnsafeInputError",
    "UsageError",
    "__version__",
    "build_course",
    "check_course",
    "import_olx",
    "list_blocks",
    "list_formats",
    "load_course",
    "new_xblock",
    "open_package",
    "open_store",
    "validate_path",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
