"""localmooc-packager: author, validate, package and run Thai MOOC courses (DLA Local MOOC).

The public API; everything else is internal. The pipeline functions are imported on first use, so that
`import localmooc_packager` (and the CLI's start-up) stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

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

__version__ = "0.1.0.dev0"

_LAZY = {
    "check_course": "localmooc_packager.source",  # folder -> (block tree or None, report)
    "load_course": "localmooc_packager.source",  # folder -> block tree, or InvalidInputError
    "build_course": "localmooc_packager.build",  # folder -> one archive per format
    "validate_path": "localmooc_packager.validators",  # source folder, OLX course or SCORM package -> report
    "import_olx": "localmooc_packager.importers.olx",  # Studio export -> course source folder
    "CourseTree": "localmooc_packager.tree",
}

__all__ = [
    "BuildError",
    "CourseTree",
    "InvalidInputError",
    "LocalMoocError",
    "Location",
    "Problem",
    "Report",
    "Severity",
    "UnsafeInputError",
    "UsageError",
    "__version__",
    "build_course",
    "check_course",
    "import_olx",
    "load_course",
    "validate_path",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
