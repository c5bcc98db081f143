"""The XBlock side of the runtime: courses loaded once per worker, and a per-request runtime for one learner.

Content and settings fields come from the loaded ``CourseTree`` (its in-memory store, shared read-only by
every request of the worker); user-scoped fields come from the SQL ``KeyValueStore`` of the request's
transaction. ``publish`` collects grade and completion events, which the store writes in that same
transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import webob
from web_fragments.fragment import Fragment
from xblock.core import XBlock
from xblock.fields import Scope, ScopeIds
from xblock.runtime import DictKeyValueStore, KeyValueStore, KvsFieldData, Runtime

from ..errors import UsageError
from ..grading import CourseGrading, course_grading
from ..tree import CourseTree, installed_aside_types
from . import compat
from .compat import block_field_data, field_data_kvs, is_json_handler
from .storage import HandlerCall, Published, SessionInfo, SqlKeyValueStore, Store
from .storage.schema import USER_SCOPES, RowKey

# Block types whose completion the runtime records when their unit is shown (Open edX does this for html).
VIEW_COMPLETES = ("lm-html",)
# Blocks that count toward completion %: content a learner must see, watch or answer.
COMPLETABLE = ("lm-html", "lm-video", "lm-quiz")
_STATIC_URL = re.compile(r'(\s(?:src|href|poster)=["\'])/static/')


class FrozenDict(dict[Any, Any]):
    """A course value shared by every request of a worker: reads as a dict, refuses changes.

    XBlock deep-copies every mutable field on first read (to see later whether it changed); for a quiz's
    questions that copy was a tenth of a submission. A frozen value cannot change, so it is its own copy,
    and a block that tries to change course content fails at once instead of corrupting it for everyone.
    """

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise TypeError("course content is read-only in the runtime")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self

    def __copy__(self) -> FrozenDict:
        return self


class FrozenList(list[Any]):
    """The list counterpart of ``FrozenDict``."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise TypeError("course content is read-only in the runtime")

    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = sort = reverse = _refuse  # type: ignore[assignment]
    __iadd__ = __imul__ = _refuse  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self

    def __copy__(self) -> FrozenList:
        return self


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
    due: dict[str, str] = field(default_factory=dict)  # block id -> its subsection's due date (ISO)

    @property
    def unit_index(self) -> dict[str, UnitInfo]:
        return self._unit_index

    def __post_init__(self) -> None:
        self._unit_index = {u.id: u for u in self.units}

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
    meta = {
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
    kvs = field_data_kvs(tree.runtime.service(course, "field-data"))
    static: dict[tuple[str, str], Any] = {}
    for uid in types:
        block = tree.block(uid)
        data = block_field_data(block)
        for name, fld in block.fields.items():
            if fld.scope not in USER_SCOPES and data.has(block, name):
                static[(uid, name)] = freeze(data.get(block, name))
    loaded = LoadedCourse(
        str(tree.root_id),
        tree,
        kvs,
        meta,
        units,
        course_grading(tree),
        quizzes,
        completable,
        types,
        classes,
        summary,
        static,
        due,
    )
    # Register the fragments' CSS/JS now, so any worker can serve them before it renders a page.
    for unit in units:
        render_unit(loaded, None, unit.id, "th", DictKeyValueStore())
    return loaded


def load_courses(path: Path, trusted_html: bool = False) -> dict[str, LoadedCourse]:
    """One course folder, or a folder of course folders (those holding course.yaml)."""
    if (path / "course.yaml").is_file():
        dirs = [path]
    elif path.is_dir():
        dirs = sorted(p for p in path.iterdir() if (p / "course.yaml").is_file())
    else:
        dirs = []
    if not dirs:
        raise UsageError(f"{path}: no course folder (with course.yaml) found")
    courses: dict[str, LoadedCourse] = {}
    for d in dirs:
        c = load_course_dir(d, trusted_html)
        if c.id in courses:
            raise UsageError(f"{d}: course id {c.id!r} is used twice")
        courses[c.id] = c
    return courses


class LearnerFieldData(KvsFieldData):
    """Course fields from the course's frozen index, user fields from the learner's store.

    Writing a course field raises: the course is shared by every request of the worker. Course fields
    are looked up by (usage id, name) instead of building a KeyValueStore key and walking a second store
    for each of the ~20 course fields a quiz reads per request.
    """

    def __init__(self, course: LoadedCourse, learner_kvs: KeyValueStore) -> None:
        super().__init__(learner_kvs)
        self.static = course.static_fields
        self.course_id = course.id
        # user_state fields (all of a quiz's) by row key: XBlock's Key and its translation cost more
        # than the lookup. Other user scopes take XBlock's path.
        self.rows = learner_kvs if isinstance(learner_kvs, SqlKeyValueStore) else None

    def _row(self, block: XBlock, name: str) -> RowKey | None:
        if self.rows is None or block.fields[name].scope != Scope.user_state:
            return None
        ids = block.scope_ids
        user = "" if ids.user_id is None else str(ids.user_id)
        return (self.course_id, "user_state", user, str(ids.usage_id), name)

    def get(self, block: XBlock, name: str) -> Any:
        value = self.static.get((block.scope_ids.usage_id, name), _ABSENT)
        if value is not _ABSENT:
            return value
        if block.fields[name].scope not in USER_SCOPES:
            raise KeyError(name)
        rk = self._row(block, name)
        if rk is not None:
            return self.rows.get_row(rk)  # type: ignore[union-attr]
        return super().get(block, name)

    def has(self, block: XBlock, name: str) -> bool:
        if (block.scope_ids.usage_id, name) in self.static:
            return True
        if block.fields[name].scope not in USER_SCOPES:
            return False
        rk = self._row(block, name)
        if rk is not None:
            try:
                self.rows.get_row(rk)  # type: ignore[union-attr]
            except KeyError:
                return False
            return True
        return super().has(block, name)

    def set_many(self, block: XBlock, update_dict: dict[str, Any]) -> None:
        if any(block.fields[name].scope not in USER_SCOPES for name in update_dict):
            # Course content is shared by every request of the worker; a learner must never change it.
            raise PermissionError("course content is read-only in the runtime")
        rows = {self._row(block, name): value for name, value in update_dict.items()}
        if None in rows:
            super().set_many(block, update_dict)
        else:
            self.rows.set_rows(rows)  # type: ignore[union-attr, arg-type]

    def set(self, block: XBlock, name: str, value: Any) -> None:
        self.set_many(block, {name: value})

    def delete(self, block: XBlock, name: str) -> None:
        if block.fields[name].scope not in USER_SCOPES:
            raise PermissionError("course content is read-only in the runtime")
        super().delete(block, name)

    def default(self, block: XBlock, name: str) -> Any:
        raise KeyError(name)


_ABSENT = object()


def _json_for_html(data: Any) -> str:
    # Learner answers end up in init args: '<' must not be able to close the script element.
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class LearnerRuntime(Runtime):
    """Serves one learner for one request."""

    def __init__(
        self,
        course: LoadedCourse,
        learner_id: str | None,
        learner_kvs: KeyValueStore,
        published: Published | None = None,
        lang: str = "th",
    ) -> None:
        ids = course.tree.runtime.ids
        super().__init__(
            id_reader=ids,
            id_generator=ids,
            services={"field-data": LearnerFieldData(course, learner_kvs)},
        )
        self.course = course
        self.learner_id = learner_id
        self.published = published if published is not None else Published()
        self.lang = lang

    def get_block(self, usage_id: Any, for_parent: Any = None) -> XBlock:
        uid = str(usage_id)
        kind = self.course.block_types[uid]
        keys = ScopeIds(self.learner_id, kind, f"def-{uid}", uid)
        return self.construct_xblock_from_class(self.course.classes[kind], keys, for_parent=for_parent)

    def applicable_aside_types(self, block: XBlock) -> list[str]:
        # XBlock's default scans every distribution's entry points on each render (~10 ms).
        return list(installed_aside_types())

    def handler_url(
        self, block: XBlock, handler_name: str, suffix: str = "", query: str = "", thirdparty: bool = False
    ) -> str:
        url = f"/api/courses/{self.course.id}/blocks/{block.scope_ids.usage_id}/handler/{handler_name}"
        if suffix:
            url += "/" + suffix
        return url + (f"?{query}" if query else "")

    def resource_url(self, resource: str) -> str:
        return f"/assets/{resource}"

    def local_resource_url(self, block: XBlock, uri: str) -> str:
        return f"/assets/xblock/{block.scope_ids.block_type}/{uri}"

    def publish(self, block: XBlock, event_type: str, event_data: dict[str, Any]) -> None:
        uid = str(block.scope_ids.usage_id)
        if event_type == "grade":
            self.published.grades.append(
                (uid, float(event_data["value"]), float(event_data.get("max_value", 0) or 0))
            )
        elif event_type == "completion":
            self.published.completions.append((uid, float(event_data["completion"])))

    def wrap_xblock(self, block: XBlock, view: str, frag: Fragment, context: Any) -> Fragment:
        """Each block in a div the page's JS runtime finds: init function and JSON args as data."""
        uid = str(block.scope_ids.usage_id)
        attrs = f' data-usage-id="{uid}" data-block-type="{block.scope_ids.block_type}"'
        if frag.js_init_fn:
            attrs += f' data-init="{frag.js_init_fn}"'
        args = ""
        if frag.json_init_args is not None:
            args = f'<script type="application/json" class="xblock-args">{_json_for_html(frag.json_init_args)}</script>'
        wrapped = Fragment(f'<div class="xblock"{attrs}>{args}{frag.body_html()}</div>')
        wrapped.add_fragment_resources(frag)
        return wrapped


@dataclass
class RenderedUnit:
    html: str
    css: list[str]
    js: list[str]


def render_unit(
    course: LoadedCourse, learner_id: str | None, unit_id: str, lang: str, learner_kvs: KeyValueStore
) -> RenderedUnit:
    """A unit's student_view: body HTML with course asset URLs, and its CSS/JS as /assets URLs."""
    runtime = LearnerRuntime(course, learner_id, learner_kvs, lang=lang)
    unit = runtime.get_block(unit_id)
    frag = runtime.render(unit, "student_view", {"lang": lang, "lm_heading": 2})
    css: list[str] = []
    js: list[str] = []
    for res in frag.resources:
        if res.kind == "text":
            url = RESOURCES.add(res.mimetype, res.data)
        elif res.kind == "url":
            url = res.data
        else:
            continue
        target = css if res.mimetype == "text/css" else js
        if url not in target:
            target.append(url)
    # Course assets are /static/NAME in the blocks; several courses share one server, so prefix the course.
    html = _STATIC_URL.sub(rf"\1/courses/{course.id}/static/", frag.body_html())
    return RenderedUnit(html, css, js)


def render_for_learner(
    store: Store, course: LoadedCourse, learner_id: str, unit_id: str, lang: str
) -> RenderedUnit:
    kvs = store.load_state(course.id, learner_id, course.unit_index[unit_id].blocks)
    return render_unit(course, learner_id, unit_id, lang, kvs)


class HandlerRefused(Exception):
    """The handler answered with an error status: nothing it changed is kept."""

    def __init__(self, response: webob.Response) -> None:
        super().__init__(response.status)
        self.response = response


class JsonHandlerRequest:
    """The parts of a request that ``XBlock.json_handler``'s wrapper reads (``method``, ``body``).

    Building a WebOb request (``Request.blank``: environ, URL parsing, body file) cost more than the quiz's
    grading; json handlers never see the request object, only the decoded JSON. Other handlers
    (``@XBlock.handler``) get a full WebOb request.
    """

    __slots__ = ("body", "method")

    def __init__(self, body: bytes) -> None:
        self.method = "POST"
        self.body = body


def _run_handler(
    course: LoadedCourse,
    learner_id: str,
    kvs: KeyValueStore,
    published: Published,
    block_id: str,
    handler: str,
    body: bytes,
    lang: str,
) -> webob.Response:
    """The handler through XBlock's own ``Runtime.handle`` (the block's code, its save())."""
    runtime = LearnerRuntime(course, learner_id, kvs, published, lang)
    block = runtime.get_block(block_id)
    request: Any
    if is_json_handler(type(block), handler):
        request = JsonHandlerRequest(body)
    else:
        request = webob.Request.blank(
            runtime.handler_url(block, handler), method="POST", body=body, content_type="application/json"
        )
    response = runtime.handle(block, handler, request)
    if response.status_code >= 400:
        raise HandlerRefused(response)
    return response


def call_handlers_for_sessions(
    store: Store, requests: Sequence[tuple[LoadedCourse, str, str, str, bytes, str]]
) -> list[tuple[int, bytes, str] | Exception]:
    """Handler calls of several requests - (course, session cookie, block, handler, body, lang) each -
    in one transaction (``Store.handler_batch``): session, enrolment, state, grade and completion of
    each together. Per request: (status, body, content type), or the exception that refused it
    (``SessionRefused``: nothing written) or broke it. A handler's 4xx is an answer with nothing of it
    written. Returns once every answered call is committed."""
    calls = [
        HandlerCall(token, course.id, block_id, block_id in course.summary_blocks)
        for course, token, block_id, _h, _b, _l in requests
    ]

    def run(i: int, session: SessionInfo, kvs: KeyValueStore, published: Published) -> webob.Response:
        course, _t, block_id, handler, body, lang = requests[i]
        return _run_handler(course, session.learner_id, kvs, published, block_id, handler, body, lang)

    out: list[tuple[int, bytes, str] | Exception] = []
    for result in store.handler_batch(calls, run):
        response = result.response if isinstance(result, HandlerRefused) else result
        if isinstance(response, Exception):
            out.append(response)
        else:
            out.append((response.status_code, response.body, response.content_type or "application/json"))
    return out


def is_handler(course: LoadedCourse, block_id: str, name: str) -> bool:
    kind = course.block_types.get(block_id)
    if kind is None or kind not in course.classes:
        return False
    return compat.is_handler(course.classes[kind], name)
