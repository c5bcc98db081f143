"""The web app, assembled: settings -> storage -> services -> routers, behind the edge.

    request -> Edge (headers, body limits, JSON checks; block handlers -> submit.Submissions.call)
            -> FastAPI: CSRF guard -> routers (learner pages, learner API, admin, assets)
            -> services (accounts, courses, progress) -> Store (SQLite or PostgreSQL)

Every endpoint is ``async``; the services' ``Runner`` runs database calls inline on SQLite and in the
thread pool on PostgreSQL. Password hashing always runs in the thread pool.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from .. import __version__
from .blocks import LoadedCourse, load_courses
from .edge import Edge
from .http import CookieNames
from .observe import Observe, use_json_logs
from .routes import admin, assets, learner_api, learner_pages, ops
from .security import Secrets
from .services import runner_for
from .services.accounts import Accounts
from .services.courses import Courses
from .services.progress import Progress
from .settings import Settings
from .storage import Store
from .submit import Submissions
from .web import HERE, Web, install_error_handlers
from .xapi_feed import Feed

__all__ = ["RuntimeApp", "app_from_env", "create_app"]


class RuntimeApp(FastAPI):
    """FastAPI behind the edge (``edge.Edge``): every request passes the edge first."""

    edge: Edge | Observe | None = None

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
    preview: Any = None,
) -> FastAPI:
    """The app for a set of courses (or a folder of them) and a database URL (or ``settings``).

    ``preview`` (a ``runtime.preview.Preview``, whose ``courses`` it reloads in place) adds the preview's
    routes and its gate for broken courses; without it the app is exactly the served one."""
    cfg = settings or Settings(
        courses=courses if isinstance(courses, Path) else Path("."),
        db_url=db_url,
        secure_cookies=secure_cookies,
        migrate=migrate,
    )
    loaded = courses if isinstance(courses, dict) else load_courses(courses, cfg.trusted_html)
    web = _services(cfg, loaded, secrets)
    names, store, keys = web.names, web.store, web.keys
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
        dependencies=[Depends(web.csrf_guard)],
    )
    app.state.store, app.state.courses, app.state.settings, app.state.web = store, loaded, cfg, web
    pool = None if store.is_sqlite else ThreadPoolExecutor(store.pool_size, thread_name_prefix="lm-db")
    app.state.submissions = Submissions(loaded, store, keys, names, pool)
    if cfg.log_format == "json":
        use_json_logs()
    edge = Edge(app.full, cfg.limits, app.state.submissions.call, names.lang)
    app.edge = Observe(edge, json_logs=cfg.log_format == "json")
    if preview is not None:
        from .preview import install

        web.preview = preview
        install(app, web, preview)
    app.mount("/assets/app", StaticFiles(directory=HERE / "static"), name="app-static")
    for r in (
        ops.router(web),
        learner_api.router(web),
        admin.router(web),
        assets.router(web, loaded),
        learner_pages.router(web),
    ):
        app.include_router(r)
    install_error_handlers(app, web)
    _document_errors(app)
    return app


def _services(cfg: Settings, loaded: dict[str, LoadedCourse], secrets: Secrets | None) -> Web:
    """Storage (migrated on SQLite, checkpointer started), key, and the services over them."""
    store = Store(cfg.db_url, idle_ttl=cfg.login.idle_ttl, clock=cfg.clock)
    if cfg.xapi:  # statements go to the outbox with each event (docs/xapi.md)
        store.feed = Feed(cfg.xapi_home_page)
    if cfg.migrate:
        store.upgrade()
    store.start_checkpointer()
    keys = secrets or Secrets.load(cfg.key_path(), cfg.secret_key)
    run = runner_for(store)
    courses = Courses(loaded, store, run)
    accounts = Accounts(store, keys, cfg.login, run)
    return Web(
        cfg,
        store,
        keys,
        CookieNames.for_(cfg.secure_cookies),
        run,
        accounts,
        courses,
        Progress(courses, store, run),
    )


def _document_errors(app: FastAPI) -> None:
    # FastAPI documents 422 bodies as its HTTPValidationError ({loc, msg, type} items), but the app
    # answers with this API's ErrorOut items ({field, code, message}): the document says so.
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = plain_openapi()["components"]["schemas"]
            schemas["HTTPValidationError"] = {"$ref": "#/components/schemas/ErrorOut"}
            schemas.pop("ValidationError", None)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: ``localmooc serve`` hands its settings over in the environment."""
    settings = Settings.from_env()
    return create_app(settings.courses, settings.db_url, settings=settings)
