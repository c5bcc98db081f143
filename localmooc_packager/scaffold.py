"""`localmooc new`: a small valid Thai course from the template in templates/new-course/; `localmooc
new-xblock`: an installable XBlock package from templates/new-xblock/."""

from __future__ import annotations

import json
import re
from datetime import date
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import UsageError, display_path

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _fiscal_round(today: date) -> tuple[str, date, date]:
    """The evaluation round containing ``today``: run name (B.E. fiscal year _ round) and its dates."""
    fy_be = today.year + 543 + (1 if today.month >= 10 else 0)
    if today.month >= 10 or today.month <= 3:
        first = date(today.year if today.month >= 10 else today.year - 1, 10, 1)
        return f"{fy_be}_1", first, date(first.year + 1, 3, 31)
    return f"{fy_be}_2", date(today.year, 4, 1), date(today.year, 9, 30)


def scaffold(path: Path, course_id: str, title: str, org: str, today: date | None = None) -> Path:
    """Write the template course into ``path``; refuses to touch a folder that has files in it."""
    if not ID.match(course_id):
        raise UsageError(f"course id {course_id!r}: use ASCII letters, digits, '_', '-' or '.' (give --id)")
    if not ID.match(org):
        raise UsageError(f"org {org!r}: use ASCII letters, digits, '_', '-' or '.'")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{display_path(path)} exists and is not empty; choose a new folder")
    run, start, end = _fiscal_round(today or date.today())
    values = {
        "course_id": course_id,
        "org": org,
        "run": run,
        "title": json.dumps(title, ensure_ascii=False),
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    template = files(__package__) / "templates" / "new-course"
    for rel in ("course.yaml", "units/lesson1.md", "quizzes/pre.yaml", "static/.keep"):
        text = (template / rel).read_text(encoding="utf-8")
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.format(**values) if rel == "course.yaml" else text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------------
# `localmooc new-xblock`: an installable XBlock package from templates/new-xblock/ (Jinja2)

BLOCK_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_RESERVED = {
    "html",
    "video",
    "quiz",
    "olx",
    "course",
    "section",
    "subsection",
    "unit",
    "chapter",
    "sequential",
    "vertical",
    "problem",
}


def scaffold_xblock(name: str, out_dir: Path) -> Path:
    """Write the package for block type ``name`` into ``out_dir/name``; returns that folder.

    Refuses names that are not lower-case ASCII words joined by '-', names of this toolkit's or Open edX's
    own blocks, and a target folder that has files in it.
    """
    from jinja2 import Environment, StrictUndefined

    if not isinstance(name, str) or not BLOCK_NAME.match(name) or name.startswith("lm-"):
        raise UsageError(
            f"block name {name!r}: use lower-case ASCII letters and digits, words joined by '-' "
            "(e.g. flashcards, word-match); it becomes the `type:` of the block"
        )
    if name in _RESERVED:
        raise UsageError(f"block name {name!r} is a built-in block type; choose another name")
    target = out_dir / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{display_path(target)} exists and is not empty; choose a new folder")
    words = name.split("-")
    values = {
        "name": name,
        "module": "_".join(words) + "_xblock",
        "dist": f"{name}-xblock",
        "cls": "".join(w.capitalize() for w in words) + "Block",
        "title": " ".join(words).capitalize(),
    }
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)  # noqa: S701 (code, not HTML)
    template = files(__package__) / "templates" / "new-xblock"
    written: list[tuple[Path, str]] = []
    for rel, source in _walk(template, ""):
        out_rel = rel.removesuffix(".j2").replace("__module__", values["module"]).replace("__name__", name)
        written.append((target / out_rel, env.from_string(source).render(values)))
    for path, text in written:  # rendered first: a template error leaves nothing behind
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, str]]:
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                out.extend(_walk(entry, rel + "/"))
        elif entry.name.endswith(".j2"):
            out.append((rel, entry.read_text(encoding="utf-8")))
    return out
