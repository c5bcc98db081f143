"""Compare two course sources (typically two imports of the same course) and list every difference.

Used to prove the OLX round trip (import -> OLX export -> import gives the same source): the course
data with includes spliced in (block types, ids, titles, fields, children order), html bodies as the
loader reads them, raw OLX blocks and every file they name byte for byte, and static/ byte for byte.
Reference copies under olx/ are not compared: an OLX export writes those files anew.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..safe import read_text
from ..source.reader import path_text, read_source

# Files compared as data (course.yaml and its includes) or not at all (reference copies).
_DATA_SUFFIXES = (".yaml", ".yml")
_REFERENCE = "olx/"


def _load(course_dir: Path) -> dict[str, Any]:
    tree, report = read_source(course_dir)
    if tree is None or report.errors:
        raise InvalidInputError(f"{course_dir}: cannot read the course source", report)
    return tree.data


def _diff_data(a: Any, b: Any, path: tuple[str | int, ...], out: list[str]) -> None:
    where = path_text(path) or "(course)"
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() | b.keys():
            if key not in b:
                out.append(f"{path_text((*path, key))}: {a[key]!r} only in the first")
            elif key not in a:
                out.append(f"{path_text((*path, key))}: {b[key]!r} only in the second")
            else:
                _diff_data(a[key], b[key], (*path, key), out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items / {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff_data(x, y, (*path, i), out)
    elif a != b or (isinstance(a, bool) is not isinstance(b, bool)):  # True == 1, but not the same setting
        out.append(f"{where}: {a!r} / {b!r}")


def _files(course_dir: Path) -> dict[str, Path]:
    found = {}
    for path in course_dir.rglob("*"):
        if path.is_file():
            rel = path.relative_to(course_dir).as_posix()
            if not rel.startswith(_REFERENCE) and not rel.endswith(_DATA_SUFFIXES):
                found[rel] = path
    return found


def _same_file(rel: str, a: Path, b: Path) -> bool:
    if rel.startswith("html/") and rel.endswith(".html"):
        # An html body is read with surrounding whitespace stripped; the export writes it that way.
        return read_text(a).strip() == read_text(b).strip()
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


def diff_sources(first: Path, second: Path) -> list[str]:
    """Every difference between two course sources, one readable line each; [] when they are the same."""
    out: list[str] = []
    _diff_data(_load(first), _load(second), (), out)
    fa, fb = _files(first), _files(second)
    for rel in sorted(fa.keys() | fb.keys()):
        if rel not in fb:
            out.append(f"file {rel}: only in the first")
        elif rel not in fa:
            out.append(f"file {rel}: only in the second")
        elif not _same_file(rel, fa[rel], fb[rel]):
            out.append(f"file {rel}: contents differ")
    return sorted(out)
