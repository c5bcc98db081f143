"""Course versions on this node: the admin's page and API to publish a course folder as a new version,
and the gate that answers 503 (Thai and English) for a course this node refuses to serve.

``install`` is what ``create_app`` calls under ``serve``: it checks the node's folders against the database
(``services/versions.py``), adds the router, and wraps both ways into the app (FastAPI, and the edge's block
handler entry) so that no request reaches a refused course.
"""

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from ...errors import InvalidInputError, UsageError
from ...results.thaidate import format_datetime
from ..blocks import LoadedCourse
from ..edge import HandlerEntry
from ..errors import RuntimeProblem
from ..http import problem_body
from ..services.versions import DEFAULT_POLL, CourseVersions, Published, Refusal
from ..storage import versions as rows
from ..web import Web, admin_dep, lang_of
from . import BAD_BODY, ERR

# /courses/ID... (pages, course files) and /api/courses/ID... (API, block handlers)
COURSE_PATH = re.compile(r"^/(api/)?courses/([^/]+)(?:/.*)?$")


class CourseRefused(RuntimeProblem):
    status, code = 503, "course_refused"


def refused_problem(r: "Refusal | Held", lang: str) -> CourseRefused:
    texts = r.texts()
    return CourseRefused(message=texts["th" if lang == "th" else "en"])


class RefusedGate:
    """ASGI, in front of FastAPI: a refused course's pages and API answer 503 with why, the rest pass."""

    def __init__(self, app: ASGIApp, node: CourseVersions, web: Web) -> None:
        self.app, self.node, self.web = app, node, web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (self.node.refused or self.node.unchecked):
            m = COURSE_PATH.match(scope["path"])
            refusal = why_not(self.node, m.group(2)) if m else None
            if refusal is not None:
                request = Request(scope, receive)
                lang = lang_of(request)
                response: Response
                if m and m.group(1):
                    body = problem_body(refused_problem(refusal, lang), lang)
                    response = Response(body, 503, {"retry-after": "60"}, media_type="application/json")
                else:
                    await self.web.session_of(request)
                    response = self.web.page(
                        request,
                        "course_refused.html",
                        503,
                        texts=refusal.texts(),
                        course_id=refusal.course_id,
                    )
                    response.headers["retry-after"] = "60"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Held:
    """A course held at start because the database was away: the same 503, another reason."""

    course_id: str

    def texts(self) -> dict[str, str]:
        return {
            "th": f"หลักสูตร {self.course_id} ยังไม่พร้อม: ระบบฐานข้อมูลไม่ตอบสนอง โปรดลองใหม่ภายหลัง",
            "en": f"The course {self.course_id} is not ready: the database does not answer. Please try again later.",
        }


def why_not(node: CourseVersions, course_id: str) -> Refusal | Held | None:
    if course_id in node.unchecked:
        return Held(course_id)
    return node.refused.get(course_id)


def guard_handlers(handler: HandlerEntry, node: CourseVersions) -> HandlerEntry:
    """The edge answers block handler calls itself: a refused course's are refused there too."""

    async def call(scope: Any, cookies: dict[str, str], course: str, *rest: Any) -> tuple[int, bytes, str]:
        refusal = why_not(node, course)
        if refusal is not None:
            raise refused_problem(refusal, rest[-1])
        return await handler(scope, cookies, course, *rest)

    return call


class VersionOut(BaseModel):
    version: int
    content_hash: str
    files: int
    archive_size: int
    published_at: str
    published_by: str


class CourseVersionsOut(BaseModel):
    course_id: str
    state: str  # "serving" | "refused"
    serving: int | None  # the version this node serves
    published: int | None  # the newest version in the database
    folder_hash: str | None  # what this node's folder holds now
    status: str
    history: list[VersionOut]


class PublishedOut(BaseModel):
    course_id: str
    version: int
    content_hash: str
    new: bool


