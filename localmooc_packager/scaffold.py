"""`localmooc new`: a small valid Thai course from the template in templates/new-course/."""

from __future__ import annotations

import json
import re
from datetime import date
from importlib.resources import files
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
