"""OLX for the reference runtime: turn Open edX courses into the course folders ``localmooc serve`` loads.

The runtime loads course sources (folders holding course.yaml). An OLX course - a Studio export as a
.tar.gz/.zip or unpacked, or an archive the toolkit's own OLX export made - is imported into a work
folder first (``import_olx``: the same mapping, report and checks as ``localmooc import``), so the runtime
shows exactly what an import would give: mapped blocks as the toolkit's blocks, everything else as a
"not available here" card naming its Open edX block type (xblocks/raw.py).

The runtime's side is one call::

    from localmooc_packager.importers.runtime import runtime_courses
    loaded = load_courses(runtime_courses(path, work_dir))
"""

from __future__ import annotations

from pathlib import Path

from ..archive import is_archive
from ..errors import InvalidInputError, UsageError, display_path
from .olx import ImportReport, import_olx

__all__ = ["is_olx", "runtime_courses"]


def is_olx(path: Path) -> bool:
    """An OLX archive, or a folder with course.xml at the top or in its only top-level folder."""
    if path.is_file():
        return is_archive(path)
    if not path.is_dir() or (path / "course.yaml").is_file():
        return False
    if (path / "course.xml").is_file():
        return True
    # Studio's layout: one top-level folder holding course.xml (several folders make a folder of courses).
    folders = [child for child in path.iterdir() if child.is_dir() and not child.name.startswith(".")]
    return len(folders) == 1 and (folders[0] / "course.xml").is_file()


def _name(path: Path) -> str:
    name = path.name
    for suffix in (".olx.tar.gz", ".tar.gz", ".tgz", ".tar", ".zip"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def runtime_courses(path: Path, work_dir: Path) -> Path:
    """A folder ``load_courses`` accepts, for ``path``: a course source, an OLX course, or a folder of both.

    Sources are used where they are; each OLX course is imported into ``work_dir/NAME/`` (``work_dir``
    must not exist or be empty). Returns ``path`` itself when it holds no OLX. Raises InvalidInputError
    naming the course whose import has errors, UsageError when ``path`` holds no course at all.
    """
    path, work_dir = Path(path), Path(work_dir)
    if (path / "course.yaml").is_file():
        return path
    if is_olx(path):
        items = [path]
    elif path.is_dir():
        items = sorted(p for p in path.iterdir() if (p / "course.yaml").is_file() or is_olx(p))
    else:
        items = []
    if not items:
        raise UsageError(f"{display_path(path)}: no course source (course.yaml) or OLX course found")
    if not any(is_olx(p) for p in items):
        return path
    work_dir.mkdir(parents=True, exist_ok=True)
    if any(work_dir.iterdir()):
        raise UsageError(f"{display_path(work_dir)} is not empty")
    for item in items:
        target = work_dir / _name(item)
        if target.exists():
            raise UsageError(f"{display_path(item)}: two courses would be named {target.name!r}")
        if is_olx(item):
            _check(import_olx(item, target), item)
        else:
            target.symlink_to(item.resolve(), target_is_directory=True)
    return work_dir


def _check(report: ImportReport, item: Path) -> None:
    if report.errors:
        lines = "\n".join(f"  {p}" for p in report.errors)
        raise InvalidInputError(
            f"{display_path(item)}: the imported course has errors:\n{lines}", report.problems
        )
