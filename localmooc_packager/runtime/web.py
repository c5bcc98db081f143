"""What every router shares: the services, the session of a request, CSRF, cookies, pages, and the
mapping of the runtime's errors to answers (``install_error_handlers``: the one place)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import Forbidden, LoginRequired, PasswordChangeRequired, RuntimeProblem
from .faults import DB_UNAVAILABLE, log_unavailable, unavailable_body
from .http import CookieNames, problem_body, problem_headers, problem_message
from .i18n import CATEGORIES, LANGS, ORG_TYPE_LABELS, num, pct, t
from .security import Secrets, new_csrf_token, same_token
from .services import Runner
from .services.accounts import Accounts
from .services.courses import Courses
from .services.progress import Progress
from .settings import Settings
from .storage import SessionInfo, Store

HERE = Path(__file__).parent
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What a session opened with a temporary password may reach before the password is changed.
PASSWORD_CHANGE_PATHS = frozenset({"/me/password", "/logout", "/api/logout", "/api/csrf"})
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters.update(num=num, pct=pct)  # one way to write scores, hours and percents on every page
TEMPLATES.globals["org_labels"] = ORG_TYPE_LABELS  # the registration form's short choices


def be_date(value: object, lang: str = "th", with_time: bool = False) -> str:
    """A stored UTC time (or a date) as its Bangkok date in B.E.: ``30 กันยายน พ.ศ. 2564`` (and the time)."""
    from datetime import date, datetime

    from ..results.thaidate import format_date, format_datetime, to_bangkok
    from .i18n import be_date as short_be_date

    if isinstance(value, datetime):
        if lang != "th":
            local = to_bangkok(value)
            return short_be_date(local, lang) + (f" {local:%H:%M}" if with_time else "")
        return format_datetime(value) if with_time else format_date(value)
    if isinstance(value, date):
        return format_date(value) if lang == "th" else short_be_date(value, lang)
    return ""


TEMPLATES.filters["be_date"] = be_date  # {{ when|be_date(lang) }}: every date of the Thai UI in B.E.


def lang_of(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q  # type: ignore[return-value]
    c = request.cookies.get("lm_lang")
    return c if c in LANGS else "th"


def local_next(value: str | None) -> str:
    """Only same-site paths: an open redirect after login would help phishing."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def form_str(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass
class Web:
    settings: Settings
    store: Store
    keys: Secrets
    names: CookieNames
    run: Runner
    accounts: Accounts
    courses: Courses
    progress: Progress
    preview: Any = None  # runtime/preview.Preview under `localmooc preview` only
    certificates: Any = None  # services/certificates.Certificates

    # ---- sessions
    async def session_of(self, request: Request) -> SessionInfo | None:
        """The request's session (pages keep it in request.state for the templates)."""
        token = request.cookies.get(self.names.session)
        s = await self.run(self.store.session, token) if token else None
        request.state.session = s
        if s is not None and s.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
            raise PasswordChangeRequired()
        return s

    async def learner(self, request: Request) -> SessionInfo:
        s = await self.session_of(request)
        if s is None:
            raise LoginRequired()
        return s

    async def admin(self, request: Request) -> SessionInfo:
        s = await self.learner(request)
        if s.role != "admin":
            raise Forbidden()
        return s

    # ---- CSRF: double submit, bound to the session once there is one
    def expected_csrf(self, request: Request) -> str | None:
        token = request.cookies.get(self.names.session)
        return self.keys.csrf_for_session(token) if token else request.cookies.get(self.names.csrf)

    async def csrf_guard(self, request: Request) -> None:
        """The token must come back in a header (API, JS) or a form field (HTML forms)."""
        if request.method not in UNSAFE_METHODS:
            return
        sent = request.headers.get("x-csrftoken")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = str((await request.form()).get("csrf_token") or "")
        if not same_token(self.expected_csrf(request), sent):
            raise Forbidden("csrf")

    def csrf_cookie(self, request: Request, response: Response) -> str:
        token = self.expected_csrf(request) or getattr(request.state, "csrf", None)
        if not token:
            token = request.state.csrf = new_csrf_token()
        self._cookie(response, self.names.csrf, token, 86400 * 7)
        return token

    def set_session(self, response: Response, token: str) -> None:
        self._cookie(
            response, self.names.session, token, int(self.settings.login.session_ttl.total_seconds())
        )
        # The CSRF token of the new session (bound to it): a token planted before login is useless.
        self._cookie(response, self.names.csrf, self.keys.csrf_for_session(token), None)

    def end_session(self, response: Response) -> None:
        response.delete_cookie(self.names.session, path="/", secure=self.settings.secure_cookies)

    def _cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        secure = self.settings.secure_cookies
        response.set_cookie(
            name, value, httponly=True, samesite="lax", secure=secure, path="/", max_age=max_age
        )

    # ---- pages
    def page(self, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        lang = lang_of(request)
        response = HTMLResponse("", status_code=status)
        token = self.csrf_cookie(request, response)
        if request.query_params.get("lang") in LANGS:
            secure = self.settings.secure_cookies
            response.set_cookie(self.names.lang, lang, samesite="lax", secure=secure, max_age=86400 * 365)
        other = "en" if lang == "th" else "th"
        response.body = (
            TEMPLATES.get_template(name)
            .render(
                lang=lang,
                t=t(lang),
                csrf_token=token,
                path=request.url.path,
                lang_url=f"{request.url.path}?lang={other}",
                session=getattr(request.state, "session", None),
                categories=CATEGORIES,
                preview=self.preview,
                # The certificate's name, as its PDF says it (services/certificates.Certificates.word).
                cert_word=self.certificates.word if self.certificates is not None else _default_word,
                **ctx,
            )
            .encode()
        )
        response.headers["content-length"] = str(len(response.body))
        return response


def _default_word(course_id: str | None = None) -> str:
    from ..results.certificate import DEFAULT_TITLE

    return DEFAULT_TITLE


def learner_dep(web: Web) -> Any:
    return Annotated[SessionInfo, Depends(web.learner)]


def admin_dep(web: Web) -> Any:
    return Annotated[SessionInfo, Depends(web.admin)]


def install_error_handlers(app: FastAPI, web: Web) -> None:
    """The runtime's errors to HTTP, in one place: JSON under /api/, a page (or the login) otherwise."""

    @app.exception_handler(RuntimeProblem)
    async def on_problem(request: Request, exc: RuntimeProblem) -> Response:
        lang = lang_of(request)
        if request.url.path.startswith("/api/"):
            body = problem_body(exc, lang)
            return Response(body, exc.status, problem_headers(exc), media_type="application/json")
        if isinstance(exc, LoginRequired):
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        if isinstance(exc, PasswordChangeRequired):
            return RedirectResponse("/me/password", status_code=303)
        page = web.page(
            request, "error.html", exc.status, message=problem_message(exc, lang), code=exc.status
        )
        page.headers.update(problem_headers(exc))  # a 429 page says when to come back, as the API does
        return page

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
        return web.page(request, "error.html", 500, message=t(lang)["server_error"], code=500)

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        # The database is restarting, unreachable or locked: "try again" (503), not "a bug" (500).
        log_unavailable(request.url.path, exc)
        lang = lang_of(request)
        if request.url.path.startswith("/api/"):
            return Response(
                unavailable_body(t(lang)["server_error"]), status_code=503, media_type="application/json"
            )
        return web.page(request, "error.html", 503, message=t(lang)["server_error"], code=503)

    for fault in DB_UNAVAILABLE:
        app.add_exception_handler(fault, on_unavailable)
