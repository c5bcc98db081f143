"""Administrators: learners page by page, courses shown or hidden (API and pages)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ..models import AdminLearner, AdminLearners, CourseSummary, OkOut, PublishIn
from ..settings import Limits
from ..storage.schema import aware
from ..web import Web, admin_dep, form_str, lang_of
from . import BAD_BODY, ERR

Offset = Annotated[int, Query(ge=0, le=Limits.max_admin_offset)]


def router(web: Web) -> APIRouter:
    r = APIRouter()
    Admin = admin_dep(web)

    @r.get("/api/admin/learners", response_model=AdminLearners, tags=["admin"], responses=ERR)
    async def api_admin_learners(
        s: Admin, offset: Offset = 0, limit: Annotated[int, Query(ge=1, le=200)] = 50
    ) -> AdminLearners:
        more, rows = await web.run(web.store.list_learners, offset, limit)
        out = [AdminLearner(**{**row, "created_at": aware(row["created_at"]).isoformat()}) for row in rows]  # type: ignore[union-attr]
        return AdminLearners(learners=out, more=more)

    @r.get("/api/admin/courses", response_model=list[CourseSummary], tags=["admin"], responses=ERR)
    async def api_admin_courses(request: Request, s: Admin) -> list[CourseSummary]:
        return await web.courses.all_for_admin(lang_of(request))

    @r.post(
        "/api/admin/courses/{course_id}", response_model=OkOut, tags=["admin"], responses={**ERR, **BAD_BODY}
    )
    async def api_admin_publish(course_id: str, data: PublishIn, s: Admin) -> OkOut:
        """Show or hide a course in the catalogue (enrolled learners keep access)."""
        c = web.courses.get(course_id)
        await web.run(web.store.set_published, s.learner_id, c.id, data.published)
        return OkOut()

    @r.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    async def admin_page(request: Request, s: Admin, offset: Offset = 0) -> HTMLResponse:
        more, rows = await web.run(web.store.list_learners, offset, 50)
        courses = await web.courses.all_for_admin(lang_of(request))
        return web.page(request, "admin.html", courses=courses, learners=rows, more=more, offset=offset)

    @r.post("/admin/courses/{course_id}", include_in_schema=False)
    async def admin_publish_form(course_id: str, request: Request, s: Admin) -> RedirectResponse:
        c = web.courses.get(course_id)
        form = await request.form()
        await web.run(web.store.set_published, s.learner_id, c.id, form_str(form, "published") == "yes")
        return RedirectResponse("/admin", status_code=303)

    return r
