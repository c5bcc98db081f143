"""The learner's JSON API: account, catalogue, enrolment, units, progress (block handlers: ``submit.py``)."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ..errors import NotFound
from ..i18n import CATEGORIES, ORG_TYPES, PRIVACY_NOTICE_VERSION, PROVINCES
from ..models import (
    CategoryOut,
    CourseDetail,
    CsrfOut,
    EnrolmentOut,
    ErrorOut,
    LearnerOut,
    LoginIn,
    OkOut,
    Option,
    OptionsOut,
    ProgressOut,
    RegisterIn,
    UnitView,
)
from ..web import Web, lang_of, learner_dep
from . import BAD_BODY, ERR


def learner_out(p: dict[str, Any]) -> LearnerOut:
    return LearnerOut(
        **{k: p[k] for k in LearnerOut.model_fields if k != "has_national_id"},
        has_national_id=bool(p["has_national_id"]),
    )


def router(web: Web) -> APIRouter:
    r = APIRouter(prefix="/api")
    _account_routes(r, web)
    _me_routes(r, web)
    _course_routes(r, web)
    return r


def _account_routes(r: APIRouter, web: Web) -> None:
    @r.get("/csrf", response_model=CsrfOut, tags=["auth"])
    async def api_csrf(request: Request, response: Response) -> CsrfOut:
        """A CSRF token (also set as the cookie) for API clients; bound to the session after login."""
        return CsrfOut(csrf_token=web.csrf_cookie(request, response))

    @r.get("/health", response_model=OkOut, tags=["health"])
    async def api_health() -> OkOut:
        """Liveness for load balancers: no database, no session (answered by the edge in a worker)."""
        return OkOut()

    @r.get("/options", response_model=OptionsOut, tags=["auth"])
    async def api_options() -> OptionsOut:
        """Provinces, organisation types and categories for registration forms."""
        return OptionsOut(
            provinces=[Option(key=th, th=th, en=en) for th, en in PROVINCES],
            org_types=[Option(key=k, th=th, en=en) for k, th, en, _b in ORG_TYPES],
            categories=[Option(key=k, th=th, en=en) for k, th, en in CATEGORIES],
            privacy_notice_version=PRIVACY_NOTICE_VERSION,
        )

    @r.post(
        "/register",
        response_model=LearnerOut,
        status_code=201,
        tags=["auth"],
        responses={**BAD_BODY, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    )
    async def api_register(data: RegisterIn, request: Request) -> LearnerOut:
        """Create an account. The national id is optional and checked (mod 11); only its HMAC is kept."""
        learner_id = await web.accounts.register(data, lang_of(request))
        return learner_out(await web.accounts.profile(learner_id) or {})

    @r.post(
        "/login",
        response_model=LearnerOut,
        tags=["auth"],
        responses={**BAD_BODY, 401: {"model": ErrorOut}, 429: {"model": ErrorOut}},
    )
    async def api_login(data: LoginIn, request: Request, response: Response) -> LearnerOut:
        """Open a session (cookie). After five failures for one account from one client, each further
        attempt waits (30 s, doubling, at most 15 minutes): 429 with Retry-After."""
        client = request.client.host if request.client else ""
        learner_id, token = await web.accounts.login(data.username, data.password, client)
        web.set_session(response, token)
        return learner_out(await web.accounts.profile(learner_id) or {})

    @r.post("/logout", response_model=OkOut, tags=["auth"], responses={403: {"model": ErrorOut}})
    async def api_logout(request: Request, response: Response) -> OkOut:
        await web.accounts.logout(request.cookies.get(web.names.session))
        web.end_session(response)
        return OkOut()


def _me_routes(r: APIRouter, web: Web) -> None:
    Learner = learner_dep(web)

    @r.get("/me", response_model=LearnerOut, tags=["me"], responses=ERR)
    async def api_me(s: Learner) -> LearnerOut:
        p = await web.accounts.profile(s.learner_id)
        if p is None:
            raise NotFound()
        return learner_out(p)

    @r.get("/me/export", response_model=dict[str, Any], tags=["me"], responses=ERR)
    async def api_export(s: Learner) -> JSONResponse:
        """Everything held about the learner (PDPA right of access), as a download."""
        data = await web.accounts.export(s.learner_id)
        return JSONResponse(
            data, headers={"content-disposition": 'attachment; filename="localmooc-my-data.json"'}
        )

    @r.delete("/me", response_model=OkOut, tags=["me"], responses=ERR)
    async def api_erase(response: Response, s: Learner) -> OkOut:
        """Erase identity data and typed answers; scores stay under the random id, anonymous."""
        await web.accounts.erase(s.learner_id)
        web.end_session(response)
        return OkOut()


def _course_routes(r: APIRouter, web: Web) -> None:
    Learner = learner_dep(web)

    @r.get("/courses", response_model=list[CategoryOut], tags=["courses"])
    async def api_catalogue(request: Request) -> list[CategoryOut]:
        """The catalogue by the seven Local MOOC categories."""
        return await web.courses.catalogue(await web.session_of(request), lang_of(request))

    @r.get("/courses/{course_id}", response_model=CourseDetail, tags=["courses"], responses=ERR)
    async def api_course(course_id: str, request: Request) -> CourseDetail:
        return await web.courses.detail(
            web.courses.get(course_id), await web.session_of(request), lang_of(request)
        )

    @r.post("/courses/{course_id}/enrol", response_model=EnrolmentOut, tags=["courses"], responses=ERR)
    async def api_enrol(course_id: str, s: Learner) -> EnrolmentOut:
        """Enrol: the course must be visible and its enrolment window open."""
        return await web.courses.enrol(web.courses.get(course_id), s)

    @r.get("/courses/{course_id}/resume", response_model=EnrolmentOut, tags=["courses"], responses=ERR)
    async def api_resume(course_id: str, s: Learner) -> EnrolmentOut:
        """Where the learner left off (the last unit shown)."""
        c = web.courses.get(course_id)
        await web.courses.need_enrolled(s, c)
        return await web.courses.resume(c, s)

    @r.get("/courses/{course_id}/units/{unit_id}", response_model=UnitView, tags=["courses"], responses=ERR)
    async def api_unit(course_id: str, unit_id: str, request: Request, s: Learner) -> UnitView:
        """A unit rendered for the learner; shows count as a visit (resume point, html completion)."""
        return await web.progress.unit(web.courses.get(course_id), s, unit_id, lang_of(request))

    @r.post(
        "/courses/{course_id}/blocks/{block_id}/handler/{handler}",
        response_model=dict[str, Any],
        tags=["courses"],
        responses={**ERR, **BAD_BODY, 409: {"model": ErrorOut}},
    )
    async def api_handler(course_id: str, block_id: str, handler: str) -> Response:
        """Call a block's JSON handler (quiz ``submit``/``state``, video ``watched_handler``) as yourself.

        State, grade and completion are written in one transaction. Answered by the edge through
        ``submit.Submissions.call`` before routing; this route documents it."""
        raise NotFound()  # pragma: no cover - the edge answers every request of this path

    @r.get("/courses/{course_id}/progress", response_model=ProgressOut, tags=["courses"], responses=ERR)
    async def api_progress(course_id: str, request: Request, s: Learner) -> ProgressOut:
        """Best score per quiz, completion, course grade and pass/fail by the course's grading rules."""
        return await web.progress.of(web.courses.get(course_id), s, lang_of(request))
