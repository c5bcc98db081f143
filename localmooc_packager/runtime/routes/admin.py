"""Administrators: learners page by page, courses shown or hidden (API and pages); one learner's results,
unlocking and temporary passwords (audited); the evaluation-round report of results/report.py."""

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from ...errors import UsageError
from ...results import report as round_report
from ...results.rounds import Round, parse_round, round_of
from ..errors import Invalid, NotFound
from ..i18n import ORG_TYPES, PROVINCES, be_date
from ..models import AdminLearner, AdminLearners, CourseSummary, OkOut, PublishIn
from ..settings import Limits
from ..storage import Store
from ..storage.schema import aware, now
from ..web import Web, admin_dep, form_str, lang_of
from . import BAD_BODY, ERR

Offset = Annotated[int, Query(ge=0, le=Limits.max_admin_offset)]
Text = Annotated[str, Query(max_length=200)]
BANGKOK = timezone(timedelta(hours=7))
# Rows a report page shows; the totals always cover the whole round, the downloads every row. A browser
# slows down past a few thousand table rows, and a programme's round can have hundreds of thousands.
PAGE_ROWS = 2000
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def be_time(value: object, lang: str) -> str:
    """A moment in Bangkok time with a B.E. date: ``5 ธ.ค. 2569 22:10``."""
    if not isinstance(value, datetime):
        return ""
    local = aware(value).astimezone(BANGKOK)  # type: ignore[union-attr]
    return f"{be_date(local, lang)} {local:%H:%M}"


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

    _learner_pages(r, web)
    _report_pages(r, web)
    return r


def _learner_pages(r: APIRouter, web: Web) -> None:
    """One learner: results, enrolments, progress and the audit trail; unlock; temporary password. Every
    view and action is written to the audit log with the admin as actor."""
    Admin = admin_dep(web)

    async def show(
        request: Request, admin_id: str, learner_id: str, status: int = 200, **extra: Any
    ) -> HTMLResponse:
        lang = lang_of(request)
        data = await web.accounts.learner_results(admin_id, learner_id)
        titles = {c.id: c.meta["title"] for c in web.courses.courses.values()}
        org = {k: th if lang == "th" else en for k, th, en, _b in ORG_TYPES}
        ctx = {
            "data": data,
            "titles": titles,
            "org_names": org,
            "be_time": be_time,
            "message": "",
            "errors": {},
        }
        return web.page(request, "admin_learner.html", status, **{**ctx, **extra})

    @r.get("/admin/learners/{learner_id}", response_class=HTMLResponse, include_in_schema=False)
    async def learner_page(learner_id: str, request: Request, s: Admin) -> HTMLResponse:
        return await show(request, s.learner_id, learner_id)

    @r.post("/admin/learners/{learner_id}/unlock", include_in_schema=False)
    async def unlock_form(learner_id: str, request: Request, s: Admin) -> HTMLResponse:
        await web.accounts.unlock(s.learner_id, learner_id)
        from ..i18n import t

        return await show(request, s.learner_id, learner_id, message=t(lang_of(request))["unlocked"])

    @r.post("/admin/learners/{learner_id}/temporary-password", include_in_schema=False)
    async def temporary_password_form(learner_id: str, request: Request, s: Admin) -> HTMLResponse:
        form = await request.form()
        lang = lang_of(request)
        try:
            password = await web.accounts.set_temporary_password(
                s.learner_id, learner_id, form_str(form, "password"), lang
            )
        except Invalid as p:
            errors = {i.field or "form": i.message for i in p.items}
            return await show(request, s.learner_id, learner_id, 422, errors=errors)
        return await show(request, s.learner_id, learner_id, temporary_password=password)


def _report_query(
    web: Web, request: Request
) -> tuple[Round | None, round_report.Filters, dict[str, str], str]:
    """The report's round and filters from the query (the round defaults to the current one); an unknown
    organisation type, province or course is an error, not an empty report."""
    q = request.query_params
    chosen = {k: q.get(k, "").strip()[:200] for k in ("round", "org_type", "province", "course")}
    problems = []
    rnd: Round | None = None
    try:
        rnd = parse_round(chosen["round"]) if chosen["round"] else round_of(now())
    except UsageError as exc:
        problems.append(str(exc))
    chosen["round"] = str(rnd) if rnd else chosen["round"]
    if chosen["org_type"] and chosen["org_type"] not in {k for k, *_ in ORG_TYPES}:
        problems.append(f"org_type {chosen['org_type']!r}: unknown")
    if chosen["province"] and chosen["province"] not in {th for th, _en in PROVINCES}:
        problems.append(f"province {chosen['province']!r}: unknown")
    if chosen["course"] and chosen["course"] not in web.courses.courses:
        problems.append(f"course {chosen['course']!r}: unknown")
    filters = round_report.Filters(
        (chosen["org_type"],) if chosen["org_type"] else (),
        (chosen["province"],) if chosen["province"] else (),
        (chosen["course"],) if chosen["course"] else (),
    )
    return (None if problems else rnd), filters, chosen, "; ".join(problems)


def _compute(store: Store, rnd: Round, filters: round_report.Filters, titles: dict[str, str]) -> Any:
    with store.engine.connect() as conn:
        return round_report.compute(conn, rnd, filters, titles)


def _file(store: Store, rnd: Round, filters: round_report.Filters, titles: dict[str, str], fmt: str) -> bytes:
    """The report file exactly as ``localmooc report`` writes it (results/report.write), as bytes."""
    report = _compute(store, rnd, filters, titles)
    with tempfile.TemporaryDirectory(prefix="lm-report-") as tmp:
        out = Path(tmp) / f"report.{fmt}"
        round_report.write(report, fmt, out)
        return out.read_bytes()


def _report_pages(r: APIRouter, web: Web) -> None:
    Admin = admin_dep(web)

    def titles() -> dict[str, str]:
        return {c.id: c.meta["title"] for c in web.courses.courses.values()}

    @r.get("/admin/report", response_class=HTMLResponse, include_in_schema=False)
    async def report_page(request: Request, s: Admin) -> HTMLResponse:
        rnd, filters, chosen, problem = _report_query(web, request)
        report = None if rnd is None else await web.run(_compute, web.store, rnd, filters, titles())
        lang = lang_of(request)
        ctx = {
            "report": report,
            "rows": report.rows[:PAGE_ROWS] if report else [],
            "row_count": len(report.rows) if report else 0,
            "chosen": chosen,
            "problem": problem,
            "columns": round_report.COLUMNS,
            "total_columns": round_report.TOTAL_COLUMNS,
            "all_label": round_report.ALL_LABEL,
            "org_types": [(k, th if lang == "th" else en) for k, th, en, _b in ORG_TYPES],
            "provinces": PROVINCES,
            "course_list": sorted(titles().items()),
            "query": {k: v for k, v in chosen.items() if v},
        }
        return web.page(request, "admin_report.html", 422 if problem else 200, **ctx)

    @r.get("/admin/report/download", include_in_schema=False)
    async def report_download(request: Request, s: Admin, format: Text = "csv") -> Response:
        if format not in round_report.FORMATS:
            raise NotFound()
        rnd, filters, _chosen, problem = _report_query(web, request)
        if rnd is None:
            raise Invalid(message=problem)
        data = await web.run(_file, web.store, rnd, filters, titles(), format)
        name = f"report-{rnd.fy}-{rnd.number}.{format}"
        headers = {"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"}
        return Response(data, media_type=MEDIA_TYPES[format], headers=headers)
