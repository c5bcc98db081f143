"""Exporters: one module per package format, found through the `localmooc.exporters` entry point group.

Built-in exporters register exactly like third-party ones. An exporter reads a ``CourseTree`` and writes
one archive into an output folder, returning its path.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from ..errors import UsageError
from ..tree import CourseTree


class Exporter(Protocol):
    name: str
    description: str

    def export(self, tree: CourseTree, out_dir: Path, **options: Any) -> Path:
        """Write the package into ``out_dir``; return the archive's path."""
        ...


@cache
def available() -> dict[str, Exporter]:
    """Installed exporters by name, in name order."""
    found: dict[str, Exporter] = {}
    for ep in sorted(entry_points(group="localmooc.exporters"), key=lambda e: e.name):
        found[ep.name] = ep.load()()
    return found


def get(name: str) -> Exporter:
    exporters = available()
    if name not in exporters:
        raise UsageError(f"unknown format {name!r}; available: {', '.join(exporters) or 'none'}")
    return exporters[name]


def package_stem(tree: CourseTree) -> str:
    """`<org>-<course>-<run>`: ASCII by construction (ids are checked)."""
    course = tree.course
    return f"{course.org}-{course.course}-{course.run}"
