"""Exporters: one module per package format, found through the `localmooc.exporters` entry point group.

Built-in exporters register exactly like third-party ones. An exporter reads a ``CourseTree`` and writes
one archive into an output folder, returning its path.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BuildError, UsageError

if TYPE_CHECKING:
    from ..tree import CourseTree

GROUP = "localmooc.exporters"


class Exporter(Protocol):
    name: str
    description: str

    def export(self, tree: CourseTree, out_dir: Path, **options: Any) -> Path:
        """Write the package into ``out_dir``; return the archive's path."""
        ...


@cache
def _plugins() -> tuple[dict[str, Exporter], dict[str, str]]:
    """(working exporters, broken ones with the reason), by entry point name."""
    found: dict[str, Exporter] = {}
    broken: dict[str, str] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            exporter = ep.load()()
            missing = [a for a in ("name", "description", "export") if not hasattr(exporter, a)]
            if missing:
                raise TypeError(f"not an exporter (no {', '.join(missing)})")
            found[ep.name] = exporter
        except Exception as exc:  # a broken plug-in must not take the other formats down
            dist = ep.dist
            package = f"package {dist.metadata['Name']} {dist.version}, " if dist is not None else ""
            broken[ep.name] = f"{package}{ep.value}: {type(exc).__name__}: {exc}"
    return found, broken


def available() -> dict[str, Exporter]:
    """Installed, loadable exporters by name, in name order."""
    return _plugins()[0]


def broken() -> dict[str, str]:
    """Exporter plug-ins that are installed but fail to load, with the reason."""
    return _plugins()[1]


def get(name: str) -> Exporter:
    exporters, failed = _plugins()
    if name in failed:
        raise BuildError(f"the {name!r} exporter cannot be loaded ({failed[name]})")
    if name not in exporters:
        raise UsageError(f"unknown format {name!r}; available: {', '.join(exporters) or 'none'}")
    return exporters[name]


def package_stem(tree: CourseTree) -> str:
    """`<org>-<course>-<run>`: ASCII by construction (ids are checked)."""
    course = tree.course
    return f"{course.org}-{course.course}-{course.run}"
