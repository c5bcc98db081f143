"""The web app: catalogue, registration, login, course player, progress, admin; a JSON API for all of it.

Every endpoint is ``async``. Database work runs inline on SQLite (a write there takes well under a
millisecond and SQLite serialises writers anyway, so a thread hop only adds latency) and in the thread
pool on PostgreSQL (network round trips). Password hashing always runs in the thread pool.
"""

import asyncio
import json
import logging
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from .blocks import (
    RESOURCES,
    LoadedCourse,
    call_handler,
    call_handlers_for_sessions,
    is_handler,
    load_courses,
    render_for_learner,
)
from .faults import DB_UNAVAILABLE, log_unavailable, unavailable_body
from .i18n import (
    CATEGORIES,
    LANGS,
    LAWFUL_BASIS,
    ORG_TYPES,
    PRIVACY_NOTICE_VERSION,
    PROVINCE_NAMES,
    PROVINCES,
    t,
)
from .security import (
    DUMMY_HASH,
    USERNAME,
    Secrets,
    hash_password,
    national_id_valid,
    new_csrf_token,
    normalise_national_id,
    password_problem,
    same_token,
    verify_password,
)
from .store import DuplicateError, SessionInfo, SessionRefused, Store, aware, now

HERE = Path(__file__).parent
SESSION_COOKIE = "lm_session"
CSRF_COOKIE = "lm_csrf"
LANG_COOKIE = "lm_lang"
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=12)
BANGKOK = timedelta(hours=7)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

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


