"""The web app: catalogue, registration, login, course player, progress, admin; a JSON API for all of it.

Every endpoint is ``async``. Database work runs inline on SQLite (a write there takes well under a
millisecond and SQLite serialises writers anyway, so a thread hop only adds latency) and in the thread
pool on PostgreSQL (network round trips). Password hashing always runs in the thread pool.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from .. import __version__
from .blocks import (
    RESOURCES,
    LoadedCourse,
    load_courses,
    render_for_learner,
)
from .courses import check_can_enrol, enrolment_open, visible, when
from .edge import Edge
from .errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    Invalid,
    LoginFailed,
    LoginRequired,
    NotFound,
    RuntimeProblem,
    Throttled,
)
from .faults import DB_UNAVAILABLE, log_unavailable, unavailable_body
from .http import (
    ACTIVE_SUFFIXES,
    COURSE_FILE_CSP,
    CookieNames,
    problem_body,
    problem_headers,
    problem_message,
)
from .i18n import (
    CATEGORIES,
    LANGS,
    LAWFUL_BASIS,
    ORG_TYPES,
    PRIVACY_NOTICE_VERSION,
    PROVINCE_NAMES,
    PROVINCES,
    be_date,
    t,
)
from .security import (
    DUMMY_HASH,
    Secrets,
    canonical_username,
    hash_password,
    national_id_valid,
    new_csrf_token,
    normalise_national_id,
    password_problem,
    same_token,
    throttle_key,
    username_problem,
    verify_password,
)
from .settings import Limits, Settings
from .storage import DuplicateError, SessionInfo, Store
from .storage.schema import aware, now
from .submit import Submissions

HERE = Path(__file__).parent
LANG_COOKIE = "lm_lang"
BANGKOK = timedelta(hours=7)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

T_ = TypeVar("T_")


# ---------------------------------------------------------------- API models
class ErrorItem(BaseModel):
    field: str = Field(description="The input the problem is about ('' for the whole request)")
    code: str = Field(description="Stable machine-readable code, e.g. national-id-invalid")
    message: str = Field(description="Message for people, in the requested language")


class ErrorOut(BaseModel):
    detail: str | list[ErrorItem]


class CsrfOut(BaseModel):
    csrf_token: str = Field(description="Send back as the X-CSRFToken header on every POST/DELETE")


class RegisterIn(BaseModel):
    username: str = Field(examples=["somchai.k"])
    password: str = Field(examples=["a long pass phrase"])
    name: str = Field(examples=["สมชาย ใจดี"])
    national_id: str | None = Field(default=None, description="Optional; only a keyed HMAC is stored")
    org_type: Literal["dla-central", "dla-provincial", "local-admin-org", "public"]
    organisation: str = ""
    province: str = Field(default="", description="One of the 77 provinces (Thai name), see /api/options")
    consent: bool = Field(default=False, description="Required for org_type=public (PDPA s.19)")


class LoginIn(BaseModel):
    username: str
    password: str


class LearnerOut(BaseModel):
    id: str
    username: str
    name: str
    role: str
    org_type: str
    organisation: str
    province: str
    lawful_basis: str
    consent_version: str | None
    has_national_id: bool


class Option(BaseModel):
    key: str
    th: str
    en: str


class OptionsOut(BaseModel):
    provinces: list[Option]
    org_types: list[Option]
    categories: list[Option]
    privacy_notice_version: str


class CourseSummary(BaseModel):
    id: str
    title: str
    short_description: str
    category: str
    category_name: str
    hours: float
    image: str
    enrolled: bool
    published: bool


class CategoryOut(BaseModel):
    key: str
    name: str
    courses: list[CourseSummary]


class UnitOut(BaseModel):
    id: str
    title: str
    section: str


class CourseDetail(CourseSummary):
    description: str
    pass_threshold: float
    start: str
    end: str
    dates_be: str = Field(
        default="", description="Course dates for people, Buddhist Era (19 มี.ค. 2564 - ...)"
    )
    enrolment_be: str = Field(
        default="", description="Enrolment window for people, Buddhist Era ('' = always)"
    )
    enrolment_open: bool = True
    units: list[UnitOut]


class EnrolmentOut(BaseModel):
    course_id: str
    enrolled: bool
    last_unit: str | None
    resume_unit: str


class UnitView(BaseModel):
    course_id: str
    unit_id: str
    title: str
    index: int
    total: int
    prev: str | None
    next: str | None
    html: str = Field(description="The unit's student_view (blocks wrapped in div.xblock[data-init])")
    css: list[str]
    js: list[str]


class QuizProgress(BaseModel):
    id: str
    title: str
    role: str
    counts: bool = Field(description="Counts toward the course grade")
    earned: float | None
    possible: float
    score: float | None


class ProgressOut(BaseModel):
    course_id: str
    completion: float = Field(description="Share of html/video/quiz blocks completed, 0-1")
    completed_blocks: int
    total_blocks: int
    quizzes: list[QuizProgress]
    grade: float
    passed: bool
    pass_threshold: float
    study_minutes: int


class AdminLearner(BaseModel):
    id: str
    role: str
    username: str | None
    name: str | None
    org_type: str | None
    organisation: str | None
    province: str | None
    enrolments: int
    created_at: str


class AdminLearners(BaseModel):
    learners: list[AdminLearner]
    more: bool


class PublishIn(BaseModel):
    published: bool


class OkOut(BaseModel):
    ok: bool = True


# ---------------------------------------------------------------- the app
def lang_of(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q  # type: ignore[return-value]
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGS else "th"


def local_next(value: str | None) -> str:
    """Only same-site paths: an open redirect after login would help phishing."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def be_span(start: Any, end: Any, lang: str) -> str:
    """'19 มี.ค. 2564 - 30 ก.ย. 2564' (either end may be open), '' when neither is set."""
    a, b = be_date(when(start), lang), be_date(when(end, closing=True), lang)
    return f"{a} - {b}".strip(" -") if (a or b) else ""


