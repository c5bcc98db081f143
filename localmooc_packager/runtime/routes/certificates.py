"""Certificates: the learner's PDF and "my courses", the public verification page (no login), and the
admin's list and revocation. The rules live in ``services/certificates.py``; see docs/certificates.md."""

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from ...results.verify import Status, Verification
from ..errors import TooManyLookups
from ..http import problem_body, problem_headers
from ..models import ErrorOut
from ..security import verify_key
from ..services.certificates import Certificates, texts, verify_message
from ..settings import VERIFY_WINDOW
from ..web import Web, admin_dep, form_str, lang_of, learner_dep
from . import BAD_BODY, ERR

# The public page: no caching of an answer a revocation changes, no search engine indexing of names (the
# edge's Referrer-Policy: same-origin already keeps the number in the URL from other sites).
PUBLIC_HEADERS = {"Cache-Control": "no-cache", "X-Robots-Tag": "noindex"}
FOUND = {Status.VALID, Status.REVOKED, Status.HOLDER_ERASED}


class VerifyOut(BaseModel):
    status: str = Field(description="valid | revoked | issued-holder-erased | not-found | malformed")
    message: str
    certificate_no: str | None = None
    course_id: str | None = None
    course_title: str | None = None
    certified_at: str | None = Field(None, description="UTC, ISO 8601")
    certified_on_be: str | None = Field(None, description="the Bangkok date in B.E.")
    credited_hours: float | None = None
    holder_name: str | None = Field(None, description="only while valid and the holder exists")
    revoked_at: str | None = None
    revoked_on_be: str | None = None


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class RevokeOut(BaseModel):
    certificate_no: str
    status: str


def verify_out(v: Verification, certs: Certificates, lang: str) -> VerifyOut:
    from ..web import be_date

    return VerifyOut(
        status=v.status.value,
        message=verify_message(v, lang, certs.word(v.course_id)),
        certificate_no=v.certificate_no,
        course_id=v.course_id,
        course_title=certs.course_title(v.course_id) if v.course_id else None,
        certified_at=v.certified_at.isoformat() if v.certified_at else None,
        certified_on_be=be_date(v.certified_at, lang) if v.certified_at else None,
        credited_hours=v.credited_hours,
        holder_name=v.holder_name,
        revoked_at=v.revoked_at.isoformat() if v.revoked_at else None,
        revoked_on_be=be_date(v.revoked_at, lang) if v.revoked_at else None,
    )