def _overview(web: Web, node: CourseVersions) -> list[CourseVersionsOut]:
    out = []
    status = node.status()
    with web.store.read() as conn:
        for cid in sorted(node.origin):
            history = rows.history(conn, cid)
            served = node.served.get(cid)
            out.append(
                CourseVersionsOut(
                    course_id=cid,
                    state="refused" if cid in node.refused else "serving",
                    serving=served.version if served and cid not in node.refused else None,
                    published=history[0].version if history else None,
                    folder_hash=node.folder_hash(cid),
                    status=status.get(cid, ""),
                    history=[
                        VersionOut(
                            version=v.version,
                            content_hash=v.content_hash,
                            files=v.files,
                            archive_size=v.archive_size,
                            published_at=v.published_at.isoformat(),
                            published_by=v.published_by,
                        )
                        for v in history[:10]
                    ],
                )
            )
    return out


class PublishFailed(RuntimeProblem):
    status, code = 409, "publish_failed"


def router(web: Web, node: CourseVersions) -> APIRouter:
    r = APIRouter()
    Admin = admin_dep(web)

    async def publish(cid: str, by: str) -> Published:
        if cid not in node.origin:
            raise PublishFailed(message=f"course {cid} is not one of this node's courses")
        try:
            return await node.publish_folder(cid, by)
        except InvalidInputError as exc:
            lines = [str(p) for p in exc.report] if exc.report else [str(exc)]
            raise PublishFailed(message="; ".join(lines)) from None
        except UsageError as exc:
            raise PublishFailed(message=str(exc)) from None

    @r.get("/api/admin/versions", response_model=list[CourseVersionsOut], tags=["admin"], responses=ERR)
    async def api_versions(s: Admin) -> list[CourseVersionsOut]:
        """This node's courses: the version it serves, the published one, and the recent versions."""
        return await web.run(_overview, web, node)  # type: ignore[no-any-return]

    @r.post(
        "/api/admin/versions/{course_id}",
        response_model=PublishedOut,
        tags=["admin"],
        responses={**ERR, **BAD_BODY, 409: {"model": PublishedOut}},
    )
    async def api_publish(course_id: str, s: Admin) -> PublishedOut:
        """Publish this node's folder of the course as its next version (validated first); every node
        serves it within its poll interval. The same content again is no new version (``new`` false)."""
        done = await publish(course_id, s.learner_id)
        return PublishedOut(**done.__dict__)

    @r.get("/admin/versions", response_class=HTMLResponse, include_in_schema=False)
    async def versions_page(request: Request, s: Admin, done: str = "", error: str = "") -> HTMLResponse:
        courses = await web.run(_overview, web, node)
        return web.page(
            request,
            "course_versions.html",
            courses=courses,
            done=done[:200],
            error=error[:2000],
            when=lambda iso: format_datetime(_parse(iso)),
            poll=node.poll,
        )

    @r.post("/admin/versions/{course_id}", include_in_schema=False)
    async def publish_form(course_id: str, request: Request, s: Admin) -> Response:
        try:
            done = await publish(course_id, s.learner_id)
        except PublishFailed as exc:
            courses = await web.run(_overview, web, node)
            return web.page(
                request,
                "course_versions.html",
                409,
                courses=courses,
                done="",
                error=f"{course_id}: {exc.message}",
                when=lambda iso: format_datetime(_parse(iso)),
                poll=node.poll,
            )
        note = f"{done.course_id}:{done.version}:{'new' if done.new else 'same'}"
        return RedirectResponse(f"/admin/versions?done={note}", status_code=303)

    return r


def _parse(iso: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(iso)


def install(
    app: Any, web: Web, courses: dict[str, LoadedCourse], full: ASGIApp, handler: HandlerEntry, poll: float
) -> tuple[ASGIApp, HandlerEntry]:
    """Check this node's folders against the published versions, follow new ones, add the admin's
    routes; returns the app and the handler entry wrapped by the gate."""
    node = CourseVersions(
        courses, web.store, trusted_html=web.settings.trusted_html, poll=poll or DEFAULT_POLL
    )
    node.check_at_start()
    app.state.versions = node
    app.router.on_startup.append(node.start)
    app.router.on_shutdown.append(node.stop)
    app.include_router(router(web, node))
    return RefusedGate(full, node, web), guard_handlers(handler, node)


def readiness(app: Any) -> dict[str, str] | None:
    """For /readyz: each course of this node and the version it serves, or why it refuses it."""
    node: CourseVersions | None = getattr(app.state, "versions", None)
    return node.status() if node is not None else None