def bangkok_time(value: datetime) -> str:
    return (value.astimezone(UTC) + BANGKOK).strftime("%H:%M")


class RuntimeApp(FastAPI):
    """FastAPI behind the edge (``edge.Edge``): every request passes the edge first."""

    edge: Edge | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.edge is not None:
            await self.edge(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def full(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The whole FastAPI app (routing, dependencies, exception handlers)."""
        await super().__call__(scope, receive, send)


def create_app(
    courses: dict[str, LoadedCourse] | Path,
    db_url: str,
    *,
    secrets: Secrets | None = None,
    secure_cookies: bool = False,
    migrate: bool = True,
    settings: Settings | None = None,
) -> FastAPI:
    """The app for a set of courses (or a folder of them) and a database URL (or ``settings``)."""
    cfg = settings or Settings(
        courses=courses if isinstance(courses, Path) else Path("."),
        db_url=db_url,
        secure_cookies=secure_cookies,
        migrate=migrate,
    )
    loaded = courses if isinstance(courses, dict) else load_courses(courses, cfg.trusted_html)
    store = Store(cfg.db_url, idle_ttl=cfg.login.idle_ttl)
    if cfg.migrate:
        store.upgrade()
    store.start_checkpointer()
    keys = secrets or Secrets.load(cfg.key_path(), cfg.secret_key)
    names = CookieNames.for_(cfg.secure_cookies)
    secure_cookies = cfg.secure_cookies
    limits: Limits = cfg.limits
    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    enrolled_cache: set[tuple[str, str]] = set()  # positive only: enrolments are never withdrawn

    app = RuntimeApp(
        title="Local MOOC runtime",
        version=__version__,
        description=(
            "Learners take Local MOOC courses; learner state is stored in SQL. Authentication: the "
            f"`{names.session}` cookie set by /api/login. Every POST/DELETE needs the `X-CSRFToken` header "
            f"equal to the `{names.csrf}` cookie (get both from GET /api/csrf); after login the token is "
            "bound to the session."
        ),
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.courses = loaded
    app.state.settings = cfg
    pool = None if store.is_sqlite else ThreadPoolExecutor(store.pool_size, thread_name_prefix="lm-db")
    submissions = Submissions(loaded, store, keys, names, pool)
    app.state.submissions = submissions
    app.edge = Edge(app.full, limits, submissions.call, names.lang)
    app.mount("/assets/app", StaticFiles(directory=HERE / "static"), name="app-static")

    async def db(fn: Callable[..., T_], *args: Any) -> T_:
        if store.is_sqlite:
            return fn(*args)
        return await run_in_threadpool(fn, *args)

    # ------------------------------------------------------------ request helpers
    def expected_csrf(request: Request) -> str | None:
        """With a session, its own token (HMAC of the session cookie); before login, the cookie's."""
        token = request.cookies.get(names.session)
        return keys.csrf_for_session(token) if token else request.cookies.get(names.csrf)

    async def csrf_guard(request: Request) -> None:
        """Double-submit: the token must come back in a header (API, JS) or a form field (HTML forms)."""
        if request.method not in UNSAFE_METHODS:
            return
        sent = request.headers.get("x-csrftoken")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = str((await request.form()).get("csrf_token") or "")
        if not same_token(expected_csrf(request), sent):
            raise Forbidden("csrf")

    app.router.dependencies.append(Depends(csrf_guard))

    async def session_of(request: Request) -> SessionInfo | None:
        token = request.cookies.get(names.session)
        if not token:
            return None
        return await db(store.session, token)

    async def need_learner(request: Request) -> SessionInfo:
        s = await session_of(request)
        if s is None:
            raise LoginRequired()
        return s

    async def need_admin(request: Request) -> SessionInfo:
        s = await need_learner(request)
        if s.role != "admin":
            raise Forbidden()
        return s

    Learner = Annotated[SessionInfo, Depends(need_learner)]
    Admin = Annotated[SessionInfo, Depends(need_admin)]

    def course_or_404(course_id: str) -> LoadedCourse:
        c = loaded.get(course_id)
        if c is None:
            raise NotFound()
        return c

    async def is_enrolled(s: SessionInfo | None, course: LoadedCourse) -> bool:
        if s is None:
            return False
        key = (s.learner_id, course.id)
        if key in enrolled_cache:
            return True
        if await db(store.enrolment, s.learner_id, course.id) is None:
            return False
        enrolled_cache.add(key)
        return True

    async def need_enrolled(s: SessionInfo, course: LoadedCourse) -> None:
        if not await is_enrolled(s, course):
            raise Forbidden("not_enrolled")

    async def visible_or_404(c: LoadedCourse, s: SessionInfo | None) -> None:
        published = await db(store.published_map)
        if not visible(c, published, s.role if s else None, await is_enrolled(s, c)):
            raise NotFound()

    async def enrol(c: LoadedCourse, s: SessionInfo) -> None:
        published = await db(store.published_map)
        check_can_enrol(c, published, s.role, await is_enrolled(s, c))
        await db(store.enrol, s.learner_id, c.id)

    def csrf_cookie(request: Request, response: Response) -> str:
        token = expected_csrf(request) or getattr(request.state, "csrf", None)
        if not token:
            token = new_csrf_token()
            request.state.csrf = token
        response.set_cookie(
            names.csrf,
            token,
            httponly=True,
            samesite="lax",
            secure=secure_cookies,
            path="/",
            max_age=86400 * 7,
        )
        return token

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        lang = lang_of(request)
        response = HTMLResponse("", status_code=status)
        token = csrf_cookie(request, response)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, lang, samesite="lax", secure=secure_cookies, max_age=86400 * 365)
        other = "en" if lang == "th" else "th"
        response.body = (
            templates.get_template(name)
            .render(
                lang=lang,
                t=t(lang),
                csrf_token=token,
                path=request.url.path,
                lang_url=f"{request.url.path}?lang={other}",
                session=getattr(request.state, "session", None),
                categories=CATEGORIES,
                **ctx,
            )
            .encode()
        )
        response.headers["content-length"] = str(len(response.body))
        return response

    def category_name(key: str, lang: str) -> str:
        for k, th, en in CATEGORIES:
            if k == key:
                return th if lang == "th" else en
        return key

    def summary(c: LoadedCourse, lang: str, enrolled: set[str], published: dict[str, bool]) -> CourseSummary:
        m = c.meta
        image = m["image"].replace("/static/", f"/courses/{c.id}/static/", 1) if m["image"] else ""
        return CourseSummary(
            id=c.id,
            title=m["title"],
            short_description=m["short_description"],
            category=m["category"],
            category_name=category_name(m["category"], lang),
            hours=m["hours"],
            image=image,
            enrolled=c.id in enrolled,
            published=published.get(c.id, True),
        )

    async def catalogue_data(s: SessionInfo | None, lang: str) -> list[CategoryOut]:
        published = await db(store.published_map)
        enrolled = set(await db(store.enrolled_courses, s.learner_id)) if s else set()
        out = []
        for key, th, en in CATEGORIES:
            items = [
                summary(c, lang, enrolled, published)
                for c in loaded.values()
                if c.meta["category"] == key and published.get(c.id, True)
            ]
            out.append(CategoryOut(key=key, name=th if lang == "th" else en, courses=items))
        others = [
            summary(c, lang, enrolled, published)
            for c in loaded.values()
            if c.meta["category"] not in {k for k, _th, _en in CATEGORIES} and published.get(c.id, True)
        ]
        if others:
            out.append(CategoryOut(key="other", name="อื่น ๆ" if lang == "th" else "Other", courses=others))
        return out

    async def detail_data(c: LoadedCourse, s: SessionInfo | None, lang: str) -> CourseDetail:
        published = await db(store.published_map)
        enrolled = set(await db(store.enrolled_courses, s.learner_id)) if s else set()
        base = summary(c, lang, enrolled, published)
        m = c.meta
        return CourseDetail(
            **base.model_dump(),
            description=m["description"],
            pass_threshold=m["pass_threshold"],
            start=str(m["start"]),
            end=str(m["end"]),
            dates_be=be_span(m["start"], m["end"], lang),
            enrolment_be=be_span(m.get("enrollment_start"), m.get("enrollment_end"), lang),
            enrolment_open=enrolment_open(c),
            units=[UnitOut(id=u.id, title=u.title, section=u.section) for u in c.units],
        )

    async def progress_data(c: LoadedCourse, s: SessionInfo) -> ProgressOut:
        best, done = await db(store.progress, s.learner_id, c.id)
        e = await db(store.enrolment, s.learner_id, c.id)
        counted = {q.id for q in c.grading.quizzes}
        quizzes = []
        scores: dict[str, float] = {}
        for q in c.quizzes:
            got = best.get(q.id)
            score = (got[0] / got[1]) if got and got[1] else (0.0 if got else None)
            if score is not None:
                scores[q.id] = score
            quizzes.append(
                QuizProgress(
                    id=q.id,
                    title=q.title,
                    role=q.role,
                    counts=q.id in counted,
                    earned=got[0] if got else None,
                    possible=got[1] if got else q.possible,
                    score=score,
                )
            )
        grade, passed = c.grading.result(scores)
        completed = sum(1 for b in c.completable if done.get(b, 0.0) >= 1.0)
        total = len(c.completable)
        return ProgressOut(
            course_id=c.id,
            completion=(completed / total) if total else 0.0,
            completed_blocks=completed,
            total_blocks=total,
            quizzes=quizzes,
            grade=grade,
            passed=passed,
            pass_threshold=c.grading.pass_threshold,
            study_minutes=int((e or {}).get("study_seconds", 0) // 60),
        )

    async def view_unit(c: LoadedCourse, s: SessionInfo, unit_id: str, lang: str) -> UnitView:
        unit = c.unit_index.get(unit_id)
        if unit is None:
            raise NotFound()
        await need_enrolled(s, c)
        rendered = await db(render_for_learner, store, c, s.learner_id, unit_id, lang)
        await db(store.record_view, s.learner_id, c.id, unit_id, unit.view_completes)
        i = unit.index
        return UnitView(
            course_id=c.id,
            unit_id=unit.id,
            title=unit.title,
            index=i,
            total=len(c.units),
            prev=c.units[i - 1].id if i > 0 else None,
            next=c.units[i + 1].id if i + 1 < len(c.units) else None,
            html=rendered.html,
            css=rendered.css,
            js=rendered.js,
        )

    async def resume_unit(c: LoadedCourse, s: SessionInfo) -> EnrolmentOut:
        e = await db(store.enrolment, s.learner_id, c.id)
        last = (e or {}).get("last_unit")
        resume = last if last in c.unit_index else c.units[0].id
        return EnrolmentOut(course_id=c.id, enrolled=e is not None, last_unit=last, resume_unit=resume)

    async def register(data: RegisterIn, lang: str) -> str:
        tr = t(lang)
        problems: list[FieldProblem] = []

        def bad(field: str, code: str, key: str) -> None:
            problems.append(FieldProblem(field, code, tr[key]))

        username = canonical_username(data.username)
        if username_problem(username):
            bad("username", "username-invalid", "bad_username")
        why = password_problem(data.password, username)
        if why:
            problems.append(FieldProblem("password", "password-weak", f"{tr['weak_password']}: {why}"))
        name = " ".join(data.name.split())
        if not name or len(name) > 200:
            bad("name", "name-missing", "bad_name")
        nid_hmac = None
        if data.national_id and data.national_id.strip():
            nid = normalise_national_id(data.national_id)
            if not national_id_valid(nid):
                bad("national_id", "national-id-invalid", "bad_national_id")
            else:
                nid_hmac = keys.national_id_hmac(nid)
        if data.province not in PROVINCE_NAMES:
            bad("province", "province-unknown", "bad_province")
        basis = LAWFUL_BASIS[data.org_type]
        if basis == "consent" and not data.consent:
            bad("consent", "consent-required", "consent_required")
        if problems:
            raise Invalid(items=problems)
        at = now()
        identity = {
            "username": username,
            "name": name,
            "national_id_hmac": nid_hmac,
            "org_type": data.org_type,
            "organisation": " ".join(data.organisation.split())[:200],
            "province": data.province,
            "lawful_basis": basis,
            "consent_version": PRIVACY_NOTICE_VERSION if data.consent or basis == "public-task" else None,
            "consent_at": at if data.consent else None,
            "password_hash": await run_in_threadpool(hash_password, data.password),
        }
        try:
            return await db(store.create_learner, identity)
        except DuplicateError:
            # One answer whichever is taken: it must not tell a stranger that a national id is registered.
            conflict = FieldProblem("", "registration-conflict", tr["registration_conflict"])
            raise Conflict(items=[conflict]) from None

    async def login(data: LoginIn, request: Request) -> tuple[str, str]:
        """(learner id, session token). Unknown user and wrong password get the same answer after the same
        work; attempts are throttled per (account, client) before any password is checked."""
        username = canonical_username(data.username)
        client = request.client.host if request.client else ""
        key = throttle_key(username, client)
        wait = await db(store.login_attempt, key, cfg.login)
        if wait is not None:
            raise Throttled(wait)
        ident = await db(store.identity_for_login, username)
        stored = ident["password_hash"] if ident else DUMMY_HASH
        if not await run_in_threadpool(verify_password, stored, data.password) or ident is None:
            await db(store.login_failed, ident["learner_id"] if ident else None)
            raise LoginFailed()
        token = await db(store.login_succeeded, ident["learner_id"], key, cfg.login)
        return ident["learner_id"], token

    def set_session(response: Response, token: str) -> None:
        response.set_cookie(
            names.session,
            token,
            httponly=True,
            samesite="lax",
            secure=secure_cookies,
            path="/",
            max_age=int(cfg.login.session_ttl.total_seconds()),
        )
        # The CSRF token of the new session (bound to it): a token planted before login is useless.
        response.set_cookie(
            names.csrf,
            keys.csrf_for_session(token),
            httponly=True,
            samesite="lax",
            secure=secure_cookies,
            path="/",
        )

    def learner_out(p: dict[str, Any]) -> LearnerOut:
        return LearnerOut(
            id=p["id"],
            username=p["username"],
            name=p["name"],
            role=p["role"],
            org_type=p["org_type"],
            organisation=p["organisation"],
            province=p["province"],
            lawful_basis=p["lawful_basis"],
            consent_version=p["consent_version"],
            has_national_id=bool(p["has_national_id"]),
        )

    # ------------------------------------------------------------ errors: the runtime's family, in one place
    @app.exception_handler(RuntimeProblem)
    async def on_problem(request: Request, exc: RuntimeProblem) -> Response:
        lang = lang_of(request)
        headers = problem_headers(exc)
        if request.url.path.startswith("/api/"):
            return Response(problem_body(exc, lang), exc.status, headers, media_type="application/json")
        if isinstance(exc, LoginRequired):
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return page(request, "error.html", exc.status, message=problem_message(exc, lang), code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        # Starlette's own (unknown route, wrong method): the same shapes as the runtime's errors.
        problem = RuntimeProblem("not_found" if exc.status_code == 404 else "error")
        problem.status = exc.status_code
        return await on_problem(request, problem)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        items = [
            {
                "field": ".".join(str(p) for p in e.get("loc", [])[1:]),
                "code": e.get("type", "invalid"),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": items}, status_code=422)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> Response:
        lang = lang_of(request)
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": "server_error", "message": t(lang)["server_error"]}, status_code=500
            )
        return page(request, "error.html", 500, message=t(lang)["server_error"], code=500)

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        # The database is restarting, unreachable or locked: "try again" (503), not "a bug" (500).
        log_unavailable(request.url.path, exc)
        lang = lang_of(request)
        if request.url.path.startswith("/api/"):
            body = unavailable_body(t(lang)["server_error"])
            return Response(body, status_code=503, media_type="application/json")
        return page(request, "error.html", 503, message=t(lang)["server_error"], code=503)

    for fault in DB_UNAVAILABLE:
        app.add_exception_handler(fault, on_unavailable)

    err = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}}
    # A JSON body that is not UTF-8 is refused by FastAPI with a 400; a missing CSRF header with a 403.
    bad_body = {400: {"model": ErrorOut}, 403: {"model": ErrorOut}}

    # ------------------------------------------------------------ JSON API
    @app.get("/api/csrf", response_model=CsrfOut, tags=["auth"])
    async def api_csrf(request: Request, response: Response) -> CsrfOut:
        """A CSRF token (also set as the cookie) for API clients."""
        return CsrfOut(csrf_token=csrf_cookie(request, response))

    @app.get("/api/health", response_model=OkOut, tags=["health"])
    async def api_health() -> OkOut:
        """Liveness for load balancers: no database, no session (answered ahead of FastAPI in a worker)."""
        return OkOut()

    @app.get("/api/options", response_model=OptionsOut, tags=["auth"])
    async def api_options() -> OptionsOut:
        """Provinces, organisation types and categories for registration forms."""
        return OptionsOut(
            provinces=[Option(key=th, th=th, en=en) for th, en in PROVINCES],
            org_types=[Option(key=k, th=th, en=en) for k, th, en, _b in ORG_TYPES],
            categories=[Option(key=k, th=th, en=en) for k, th, en in CATEGORIES],
            privacy_notice_version=PRIVACY_NOTICE_VERSION,
        )

    @app.post(
        "/api/register",
        response_model=LearnerOut,
        status_code=201,
        tags=["auth"],
        responses={**bad_body, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    )
    async def api_register(data: RegisterIn, request: Request) -> LearnerOut:
        """Create an account. The national id is optional and checked (mod 11); only its HMAC is kept."""
        learner_id = await register(data, lang_of(request))
        p = await db(store.profile, learner_id)
        assert p is not None
        return learner_out(p)

    @app.post(
        "/api/login",
        response_model=LearnerOut,
        tags=["auth"],
        responses={**bad_body, 401: {"model": ErrorOut}, 423: {"model": ErrorOut}},
    )
    async def api_login(data: LoginIn, request: Request, response: Response) -> LearnerOut:
        """Open a session (cookie). Five wrong passwords lock the account for 15 minutes."""
        learner_id, token = await login(data, request)
        set_session(response, token)
        p = await db(store.profile, learner_id)
        assert p is not None
        return learner_out(p)

    @app.post("/api/logout", response_model=OkOut, tags=["auth"], responses={403: {"model": ErrorOut}})
    async def api_logout(request: Request, response: Response) -> OkOut:
        token = request.cookies.get(names.session)
        if token:
            await db(store.logout, token)
        response.delete_cookie(names.session, path="/", secure=secure_cookies)
        return OkOut()

    @app.get("/api/me", response_model=LearnerOut, tags=["me"], responses=err)
    async def api_me(s: Learner) -> LearnerOut:
        p = await db(store.profile, s.learner_id)
        if p is None:
            raise NotFound()
        return learner_out(p)

    @app.get("/api/me/export", response_model=dict[str, Any], tags=["me"], responses=err)
    async def api_export(s: Learner) -> JSONResponse:
        """Everything held about the learner (PDPA right of access), as a download."""
        data = await db(store.export, s.learner_id)
        return JSONResponse(
            data, headers={"content-disposition": 'attachment; filename="localmooc-my-data.json"'}
        )

    @app.delete("/api/me", response_model=OkOut, tags=["me"], responses=err)
    async def api_erase(response: Response, s: Learner) -> OkOut:
        """Erase identity data; learning records stay under the random id, anonymous."""
        await db(store.erase, s.learner_id)
        response.delete_cookie(names.session, path="/", secure=secure_cookies)
        return OkOut()

    @app.get("/api/courses", response_model=list[CategoryOut], tags=["courses"])
    async def api_catalogue(request: Request) -> list[CategoryOut]:
        """The catalogue by the seven Local MOOC categories."""
        return await catalogue_data(await session_of(request), lang_of(request))

    @app.get("/api/courses/{course_id}", response_model=CourseDetail, tags=["courses"], responses=err)
    async def api_course(course_id: str, request: Request) -> CourseDetail:
        c, s = course_or_404(course_id), await session_of(request)
        await visible_or_404(c, s)
        return await detail_data(c, s, lang_of(request))

    @app.post("/api/courses/{course_id}/enrol", response_model=EnrolmentOut, tags=["courses"], responses=err)
    async def api_enrol(course_id: str, s: Learner) -> EnrolmentOut:
        """Enrol: the course must be visible and its enrolment window open."""
        c = course_or_404(course_id)
        await enrol(c, s)
        return await resume_unit(c, s)

    @app.get("/api/courses/{course_id}/resume", response_model=EnrolmentOut, tags=["courses"], responses=err)
    async def api_resume(course_id: str, s: Learner) -> EnrolmentOut:
        """Where the learner left off (the last unit shown)."""
        c = course_or_404(course_id)
        await need_enrolled(s, c)
        return await resume_unit(c, s)

    @app.get(
        "/api/courses/{course_id}/units/{unit_id}", response_model=UnitView, tags=["courses"], responses=err
    )
    async def api_unit(course_id: str, unit_id: str, request: Request, s: Learner) -> UnitView:
        """A unit rendered for the learner; shows count as a visit (resume point, html completion)."""
        return await view_unit(course_or_404(course_id), s, unit_id, lang_of(request))

    @app.post(
        "/api/courses/{course_id}/blocks/{block_id}/handler/{handler}",
        response_model=dict[str, Any],
        tags=["courses"],
        responses={**err, 400: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    )
    async def api_handler(course_id: str, block_id: str, handler: str, request: Request) -> Response:
        """Call a block's JSON handler (quiz ``submit``/``state``, video ``watched_handler``) as yourself.

        State, grade and completion are written in one transaction. (Answered by the edge, through
        ``submit.Submissions.call``, before routing: this route only documents it.)
        """
        raise NotFound()  # pragma: no cover - the edge answers every request of this path

    @app.get("/api/courses/{course_id}/progress", response_model=ProgressOut, tags=["courses"], responses=err)
    async def api_progress(course_id: str, s: Learner) -> ProgressOut:
        """Best score per quiz, completion, course grade and pass/fail by the course's grading rules."""
        c = course_or_404(course_id)
        await need_enrolled(s, c)
        return await progress_data(c, s)

    @app.get("/api/admin/learners", response_model=AdminLearners, tags=["admin"], responses=err)
    async def api_admin_learners(
        s: Admin,
        offset: Annotated[int, Query(ge=0, le=Limits.max_admin_offset)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> AdminLearners:
        more, rows = await db(store.list_learners, offset, limit)
        return AdminLearners(
            learners=[AdminLearner(**{**r, "created_at": aware(r["created_at"]).isoformat()}) for r in rows],  # type: ignore[union-attr]
            more=more,
        )

    @app.get("/api/admin/courses", response_model=list[CourseSummary], tags=["admin"], responses=err)
    async def api_admin_courses(request: Request, s: Admin) -> list[CourseSummary]:
        published = await db(store.published_map)
        return [summary(c, lang_of(request), set(), published) for c in loaded.values()]

    @app.post(
        "/api/admin/courses/{course_id}", response_model=OkOut, tags=["admin"], responses={**err, **bad_body}
    )
    async def api_admin_publish(course_id: str, data: PublishIn, s: Admin) -> OkOut:
        """Show or hide a course in the catalogue (enrolled learners keep access)."""
        c = course_or_404(course_id)
        await db(store.set_published, s.learner_id, c.id, data.published)
        return OkOut()

    # ------------------------------------------------------------ assets
    @app.get("/assets/frag/{name}", include_in_schema=False)
    async def frag_asset(name: str) -> Response:
        item = RESOURCES.get(name)
        if item is None:
            raise NotFound()
        return Response(
            item[1], media_type=item[0], headers={"cache-control": "public, max-age=31536000, immutable"}
        )

    @app.get("/assets/xblock/{block_type}/{uri:path}", include_in_schema=False)
    async def xblock_asset(block_type: str, uri: str) -> Response:
        cls = next((c.classes[block_type] for c in loaded.values() if block_type in c.classes), None)
        if cls is None:
            raise NotFound()
        try:
            data = cls.open_local_resource(uri).read()
        except Exception:  # XBlock raises several types for a refused or missing path
            raise NotFound() from None
        ctype = (
            "text/css"
            if uri.endswith(".css")
            else "text/javascript"
            if uri.endswith(".js")
            else "application/octet-stream"
        )
        return Response(data, media_type=ctype, headers={"cache-control": "public, max-age=3600"})

    @app.get("/courses/{course_id}/static/{rel:path}", include_in_schema=False)
    async def course_asset(course_id: str, rel: str, request: Request) -> FileResponse:
        """A course file, served so that it cannot act as the app (docs/security.md): sandboxed (an
        origin of its own, no script), active types (html, svg, xml, js ...) as downloads, and the
        files of a hidden course only to those who may see the course."""
        c = course_or_404(course_id)
        path = c.static_file(rel)
        if path is None:
            raise NotFound()
        await visible_or_404(c, await session_of(request))
        headers = {"cache-control": "private, max-age=3600", "content-security-policy": COURSE_FILE_CSP}
        if path.suffix.lower() in ACTIVE_SUFFIXES:
            headers["content-disposition"] = f"attachment; filename*=UTF-8''{quote(path.name)}"
        return FileResponse(path, headers=headers)

    # ------------------------------------------------------------ HTML pages
    async def with_session(request: Request) -> SessionInfo | None:
        s = await session_of(request)
        request.state.session = s
        return s

    async def page_learner(request: Request) -> SessionInfo:
        s = await with_session(request)
        if s is None:
            raise LoginRequired()
        return s

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request, category: str | None = None) -> HTMLResponse:
        s = await with_session(request)
        cats = await catalogue_data(s, lang_of(request))
        return page(request, "catalogue.html", cats=cats, selected=category)

    @app.get("/courses/{course_id}", response_class=HTMLResponse, include_in_schema=False)
    async def about(course_id: str, request: Request) -> HTMLResponse:
        s = await with_session(request)
        c = course_or_404(course_id)
        await visible_or_404(c, s)
        return page(request, "about.html", course=await detail_data(c, s, lang_of(request)))

    @app.post("/courses/{course_id}/enrol", include_in_schema=False)
    async def enrol_form(course_id: str, request: Request) -> RedirectResponse:
        s = await page_learner(request)
        c = course_or_404(course_id)
        await enrol(c, s)
        return RedirectResponse(f"/courses/{c.id}/learn", status_code=303)

    @app.get("/courses/{course_id}/learn", include_in_schema=False)
    async def learn(course_id: str, request: Request) -> RedirectResponse:
        s = await page_learner(request)
        c = course_or_404(course_id)
        r = await resume_unit(c, s)
        if not r.enrolled:
            return RedirectResponse(f"/courses/{c.id}", status_code=303)
        return RedirectResponse(f"/courses/{c.id}/units/{r.resume_unit}", status_code=303)

    @app.get("/courses/{course_id}/units/{unit_id}", response_class=HTMLResponse, include_in_schema=False)
    async def unit_page(course_id: str, unit_id: str, request: Request) -> HTMLResponse:
        s = await page_learner(request)
        c = course_or_404(course_id)
        view = await view_unit(c, s, unit_id, lang_of(request))
        return page(request, "player.html", course=c, view=view, units=c.units)

    @app.get("/courses/{course_id}/progress", response_class=HTMLResponse, include_in_schema=False)
    async def progress_page(course_id: str, request: Request) -> HTMLResponse:
        s = await page_learner(request)
        c = course_or_404(course_id)
        await need_enrolled(s, c)
        return page(request, "progress.html", course=c, progress=await progress_data(c, s))

    def form_str(form: Any, name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    @app.get("/register", response_class=HTMLResponse, include_in_schema=False)
    async def register_page(request: Request) -> HTMLResponse:
        await with_session(request)
        return page(request, "register.html", values={}, errors={}, provinces=PROVINCES, org_types=ORG_TYPES)

    @app.post("/register", include_in_schema=False)
    async def register_form(request: Request) -> Response:
        await with_session(request)
        form = await request.form()
        values = {
            k: form_str(form, k)
            for k in ("username", "name", "national_id", "org_type", "organisation", "province")
        }
        org_type = values["org_type"] if values["org_type"] in LAWFUL_BASIS else "public"
        errors: dict[str, str] = {}
        if values["org_type"] not in LAWFUL_BASIS:
            errors["org_type"] = t(lang_of(request))["bad_org_type"]
        try:
            if errors:
                raise Invalid()
            data = RegisterIn(
                username=values["username"],
                password=form_str(form, "password"),
                name=values["name"],
                national_id=values["national_id"] or None,
                org_type=org_type,  # type: ignore[arg-type]
                organisation=values["organisation"],
                province=values["province"],
                consent=form_str(form, "consent") == "yes",
            )
            await register(data, lang_of(request))
        except RuntimeProblem as p:
            errors.update({i.field or "form": i.message for i in p.items})
            return page(
                request,
                "register.html",
                422,
                values=values,
                errors=errors,
                provinces=PROVINCES,
                org_types=ORG_TYPES,
            )
        # Registered: log straight in.
        _lid, token = await login(
            LoginIn(username=values["username"], password=form_str(form, "password")), request
        )
        response = RedirectResponse("/", status_code=303)
        set_session(response, token)
        return response

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
        await with_session(request)
        return page(request, "login.html", error=None, next=local_next(next), username="")

    @app.post("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        await with_session(request)
        form = await request.form()
        target = local_next(form_str(form, "next"))
        try:
            _lid, token = await login(
                LoginIn(username=form_str(form, "username"), password=form_str(form, "password")), request
            )
        except (LoginFailed, Throttled) as p:
            return page(
                request,
                "login.html",
                p.status,
                error=problem_message(p, lang_of(request)),
                next=target,
                username=form_str(form, "username"),
            )
        response = RedirectResponse(target, status_code=303)
        set_session(response, token)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout_form(request: Request) -> RedirectResponse:
        token = request.cookies.get(names.session)
        if token:
            await db(store.logout, token)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(names.session, path="/", secure=secure_cookies)
        return response

    @app.get("/me", response_class=HTMLResponse, include_in_schema=False)
    async def me_page(request: Request) -> HTMLResponse:
        s = await page_learner(request)
        p = await db(store.profile, s.learner_id)
        org = {k: (th, en) for k, th, en, _b in ORG_TYPES}
        return page(request, "me.html", profile=p, org_names=org)

    @app.post("/me/erase", include_in_schema=False)
    async def erase_form(request: Request) -> RedirectResponse:
        s = await page_learner(request)
        await db(store.erase, s.learner_id)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(names.session, path="/", secure=secure_cookies)
        return response

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    async def admin_page(
        request: Request, offset: Annotated[int, Query(ge=0, le=Limits.max_admin_offset)] = 0
    ) -> HTMLResponse:
        s = await page_learner(request)
        if s.role != "admin":
            raise Forbidden()
        published = await db(store.published_map)
        more, rows = await db(store.list_learners, max(offset, 0), 50)
        courses = [summary(c, lang_of(request), set(), published) for c in loaded.values()]
        return page(request, "admin.html", courses=courses, learners=rows, more=more, offset=offset)

    @app.post("/admin/courses/{course_id}", include_in_schema=False)
    async def admin_publish_form(course_id: str, request: Request) -> RedirectResponse:
        s = await page_learner(request)
        if s.role != "admin":
            raise Forbidden()
        c = course_or_404(course_id)
        form = await request.form()
        await db(store.set_published, s.learner_id, c.id, form_str(form, "published") == "yes")
        return RedirectResponse("/admin", status_code=303)

    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI documents 422 bodies as its HTTPValidationError ({loc, msg, type} items), but on_invalid
        # answers with this API's ErrorOut items ({field, code, message}): the document says so.
        if app.openapi_schema is None:
            schemas = plain_openapi()["components"]["schemas"]
            schemas["HTTPValidationError"] = {"$ref": "#/components/schemas/ErrorOut"}
            schemas.pop("ValidationError", None)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: ``localmooc serve`` hands its settings over in the environment."""
    settings = Settings.from_env()
    return create_app(settings.courses, settings.db_url, settings=settings)
