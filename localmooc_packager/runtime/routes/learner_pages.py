"""The learner's HTML pages: catalogue, course, player, progress, registration, login, my data."""

import re
from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from ..errors import Invalid, LoginFailed, RuntimeProblem, Throttled
from ..http import problem_message
from ..i18n import LAWFUL_BASIS, ORG_TYPES, PRIVACY_NOTICE_VERSION, PROVINCES, t
from ..models import RegisterIn
from ..services.progress import standing
from ..web import Web, form_str, lang_of, learner_dep, local_next

WELCOME_COOKIE = "lm_welcome"  # one-time: the catalogue after registration says it worked
REGISTER_FIELDS = ("username", "name", "national_id", "org_type", "organisation", "province")
# Where a registration QR (results/poster.py) sends the new learner: enrol in that course.
ENROL_NEXT = re.compile(r"/courses/([A-Za-z0-9._-]{1,100})/enrol")
_PROVINCE_TH = {en.casefold(): th for th, en in PROVINCES} | {th: th for th, _en in PROVINCES}


def prefill(query: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """The registration form's values from a QR link (``results.poster.registration_url``): organisation type
    and province only when they are ones the form offers (the province by its Thai or English name), the
    organisation trimmed; and ``next``, a same-site path. Anything else is left for the learner to fill in."""
    values: dict[str, str] = {}
    if query.get("org_type", "") in LAWFUL_BASIS:
        values["org_type"] = query["org_type"]
    province = _PROVINCE_TH.get(query.get("province", "").strip().casefold())
    if province:
        values["province"] = province
    organisation = " ".join(query.get("organisation", "").split())[:200]
    if organisation:
        values["organisation"] = organisation
    nxt = local_next(query.get("next"))
    return values, "" if nxt == "/" else nxt


def router(web: Web) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    _course_pages(r, web)
    _account_pages(r, web)
    _login_pages(r, web)
    return r


def _course_pages(r: APIRouter, web: Web) -> None:
    Learner = learner_dep(web)

    @r.get("/", response_class=HTMLResponse)
    async def home(request: Request, category: str | None = None) -> HTMLResponse:
        s = await web.session_of(request)
        cats = await web.courses.catalogue(s, lang_of(request))
        # Registration lands here with a one-time cookie: say it worked, once, to the new learner.
        welcomed = s is not None and request.cookies.get(WELCOME_COOKIE) == "1"
        page = web.page(request, "catalogue.html", cats=cats, selected=category, welcomed=welcomed)
        if request.cookies.get(WELCOME_COOKIE):
            page.delete_cookie(WELCOME_COOKIE, path="/", secure=web.settings.secure_cookies)
        return page

    @r.get("/courses/{course_id}", response_class=HTMLResponse)
    async def about(course_id: str, request: Request) -> HTMLResponse:
        c, s, lang = web.courses.get(course_id), await web.session_of(request), lang_of(request)
        course = await web.courses.detail(c, s, lang)
        st = await web.progress.standing(c, s, lang) if s and course.enrolled else None
        return web.page(request, "about.html", course=course, standing=st)

    @r.post("/courses/{course_id}/enrol")
    async def enrol_form(course_id: str, s: Learner) -> RedirectResponse:
        c = web.courses.get(course_id)
        await web.courses.enrol(c, s)
        return RedirectResponse(f"/courses/{c.id}/learn", status_code=303)

    @r.get("/courses/{course_id}/enrol")
    async def enrol_link(course_id: str) -> RedirectResponse:
        """A link (a registration QR's ``next`` after logging in instead): enrolling is a POST, so show
        the course page with its enrol button."""
        c = web.courses.get(course_id)
        return RedirectResponse(f"/courses/{c.id}", status_code=303)

    @r.get("/courses/{course_id}/learn")
    async def learn(course_id: str, s: Learner) -> RedirectResponse:
        c = web.courses.get(course_id)
        where = await web.courses.resume(c, s)
        target = f"/courses/{c.id}/units/{where.resume_unit}" if where.enrolled else f"/courses/{c.id}"
        return RedirectResponse(target, status_code=303)

    @r.get("/courses/{course_id}/units/{unit_id}", response_class=HTMLResponse)
    async def unit_page(course_id: str, unit_id: str, request: Request, s: Learner) -> HTMLResponse:
        c = web.courses.get(course_id)
        view = await web.progress.unit(c, s, unit_id, lang_of(request))
        # The last unit ends with the learner's real standing (finished, or what is left), not a blanket
        # "all done"; runtime.js refreshes it when a quiz on the page is graded.
        st = await web.progress.standing(c, s, lang_of(request)) if view.next is None else None
        return web.page(request, "player.html", course=c, view=view, units=c.units, standing=st)

    @r.get("/courses/{course_id}/progress", response_class=HTMLResponse)
    async def progress_page(course_id: str, request: Request, s: Learner) -> HTMLResponse:
        c = web.courses.get(course_id)
        p = await web.progress.of(c, s, lang_of(request))
        return web.page(request, "progress.html", course=c, progress=p, standing=standing(c, p))


def _account_pages(r: APIRouter, web: Web) -> None:
    @r.get("/register", response_class=HTMLResponse)
    async def register_page(request: Request) -> HTMLResponse:
        await web.session_of(request)
        values, nxt = prefill(request.query_params)
        ctx = {"values": values, "errors": {}, "provinces": PROVINCES, "org_types": ORG_TYPES, "next": nxt}
        return web.page(request, "register.html", **ctx)

    @r.post("/register")
    async def register_form(request: Request) -> Response:
        await web.session_of(request)
        form = await request.form()
        values = {k: form_str(form, k) for k in REGISTER_FIELDS}
        nxt = local_next(form_str(form, "next"))
        errors: dict[str, str] = {}
        try:
            if values["org_type"] not in LAWFUL_BASIS:
                errors["org_type"] = t(lang_of(request))["bad_org_type"]
                raise Invalid()
            data = RegisterIn(
                **{**values, "national_id": values["national_id"] or None},  # type: ignore[arg-type]
                password=form_str(form, "password"),
                consent=form_str(form, "consent") == "yes",
            )
            await web.accounts.register(data, lang_of(request))
        except RuntimeProblem as p:
            errors.update({i.field or "form": i.message for i in p.items})
            ctx = {
                "values": values,
                "errors": errors,
                "provinces": PROVINCES,
                "org_types": ORG_TYPES,
                "next": "" if nxt == "/" else nxt,
            }
            return web.page(request, "register.html", 422, **ctx)
        client = request.client.host if request.client else ""
        _lid, token = await web.accounts.login(values["username"], form_str(form, "password"), client)
        target = await _enrol_from_qr(web, token, nxt)
        response = RedirectResponse(target, status_code=303)
        web.set_session(response, token)
        if target == "/":  # the catalogue says the registration worked; a QR lands in its course instead
            web._cookie(response, WELCOME_COOKIE, "1", 300)
        return response


def _login_pages(r: APIRouter, web: Web) -> None:
    Learner = learner_dep(web)

    @r.get("/privacy", response_class=HTMLResponse)
    async def privacy_page(request: Request) -> HTMLResponse:
        await web.session_of(request)
        return web.page(request, "privacy.html", version=PRIVACY_NOTICE_VERSION)

    @r.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
        await web.session_of(request)
        return web.page(request, "login.html", error=None, next=local_next(next), username="")

    @r.post("/login")
    async def login_form(request: Request) -> Response:
        await web.session_of(request)
        form = await request.form()
        target, username = local_next(form_str(form, "next")), form_str(form, "username")
        try:
            return await _log_in(web, request, username, form_str(form, "password"), target)
        except (LoginFailed, Throttled) as p:
            error = problem_message(p, lang_of(request))
            return web.page(request, "login.html", p.status, error=error, next=target, username=username)

    @r.post("/logout")
    async def logout_form(request: Request) -> RedirectResponse:
        await web.accounts.logout(request.cookies.get(web.names.session))
        response = RedirectResponse("/", status_code=303)
        web.end_session(response)
        return response

    @r.get("/me/password", response_class=HTMLResponse)
    async def password_page(request: Request, s: Learner) -> HTMLResponse:
        return web.page(request, "password.html", errors={}, done=False, forced=s.must_change_password)

    @r.post("/me/password")
    async def password_form(request: Request, s: Learner) -> HTMLResponse:
        form = await request.form()
        token = request.cookies.get(web.names.session)
        lang = lang_of(request)
        try:
            current, new = form_str(form, "current_password"), form_str(form, "new_password")
            await web.accounts.change_password(s.learner_id, current, new, token, lang)
        except Invalid as p:
            errors = {i.field or "form": i.message for i in p.items}
            ctx = {"errors": errors, "done": False, "forced": s.must_change_password}
            return web.page(request, "password.html", 422, **ctx)
        request.state.session = await web.run(web.store.session, token)
        return web.page(request, "password.html", errors={}, done=True, forced=False)

    @r.get("/me", response_class=HTMLResponse)
    async def me_page(request: Request, s: Learner) -> HTMLResponse:
        p = await web.accounts.profile(s.learner_id)
        org = {k: (th, en) for k, th, en, _b in ORG_TYPES}
        return web.page(request, "me.html", profile=p, org_names=org)

    @r.post("/me/erase")
    async def erase_form(s: Learner) -> RedirectResponse:
        await web.accounts.erase(s.learner_id)
        response = RedirectResponse("/", status_code=303)
        web.end_session(response)
        return response


async def _enrol_from_qr(web: Web, token: str, nxt: str) -> str:
    """Where a new learner goes: a registration from a course's QR (``next=/courses/ID/enrol``) enrols them
    and takes them into the course. The enrolment follows the course's rules (published, window open); when
    it cannot be made the course page says why, and the account stays made."""
    m = ENROL_NEXT.fullmatch(nxt)
    if m is None or m[1] not in web.courses.courses:
        return nxt
    c = web.courses.get(m[1])
    s = await web.run(web.store.session, token)
    try:
        await web.courses.enrol(c, s)
    except RuntimeProblem:
        return f"/courses/{c.id}"
    return f"/courses/{c.id}/learn"


async def _log_in(web: Web, request: Request, username: str, password: str, target: str) -> Response:
    """Log in and go to ``target`` with the new session's cookies."""
    client = request.client.host if request.client else ""
    _lid, token = await web.accounts.login(username, password, client)
    response = RedirectResponse(target, status_code=303)
    web.set_session(response, token)
    return response