def router(web: Web) -> APIRouter:
    r = APIRouter()
    certs: Certificates = web.certificates
    Learner = learner_dep(web)
    Admin = admin_dep(web)

    # ---- the learner
    @r.get("/courses/{course_id}/certificate", include_in_schema=False)
    async def certificate_pdf(course_id: str, request: Request, s: Learner) -> Response:
        c = web.courses.get(course_id)
        number, data = await certs.pdf(c, s, str(request.base_url), lang_of(request))
        return Response(
            data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="certificate-{number}.pdf"',
                "Cache-Control": "private, no-cache",
            },
        )

    @r.get("/me/courses", response_class=HTMLResponse, include_in_schema=False)
    async def my_courses(request: Request, s: Learner) -> HTMLResponse:
        lang = lang_of(request)
        mine = await certs.my_courses(s, lang)
        return web.page(request, "my_courses.html", mine=mine, ct=texts(lang, certs.word()))

    # ---- anyone: verification
    @r.get("/verify", response_class=HTMLResponse, include_in_schema=False)
    async def verify_form(request: Request, no: str | None = None) -> Response:
        if no and no.strip():
            return RedirectResponse(f"/verify/{quote(no.strip(), safe='')}", status_code=303)
        await web.session_of(request)
        lang = lang_of(request)
        return web.page(request, "verify.html", v=None, info=None, ct=texts(lang, certs.word()), typed="")

    async def limit(request: Request) -> None:
        """Look-ups per client address and minute (LOCALMOOC_VERIFY_LIMIT), counted in the database so that
        every node shares them: numbers are sequential, and a crawler must not list who holds which."""
        if web.settings.verify_limit:
            client = request.client.host if request.client else ""
            wait = await web.run(
                web.store.rate_hit, verify_key(client), web.settings.verify_limit, VERIFY_WINDOW
            )
            if wait is not None:
                raise TooManyLookups(wait)

    @r.get("/verify/{number}", response_class=HTMLResponse, include_in_schema=False)
    async def verify_page(number: str, request: Request) -> Response:
        lang = lang_of(request)
        wants_json = (
            "application/json" in request.headers.get("accept", "")
            or request.query_params.get("format") == "json"
        )
        try:
            await limit(request)
        except TooManyLookups as p:
            if not wants_json:
                raise  # the error page, with Retry-After
            return Response(
                problem_body(p, lang), p.status, problem_headers(p), media_type="application/json"
            )
        v = await certs.verify(number[:80])
        status = 200 if v.status in FOUND else 404
        if wants_json:
            body = verify_out(v, certs, lang).model_dump()
            return JSONResponse(body, status_code=status, headers=PUBLIC_HEADERS)
        await web.session_of(request)
        info = verify_out(v, certs, lang)
        ct = texts(lang, certs.word(v.course_id))
        page = web.page(request, "verify.html", status, v=v, info=info, ct=ct, typed=number[:80])
        page.headers.update(PUBLIC_HEADERS)
        return page

    @r.get(
        "/api/verify/{number}",
        response_model=VerifyOut,
        tags=["certificates"],
        responses={404: {"model": VerifyOut}, 429: {"model": ErrorOut}},
    )
    async def api_verify(number: str, request: Request) -> JSONResponse:
        """Public (no login): the status of a certificate and only what is needed to verify it. At most
        LOCALMOOC_VERIFY_LIMIT look-ups (default 30) per client and minute: then 429 with Retry-After."""
        await limit(request)
        v = await certs.verify(number[:80])
        body = verify_out(v, certs, lang_of(request)).model_dump()
        return JSONResponse(body, status_code=200 if v.status in FOUND else 404, headers=PUBLIC_HEADERS)

    # ---- admins
    @r.get("/admin/certificates", response_class=HTMLResponse, include_in_schema=False)
    async def admin_certificates(
        request: Request,
        s: Admin,
        course: Annotated[str, Query(max_length=100)] = "",
        username: Annotated[str, Query(max_length=64)] = "",
        revoked: Annotated[str, Query(max_length=40)] = "",
    ) -> HTMLResponse:
        lang = lang_of(request)
        rows = await certs.issued(course, username, 200)
        return web.page(
            request,
            "admin_certificates.html",
            ct=texts(lang, certs.word()),
            rows=rows,
            courses=await web.courses.all_for_admin(lang),
            titles={c.id: c.meta["title"] for c in web.courses.courses.values()},
            course=course,
            username=username,
            revoked=revoked,
        )

    @r.post("/admin/certificates/{number}/revoke", include_in_schema=False)
    async def admin_revoke_form(number: str, request: Request, s: Admin) -> RedirectResponse:
        form = await request.form()
        canonical = await certs.revoke(s, number, form_str(form, "reason"), lang_of(request))
        back = {"course": form_str(form, "course"), "username": form_str(form, "username")}
        query = urlencode({**{k: v for k, v in back.items() if v}, "revoked": canonical})
        return RedirectResponse(f"/admin/certificates?{query}", status_code=303)

    @r.get("/api/admin/certificates", tags=["admin"], responses=ERR)
    async def api_admin_certificates(
        s: Admin,
        course: Annotated[str, Query(max_length=100)] = "",
        username: Annotated[str, Query(max_length=64)] = "",
    ) -> list[dict[str, Any]]:
        """Certificates issued (newest first, at most 200), for a course and/or a learner's username."""
        rows = await certs.issued(course, username, 200)
        return [{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()} for row in rows]

    @r.post(
        "/api/admin/certificates/{number}/revoke",
        response_model=RevokeOut,
        tags=["admin"],
        responses={**ERR, **BAD_BODY},
    )
    async def api_admin_revoke(number: str, data: RevokeIn, request: Request, s: Admin) -> RevokeOut:
        """Revoke a certificate (audited); the verification page then says so."""
        canonical = await certs.revoke(s, number, data.reason, lang_of(request))
        return RevokeOut(certificate_no=canonical, status=Status.REVOKED.value)

    return r
