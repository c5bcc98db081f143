"""The XBlock side of the runtime: courses loaded once per worker, and a per-request runtime for one learner.

Content and settings fields come from the loaded ``CourseTree`` (its in-memory store, shared read-only by
every request of the worker); user-scoped fields come from the SQL ``KeyValueStore`` of the request's
transaction. ``publish`` collects grade and completion events, which the store writes in that same
transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xblock.core import XBlock
from xblock.fields import Scope
from xblock.runtime import DictKeyValueStore, KeyValueStore

from ..errors import InvalidInputError, UsageError
from ..grading import CourseGrading, course_grading
from ..tree import CourseTree
from ..xblock_compat import FrozenDict, FrozenList
from . import compat
from .compat import block_field_data, field_data_kvs
from .storage.schema import USER_SCOPES

# Block types whose completion the runtime records when their unit is shown (Open edX does this for html).
VIEW_COMPLETES = ("lm-html",)
# Blocks that count toward completion %: content a learner must see, watch or answer.
COMPLETABLE = ("lm-html", "lm-video", "lm-quiz")


def freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    return value


class ResourceRegistry:
    """Fragment CSS/JS served from /assets/frag/HASH.EXT: the CSP forbids inline scripts and styles.

    Names are content hashes, so every worker computes the same URL for the same text.
    """

    def __init__(self) -> None:
        self.items: dict[str, tuple[str, bytes]] = {}

    def add(self, mimetype: str, text: str) -> str:
        ext = "css" if mimetype == "text/css" else "js"
        name = f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.{ext}"
        if name not in self.items:
            self.items[name] = (mimetype, text.encode())
        return f"/assets/frag/{name}"

    def get(self, name: str) -> tuple[str, bytes] | None:
        return self.items.get(name)


RESOURCES = ResourceRegistry()


@dataclass
class UnitInfo:
    id: str
    title: str
    section: str
    index: int
    blocks: list[str]  # content block ids, in order
    view_completes: list[str]


@dataclass
class QuizInfo:
    id: str
    title: str
    role: str
    possible: float
    unit: str


@dataclass
class LoadedCourse:
    """A course parsed once per worker, plus what pages and grading need, precomputed."""

    id: str
    tree: CourseTree
    kvs: KeyValueStore
    meta: dict[str, Any]
    units: list[UnitInfo]
    grading: CourseGrading
    quizzes: list[QuizInfo]
    completable: list[str]
    block_types: dict[str, str]
    classes: dict[str, type[XBlock]]
    summary_blocks: set[str] = field(default_factory=set)
    # (usage id, field name) -> frozen value of every content/settings/children field the course sets.
    static_fields: dict[tuple[str, str], Any] = field(default_factory=dict)
    # usage id -> {field name: value} a block's first read of each unchangeable course field would cache
    # (``compat.prime_field_cache``): a request's block starts with them.
    field_cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    due: dict[str, str] = field(default_factory=dict)  # block id -> its subsection's due date (ISO)

    @property
    def unit_index(self) -> dict[str, UnitInfo]:
        return self._unit_index

    def __post_init__(self) -> None:
        self._unit_index = {u.id: u for u in self.units}
        if not self.field_cache:
            self.field_cache = decoded_fields(self.static_fields, self.classes, self.block_types)

    def static_file(self, rel: str) -> Path | None:
        """A file under the course's static/ folder, or None (no path escapes the folder; NUL or other
        control characters are no file name)."""
        if any(ord(ch) < 32 for ch in rel):
            return None
        base = (self.tree.source_dir / "static").resolve()
        path = (base / rel).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            return None
        return path


def load_course_dir(path: Path, trusted_html: bool = False) -> LoadedCourse:
    """Load and index one course. Its HTML is sanitised unless the operator trusts the source: a course
    may come from an imported package, and the runtime serves it to learners with their session."""
    from ..sanitize import sanitize_tree
    from ..source import load_course

    tree = load_course(path)
    if not trusted_html:
        sanitize_tree(tree)
    return prepare(tree)


def prepare(tree: CourseTree) -> LoadedCourse:
    """Index a loaded tree: units in course order, quizzes, completable blocks, block classes."""
    course = tree.course
    units: list[UnitInfo] = []
    quizzes: list[QuizInfo] = []
    completable: list[str] = []
    types: dict[str, str] = {}
    classes: dict[str, type[XBlock]] = {}
    summary: set[str] = set()
    section = ""
    due_now = ""
    due: dict[str, str] = {}
    for block, _depth in tree.walk():
        uid = str(block.scope_ids.usage_id)
        kind = block.scope_ids.block_type
        types[uid] = kind
        classes.setdefault(kind, type(block))
        if any(f.scope == Scope.user_state_summary for f in type(block).fields.values()):
            summary.add(uid)
        if kind == "lm-section":
            section = block.display_name
        elif kind == "lm-subsection":
            due_now = block.due
        elif kind == "lm-unit":
            ids = [str(c) for c in block.children]
            units.append(UnitInfo(uid, block.display_name, section, len(units), ids, []))
        elif units and uid in units[-1].blocks:
            if kind in VIEW_COMPLETES:
                units[-1].view_completes.append(uid)
            if kind in COMPLETABLE:
                completable.append(uid)
            if due_now:
                due[uid] = due_now
            if kind == "lm-quiz":
                quizzes.append(QuizInfo(uid, block.display_name, block.role, block.max_score(), units[-1].id))
    loaded = LoadedCourse(
        str(tree.root_id),
        tree,
        field_data_kvs(tree.runtime.service(course, "field-data")),
        course_meta(course),
        units,
        course_grading(tree),
        quizzes,
        completable,
        types,
        classes,
        summary,
        static_index(tree, types),
        due=due,
    )
    # Register the fragments' CSS/JS now, so any worker can serve them before it renders a page.
    from .learner_runtime import render_unit

    for unit in units:
        render_unit(loaded, None, unit.id, "th", DictKeyValueStore())
    return loaded


def course_meta(course: Any) -> dict[str, Any]:
    """What pages and rules read of the course block, as plain values."""
    return {
        "title": course.display_name,
        "short_description": course.short_description,
        "description": course.description,
        "category": course.category,
        "language": course.language,
        "hours": course.hours,
        "start": course.start,
        "end": course.end,
        "enrollment_start": course.enrollment_start,
        "enrollment_end": course.enrollment_end,
        "image": course.image,
        "audience": list(course.audience),
        "pass_threshold": course.pass_threshold,
        "org": course.org,
    }


def static_index(tree: CourseTree, types: dict[str, str]) -> dict[tuple[str, str], Any]:
    """(usage id, field name) -> frozen value of every content/settings/children field the course sets."""
    static: dict[tuple[str, str], Any] = {}
    for uid in types:
        block = tree.block(uid)
        data = block_field_data(block)
        for name, fld in block.fields.items():
            if fld.scope not in USER_SCOPES and data.has(block, name):
                static[(uid, name)] = freeze(data.get(block, name))
    return static


# What a field's ``from_json`` may return and the cache may hold for every request: values nothing can change.
_UNCHANGEABLE = (str, int, float, bool, type(None), FrozenDict, FrozenList)


def decoded_fields(
    static: dict[tuple[str, str], Any], classes: dict[str, type[XBlock]], types: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Per usage id, what the first read of each course (non-user) field caches: ``from_json`` of the
    course's value, or the field's default when the course sets none. Only values that cannot change: a
    ``Set``, a date, a list or dict default, a per-block unique id are computed per block, as XBlock does."""
    out: dict[str, dict[str, Any]] = {}
    for uid, kind in types.items():
        cls = classes.get(kind)
        if cls is None:
            continue
        primed: dict[str, Any] = {}
        for name, fld in cls.fields.items():  # type: ignore[attr-defined]
            if fld.scope in USER_SCOPES:
                continue
            if (uid, name) in static:
                value = fld.from_json(static[(uid, name)])
            elif compat.has_unique_id_default(fld):
                continue
            else:
                value = fld.default
            if type(value) in _UNCHANGEABLE:
                primed[name] = value
        out[uid] = primed
    return out