# ---------------------------------------------------------------- security headers
class SecurityHeaders:
    """Pure ASGI (BaseHTTPMiddleware costs a task per request): security headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        private = not path.startswith("/assets/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if private and not any(k == b"cache-control" for k, _v in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---------------------------------------------------------------- the handler hot path
HANDLER_PATH = re.compile(r"/api/courses/([^/]+)/blocks/([^/]+)/handler/([^/]+)")
MAX_FAST_BODY = 64 * 1024  # quiz answers are a few hundred bytes; anything bigger takes the full route
HEALTH_BODY = b'{"ok":true}'
log = logging.getLogger(__name__)


class GroupCommit:
    """The handler calls that arrive together share one transaction (``Store.handler_batch``).

    A call waits for the event loop's next turn; the calls queued by then (requests whose bytes arrived
    in the same turn) form a batch. SQLite runs it right there on the loop (writers are serialised
    anyway; a thread hop only adds latency); PostgreSQL in the thread pool, ``in_flight`` batches at a
    time, so that under load the requests arriving meanwhile gather into the next batch instead of each
    paying its own round trips and COMMIT (1 measured best on 2 cores: 0.75-0.80 ms of worker CPU per
    submission at 32 learners against 0.92-0.98 with 2 and 0.83 with 4). Every caller hears back only
    after its batch committed.
    Nothing waits on a timer: a lone request is a batch of one.
    """

    MAX_BATCH = 64  # bounds one transaction's time on the loop (~0.3 ms a call)

    def __init__(self, store: Store, pool: ThreadPoolExecutor | None, in_flight: int = 1) -> None:
        self.store = store
        self.pool = pool
        self.limit = 1 if pool is None else in_flight
        self.pending: list[tuple[tuple[Any, ...], asyncio.Future[tuple[int, bytes, str]]]] = []
        self.scheduled = False
        self.running = 0
        self.transactions = 0  # calls / transactions = the batching achieved (tests, profiles)
        self.calls = 0

    async def run(self, request: tuple[Any, ...]) -> tuple[int, bytes, str]:
        """``request``: ``call_handlers_for_sessions``' (course, token, block, handler, body, lang)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bytes, str]] = loop.create_future()
        self.pending.append((request, future))
        self._kick(loop)
        return await future

    def _kick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.pending and not self.scheduled and self.running < self.limit:
            self.scheduled = True
            loop.call_soon(self._flush, loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self.scheduled = False
        batch, self.pending = self.pending[: self.MAX_BATCH], self.pending[self.MAX_BATCH :]
        if not batch:
            return
        self.transactions += 1
        self.calls += len(batch)
        requests = [request for request, _f in batch]
        if self.pool is None:
            try:
                results: Any = call_handlers_for_sessions(self.store, requests)
            except Exception as exc:  # the transaction failed as a whole: nothing was committed
                results = exc
            self._settle(batch, results)
            self._kick(loop)
            return
        self.running += 1
        done = loop.run_in_executor(self.pool, call_handlers_for_sessions, self.store, requests)

        def finished(f: asyncio.Future[Any]) -> None:
            self.running -= 1
            self._settle(batch, f.exception() or f.result())
            self._kick(loop)

        done.add_done_callback(finished)

    @staticmethod
    def _settle(batch: list[tuple[Any, asyncio.Future[Any]]], results: Any) -> None:
        for i, (_request, future) in enumerate(batch):
            if future.done():  # the request was cancelled (client gone); its work stands
                continue
            result = results if isinstance(results, BaseException) else results[i]
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


class HandlerFastPath:
    """Block handler calls (quiz ``submit``) and ``/api/health`` as plain ASGI, ahead of FastAPI.

    The same checks as the FastAPI route, in the same order: CSRF double submit, session, enrolment, a
    registered handler of a known block; then ``call_handler_for_session`` runs the block's handler
    through XBlock in one transaction with the session check. Routing and dependency injection cost more
    than the handler itself. Any request this path does not plainly accept (no CSRF header, unknown
    course, no or invalid session, not enrolled, large body) goes on to the FastAPI route unchanged (with
    its body), which answers it exactly as before; so error answers stay in one place.
    """

    def __init__(
        self, app: ASGIApp, courses: dict[str, LoadedCourse], store: Store, pool: ThreadPoolExecutor | None
    ) -> None:
        self.app = app
        self.courses = courses
        self.store = store
        # SQLite: batches on the event loop (writers are serialised anyway; a thread hop only adds
        # latency). PostgreSQL: in ``pool``, so waits for the network do not stall the loop.
        self.group = GroupCommit(store, pool)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if scope["method"] == "POST" and path.startswith("/api/courses/"):
                match = HANDLER_PATH.fullmatch(path)
                if match and await self._handler(scope, receive, send, *match.groups()):
                    return
            elif path == "/api/health" and scope["method"] == "GET":
                await self._respond(send, 200, HEALTH_BODY, b"application/json")
                return
        await self.app(scope, receive, send)

    async def _handler(
        self, scope: Scope, receive: Receive, send: Send, course_id: str, block_id: str, handler: str
    ) -> bool:
        """True when answered here; False to let the FastAPI route answer (nothing sent, body kept)."""
        course = self.courses.get(course_id)
        if course is None or not is_handler(course, block_id, handler):
            return False
        cookie = csrf = b""
        length = 0
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie = value
            elif name == b"x-csrftoken":
                csrf = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else MAX_FAST_BODY + 1
        if length > MAX_FAST_BODY:
            return False
        cookies = cookie_parser(cookie.decode("latin-1"))
        token = cookies.get(SESSION_COOKIE)
        if not token or not same_token(cookies.get(CSRF_COOKIE), csrf.decode("latin-1")):
            return False
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return True
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        lang = _lang(scope, cookies)
        try:
            status, out, ctype = await self.group.run((course, token, block_id, handler, body, lang))
        except SessionRefused:
            await self.app(scope, _replay(body), send)  # 401/403 from the route, as before
            return True
        except DB_UNAVAILABLE as exc:  # as the app's on_unavailable: try again, not a bug
            log_unavailable(scope["path"], exc)
            await self._respond(send, 503, unavailable_body(t(lang)["server_error"]), b"application/json")
            return True
        except Exception:  # a bug: the same answer as the app's handler of unexpected errors
            log.exception("handler %s/%s/%s failed", course_id, block_id, handler)
            msg = {"detail": "server_error", "message": t(lang)["server_error"]}
            await self._respond(send, 500, json.dumps(msg, ensure_ascii=False).encode(), b"application/json")
            return True
        await self._respond(send, status, out, ctype.encode("latin-1"))
        return True

    @staticmethod
    async def _respond(send: Send, status: int, body: bytes, ctype: bytes) -> None:
        headers = [
            (b"content-type", ctype),
            (b"content-length", str(len(body)).encode()),
            *SECURITY_HEADERS,
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _lang(scope: Scope, cookies: dict[str, str]) -> str:
    """``lang_of`` for a raw request: ?lang=, then the cookie, then Thai."""
    query: bytes = scope.get("query_string", b"")
    if query:
        for part in query.decode("latin-1").split("&"):
            if part.startswith("lang=") and part[5:] in LANGS:
                return part[5:]
    c = cookies.get(LANG_COOKIE)
    return c if c in LANGS else "th"


def _replay(body: bytes) -> Receive:
    """A receive() that hands the already-read body to the next app."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class RuntimeApp(FastAPI):
    """FastAPI with the hot path in front of everything, FastAPI's own per-request wrappers included."""

    fast_path: HandlerFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_path is not None:
            await self.fast_path(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def full(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The whole FastAPI app (routing, dependencies, exception handlers)."""
        await super().__call__(scope, receive, send)


# ---------------------------------------------------------------- the app
class Problems(Exception):
    def __init__(self, status: int, items: list[ErrorItem]) -> None:
        super().__init__(items[0].message if items else "")
        self.status = status
        self.items = items


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


def bangkok_time(value: datetime) -> str:
    return (value.astimezone(UTC) + BANGKOK).strftime("%H:%M")


def create_app(
    courses: dict[str, LoadedCourse] | Path,
    db_url: str,
    *,
    secrets: Secrets | None = None,
    secure_cookies: bool = False,
    migrate: bool = True,
) -> FastAPI:
    """The app for a set of courses (or a folder of them) and a database URL."""
    loaded = courses if isinstance(courses, dict) else load_courses(courses)
    store = Store(db_url)
    if migrate:
        store.upgrade()
    store.start_checkpointer()
    keys = secrets or Secrets.load(Path(os.environ.get("LOCALMOOC_KEY_FILE", "localmooc-secret.key")))
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
            f"`{SESSION_COOKIE}` cookie set by /api/login. Every POST/DELETE needs the `X-CSRFToken` header "
            f"equal to the `{CSRF_COOKIE}` cookie (get both from GET /api/csrf)."
        ),
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.courses = loaded
    app.add_middleware(SecurityHeaders)  # type: ignore[arg-type]
    # In front of FastAPI (and of SecurityHeaders: the fast path sets the same headers itself).
    fast_pool = None if store.is_sqlite else ThreadPoolExecutor(store.pool_size, thread_name_prefix="lm-db")
    app.fast_path = HandlerFastPath(app.full, loaded, store, fast_pool)
    app.mount("/assets/app", StaticFiles(directory=HERE / "static"), name="app-static")

    async def db(fn: Callable[..., T_], *args: Any) -> T_:
        if store.is_sqlite:
            return fn(*args)
        return await run_in_threadpool(fn, *args)

    # ------------------------------------------------------------ request helpers
    async def csrf_guard(request: Request) -> None:
        """Double-submit: the cookie must come back in a header (API, JS) or a form field (HTML forms)."""
        if request.method not in UNSAFE_METHODS:
            return
        cookie = request.cookies.get(CSRF_COOKIE)
        sent = request.headers.get("x-csrftoken")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = str((await request.form()).get("csrf_token") or "")
        if not same_token(cookie, sent):
            raise HTTPException(403, "csrf")

    app.router.dependencies.append(Depends(csrf_guard))

    async def session_of(request: Request) -> SessionInfo | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        return await db(store.session, token)

    async def need_learner(request: Request) -> SessionInfo:
        s = await session_of(request)
        if s is None:
            raise HTTPException(401, "login_required")
        return s

    async def need_admin(request: Request) -> SessionInfo:
        s = await need_learner(request)
        if s.role != "admin":
            raise HTTPException(403, "forbidden")
        return s

    Learner = Annotated[SessionInfo, Depends(need_learner)]
    Admin = Annotated[SessionInfo, Depends(need_admin)]

    def course_or_404(course_id: str) -> LoadedCourse:
        c = loaded.get(course_id)
        if c is None:
            raise HTTPException(404, "not_found")
        return c

    async def need_enrolled(s: SessionInfo, course: LoadedCourse) -> None:
        key = (s.learner_id, course.id)
        if key in enrolled_cache:
            return
        if await db(store.enrolment, s.learner_id, course.id) is None:
            raise HTTPException(403, "not_enrolled")
        enrolled_cache.add(key)

    def csrf_cookie(request: Request, response: Response) -> str:
        token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf", None)
        if not token:
            token = new_csrf_token()
            request.state.csrf = token
        response.set_cookie(
            CSRF_COOKIE,
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
            raise HTTPException(404, "not_found")
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
        problems: list[ErrorItem] = []

        def bad(field: str, code: str, key: str) -> None:
            problems.append(ErrorItem(field=field, code=code, message=tr[key]))

        username = data.username.strip()
        if not USERNAME.fullmatch(username) or (username.isdigit() and len(username) == 13):
            # A 13-digit username would be a national id stored in clear: refused.
            bad("username", "username-invalid", "bad_username")
        why = password_problem(data.password, username)
        if why:
            problems.append(
                ErrorItem(field="password", code="password-weak", message=f"{tr['weak_password']}: {why}")
            )
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
            raise Problems(422, problems)
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
        except DuplicateError as dup:
            key = "taken_username" if dup.what == "username" else "taken_national_id"
            field = "username" if dup.what == "username" else "national_id"
            raise Problems(
                409, [ErrorItem(field=field, code=f"{field.replace('_', '-')}-taken", message=tr[key])]
            ) from None

    async def login(data: LoginIn, lang: str) -> tuple[str, str]:
        """(learner id, session token); Problems 401 on bad credentials, 423 while locked."""
        tr = t(lang)
        ident = await db(store.identity_for_login, data.username.strip())
        if ident is None:
            await run_in_threadpool(verify_password, DUMMY_HASH, data.password)
            raise Problems(401, [ErrorItem(field="", code="login-failed", message=tr["bad_login"])])
        locked = ident["locked_until"]
        if locked and locked > now():
            msg = tr["locked"].format(until=bangkok_time(locked))
            raise Problems(423, [ErrorItem(field="", code="account-locked", message=msg)])
        if not await run_in_threadpool(verify_password, ident["password_hash"], data.password):
            until = await db(store.login_failed, ident["learner_id"], MAX_FAILURES, LOCK_FOR)
            if until:
                msg = tr["locked"].format(until=bangkok_time(until))
                raise Problems(423, [ErrorItem(field="", code="account-locked", message=msg)])
            raise Problems(401, [ErrorItem(field="", code="login-failed", message=tr["bad_login"])])
        token = await db(store.login_succeeded, ident["learner_id"], SESSION_TTL)
        return ident["learner_id"], token

    def set_session(response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=secure_cookies,
            path="/",
            max_age=int(SESSION_TTL.total_seconds()),
        )
        # A fresh CSRF token per login: a token planted before login is useless after it.
        response.set_cookie(
            CSRF_COOKIE, new_csrf_token(), httponly=True, samesite="lax", secure=secure_cookies, path="/"
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

    # ------------------------------------------------------------ errors
    @app.exception_handler(Problems)
    async def on_problems(request: Request, exc: Problems) -> Response:
        return JSONResponse({"detail": [i.model_dump() for i in exc.items]}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        lang = lang_of(request)
        tr = t(lang)
        key = (
            str(exc.detail)
            if str(exc.detail) in tr
            else {404: "not_found", 403: "forbidden"}.get(exc.status_code, "error")
        )
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": key, "message": tr[key]}, status_code=exc.status_code)
        if exc.status_code == 401:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return page(request, "error.html", exc.status_code, message=tr[key], code=exc.status_code)

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
        learner_id, token = await login(data, lang_of(request))
        set_session(response, token)
        p = await db(store.profile, learner_id)
        assert p is not None
        return learner_out(p)

    @app.post("/api/logout", response_model=OkOut, tags=["auth"], responses={403: {"model": ErrorOut}})
    async def api_logout(request: Request, response: Response) -> OkOut:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await db(store.logout, token)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return OkOut()

    @app.get("/api/me", response_model=LearnerOut, tags=["me"], responses=err)
    async def api_me(s: Learner) -> LearnerOut:
        p = await db(store.profile, s.learner_id)
        if p is None:
            raise HTTPException(404, "not_found")
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
        response.delete_cookie(SESSION_COOKIE, path="/")
        return OkOut()

    @app.get("/api/courses", response_model=list[CategoryOut], tags=["courses"])
    async def api_catalogue(request: Request) -> list[CategoryOut]:
        """The catalogue by the seven Local MOOC categories."""
        return await catalogue_data(await session_of(request), lang_of(request))

    @app.get("/api/courses/{course_id}", response_model=CourseDetail, tags=["courses"], responses=err)
    async def api_course(course_id: str, request: Request) -> CourseDetail:
        return await detail_data(course_or_404(course_id), await session_of(request), lang_of(request))

    @app.post("/api/courses/{course_id}/enrol", response_model=EnrolmentOut, tags=["courses"], responses=err)
    async def api_enrol(course_id: str, s: Learner) -> EnrolmentOut:
        c = course_or_404(course_id)
        await db(store.enrol, s.learner_id, c.id)
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

        State, grade and completion are written in one transaction.
        """
        s = await need_learner(request)
        c = course_or_404(course_id)
        if not is_handler(c, block_id, handler):
            raise HTTPException(404, "not_found")
        await need_enrolled(s, c)
        body = await request.body()
        status, out, ctype = await db(
            call_handler, store, c, s.learner_id, block_id, handler, body, lang_of(request)
        )
        return Response(out, status_code=status, media_type=ctype)

    @app.get("/api/courses/{course_id}/progress", response_model=ProgressOut, tags=["courses"], responses=err)
    async def api_progress(course_id: str, s: Learner) -> ProgressOut:
        """Best score per quiz, completion, course grade and pass/fail by the course's grading rules."""
        c = course_or_404(course_id)
        await need_enrolled(s, c)
        return await progress_data(c, s)

    @app.get("/api/admin/learners", response_model=AdminLearners, tags=["admin"], responses=err)
    async def api_admin_learners(s: Admin, offset: int = 0, limit: int = 50) -> AdminLearners:
        more, rows = await db(store.list_learners, max(offset, 0), min(max(limit, 1), 200))
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
            raise HTTPException(404, "not_found")
        return Response(
            item[1], media_type=item[0], headers={"cache-control": "public, max-age=31536000, immutable"}
        )

    @app.get("/assets/xblock/{block_type}/{uri:path}", include_in_schema=False)
    async def xblock_asset(block_type: str, uri: str) -> Response:
        cls = next((c.classes[block_type] for c in loaded.values() if block_type in c.classes), None)
        if cls is None:
            raise HTTPException(404, "not_found")
        try:
            data = cls.open_local_resource(uri).read()
        except Exception:  # XBlock raises several types for a refused or missing path
            raise HTTPException(404, "not_found") from None
        ctype = (
            "text/css"
            if uri.endswith(".css")
            else "text/javascript"
            if uri.endswith(".js")
            else "application/octet-stream"
        )
        return Response(data, media_type=ctype, headers={"cache-control": "public, max-age=3600"})

    @app.get("/courses/{course_id}/static/{rel:path}", include_in_schema=False)
    async def course_asset(course_id: str, rel: str) -> FileResponse:
        path = course_or_404(course_id).static_file(rel)
        if path is None:
            raise HTTPException(404, "not_found")
        return FileResponse(path, headers={"cache-control": "public, max-age=3600"})

    # ------------------------------------------------------------ HTML pages
    async def with_session(request: Request) -> SessionInfo | None:
        s = await session_of(request)
        request.state.session = s
        return s

    async def page_learner(request: Request) -> SessionInfo:
        s = await with_session(request)
        if s is None:
            raise HTTPException(401, "login_required")
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
        return page(request, "about.html", course=await detail_data(c, s, lang_of(request)))

    @app.post("/courses/{course_id}/enrol", include_in_schema=False)
    async def enrol_form(course_id: str, request: Request) -> RedirectResponse:
        s = await page_learner(request)
        c = course_or_404(course_id)
        await db(store.enrol, s.learner_id, c.id)
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
                raise Problems(422, [])
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
        except Problems as p:
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
            LoginIn(username=values["username"], password=form_str(form, "password")), lang_of(request)
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
                LoginIn(username=form_str(form, "username"), password=form_str(form, "password")),
                lang_of(request),
            )
        except Problems as p:
            return page(
                request,
                "login.html",
                p.status,
                error=p.items[0].message,
                next=target,
                username=form_str(form, "username"),
            )
        response = RedirectResponse(target, status_code=303)
        set_session(response, token)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout_form(request: Request) -> RedirectResponse:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await db(store.logout, token)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
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
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    async def admin_page(request: Request, offset: int = 0) -> HTMLResponse:
        s = await page_learner(request)
        if s.role != "admin":
            raise HTTPException(403, "forbidden")
        published = await db(store.published_map)
        more, rows = await db(store.list_learners, max(offset, 0), 50)
        courses = [summary(c, lang_of(request), set(), published) for c in loaded.values()]
        return page(request, "admin.html", courses=courses, learners=rows, more=more, offset=offset)

    @app.post("/admin/courses/{course_id}", include_in_schema=False)
    async def admin_publish_form(course_id: str, request: Request) -> RedirectResponse:
        s = await page_learner(request)
        if s.role != "admin":
            raise HTTPException(403, "forbidden")
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
    """Factory for uvicorn workers (``localmooc serve`` passes its options through the environment)."""
    return create_app(
        Path(os.environ["LOCALMOOC_COURSES"]),
        os.environ.get("LOCALMOOC_DB", "sqlite:///./localmooc.db"),
        secure_cookies=os.environ.get("LOCALMOOC_SECURE_COOKIES") == "1",
        migrate=os.environ.get("LOCALMOOC_MIGRATE", "1") == "1",
    )
