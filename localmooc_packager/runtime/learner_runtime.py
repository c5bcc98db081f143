"""One learner's XBlock runtime: field data (course fields from the worker's frozen index, user fields
from the SQL KeyValueStore of the request's transaction), rendering a unit, and running handlers in a
batch (``call_handlers_for_sessions``, the one way a handler runs). ``publish`` collects grade and
completion events, which the store writes in that same transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import webob
from web_fragments.fragment import Fragment
from xblock.core import XBlock
from xblock.fields import Scope, ScopeIds
from xblock.runtime import KeyValueStore, KvsFieldData, Runtime

from ..tree import installed_aside_types
from .blocks import RESOURCES, LoadedCourse
from .compat import JsonAnswer, handle_json, is_json_handler, prime_field_cache
from .storage import HandlerCall, Published, SessionInfo, SqlKeyValueStore, Store
from .storage.schema import USER_SCOPES, RowKey

_STATIC_URL = re.compile(r'(\s(?:src|href|poster)=["\'])/static/')


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
        fields = LearnerFieldData(course, learner_kvs)
        super().__init__(
            id_reader=ids,
            id_generator=ids,
            services={"field-data": fields},
        )
        self._fields_service = fields
        self.course = course
        self.learner_id = learner_id
        self.published = published if published is not None else Published()
        self.lang = lang

    def get_block(self, usage_id: Any, for_parent: Any = None) -> XBlock:
        uid = str(usage_id)
        kind = self.course.block_types[uid]
        keys = ScopeIds(self.learner_id, kind, f"def-{uid}", uid)
        block = self.construct_xblock_from_class(self.course.classes[kind], keys, for_parent=for_parent)
        prime_field_cache(block, self.course.field_cache.get(uid, {}))  # course values, decoded once
        return block

    def service(self, block: XBlock, service_name: str) -> Any:
        # Every block needs "field-data" (XBlock declares it on all of them) and reads it on each field
        # access: answered without XBlock's declaration lookup.
        if service_name == "field-data":
            return self._fields_service
        return super().service(block, service_name)

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
) -> webob.Response | JsonAnswer:
    """The handler as XBlock's own ``Runtime.handle`` runs it (the block's code, its save()); a json
    handler through ``compat.handle_json`` (the same steps, its answer without WebOb objects)."""
    runtime = LearnerRuntime(course, learner_id, kvs, published, lang)
    block = runtime.get_block(block_id)
    response: webob.Response | JsonAnswer
    if is_json_handler(type(block), handler):
        response = handle_json(block, handler, body)
    else:
        request = webob.Request.blank(
            runtime.handler_url(block, handler), method="POST", body=body, content_type="application/json"
        )
        response = runtime.handle(block, handler, request)
    if not isinstance(response, JsonAnswer) and response.status_code >= 400:
        raise HandlerRefused(response)
    if published.grades and handler == "submit" and course.block_types.get(block_id) == "lm-quiz":
        # The submission as xAPI "answered" statements need it (fields already read by the handler).
        published.answers.append(
            (block_id, int(block.attempts_used), dict(block.responses), dict(block.results))
        )
    return response


def call_handlers_for_sessions(
    store: Store, requests: Sequence[tuple[LoadedCourse, str, str, str, bytes, str]]
) -> list[tuple[int, bytes, str] | Exception]:
    """Handler calls of several requests - (course, session cookie, block, handler, body, lang) each -
    in one transaction (``Store.handler_batch``): session, enrolment, state, grade, completion, the
    course result (study time, milestones) and the xAPI statements of each together. Per request: (status, body, content type), or the exception that refused it
    (``SessionRefused``: nothing written) or broke it. A handler's 4xx is an answer with nothing of it
    written. Returns once every answered call is committed."""
    calls = [
        HandlerCall(token, course.id, block_id, block_id in course.summary_blocks, course)
        for course, token, block_id, _h, _b, _l in requests
    ]

    def run(
        i: int, session: SessionInfo, kvs: KeyValueStore, published: Published
    ) -> webob.Response | JsonAnswer:
        course, _t, block_id, handler, body, lang = requests[i]
        return _run_handler(course, session.learner_id, kvs, published, block_id, handler, body, lang)

    out: list[tuple[int, bytes, str] | Exception] = []
    for result in store.handler_batch(calls, run):
        response = result.response if isinstance(result, HandlerRefused) else result
        if isinstance(response, Exception | JsonAnswer):
            out.append(response)
        else:
            out.append((response.status_code, response.body, response.content_type or "application/json"))
    return out