def load_courses(
    path: Path, trusted_html: bool = False, skip: Callable[[Path, InvalidInputError], None] | None = None
) -> dict[str, LoadedCourse]:
    """One course folder, or a folder of course folders (those holding course.yaml).

    An invalid course raises, unless ``skip`` is given: then it is handed to ``skip`` and left out (``serve``
    reports it and serves the rest); with no valid course left, the first error is raised all the same."""
    if (path / "course.yaml").is_file():
        dirs = [path]
    elif path.is_dir():
        dirs = sorted(p for p in path.iterdir() if (p / "course.yaml").is_file())
    else:
        dirs = []
    if not dirs:
        raise UsageError(f"{path}: no course folder (with course.yaml) found")
    courses: dict[str, LoadedCourse] = {}
    first: InvalidInputError | None = None
    for d in dirs:
        try:
            c = load_course_dir(d, trusted_html)
        except InvalidInputError as exc:
            if skip is None:
                raise
            first = first or exc
            skip(d, exc)
            continue
        if c.id in courses:
            raise UsageError(f"{d}: course id {c.id!r} is used twice")
        courses[c.id] = c
    if not courses and first is not None:
        raise first
    return courses


def is_handler(course: LoadedCourse, block_id: str, name: str) -> bool:
    kind = course.block_types.get(block_id)
    if kind is None or kind not in course.classes:
        return False
    return compat.is_handler(course.classes[kind], name)
