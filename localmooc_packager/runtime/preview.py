"""``localmooc preview``: the real player for course folders being written, reloaded on every save.

One process, one worker, 127.0.0.1, a throwaway SQLite database and key in a temporary folder, and one
learner already signed in (the browser takes the session through a one-time link). ``watchfiles`` watches
the course folders; a change re-validates and reloads only that course, in place in the dict every layer
shares (``create_app`` hands the same dict to the services, the submissions and the asset routes), so
learner state survives as long as the ids do. Pages poll ``/preview/version`` (``static/preview.js``; the
CSP forbids inline script) and reload when it moves. A course that does not validate is not loaded: its
pages answer with its problems instead (``PreviewGate``), and the other courses keep working.

Nothing here runs under ``serve``: ``create_app`` only wires it in when it is given a ``Preview``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import socket
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InvalidInputError, LocalMoocError, Location, Problem, UsageError, display_path
from .blocks import LoadedCourse, load_course_dir
from .errors import Forbidden

__all__ = ["Preview", "course_folders", "run_preview"]

DEFAULT_PORT = 8001
POLL_MS = 500  # how often an open page asks for the version (static/preview.js reads it from the tag)
# GET pages of one course: /courses/ID, /courses/ID/learn, /units/..., /progress (not /static/).
COURSE_PAGE = re.compile(r"^/courses/([^/]+)(?:/(?!static/)[^?]*)?$")


def course_folders(paths: Iterable[Path]) -> list[Path]:
    """Each path is a course folder (with course.yaml) or a folder of them; the course folders, resolved."""
    out: list[Path] = []
    for path in paths:
        if (path / "course.yaml").is_file():
            found = [path]
        elif path.is_dir():
            found = sorted(p for p in path.iterdir() if (p / "course.yaml").is_file())
        else:
            found = []
        if not found:
            raise UsageError(f"{display_path(path)}: no course folder (with course.yaml) found")
        out.extend(p.resolve() for p in found)
    if len(set(out)) != len(out):
        raise UsageError("a course folder is named twice")
    return out


@dataclass
class Slot:
    """One watched course folder: the id it is served under, and its errors while it does not load."""

    folder: Path
    course_id: str
    problems: list[Problem] = field(default_factory=list)
    serving: bool = False  # its course is in ``Preview.courses`` under ``course_id``

    @property
    def broken(self) -> bool:
        return bool(self.problems)


class Preview:
    """The watched folders, the live course dict, and the version pages poll."""

    poll_ms = POLL_MS

    def __init__(self, folders: list[Path], trusted_html: bool = False) -> None:
        self.trusted_html = trusted_html
        self.courses: dict[str, LoadedCourse] = {}
        # Until a course has loaded once, its folder name stands for its id (its pages show the problems).
        self.slots = [Slot(f, f.name) for f in folders]
        self.version = 1
        self.login_token: str | None = secrets.token_urlsafe(32)
        self.session_token = ""
        self.enrol: Callable[[str], object] | None = None  # set by sign_in: enrols the preview learner
        for slot in self.slots:
            self._load(slot)

    # ---- loading
    def _load(self, slot: Slot) -> None:
        """(Re)load one course into ``courses``; on errors, take it out and keep its problems."""
        try:
            course = load_course_dir(slot.folder, self.trusted_html)
        except InvalidInputError as exc:
            problems = exc.report.errors or [Problem(Location(str(slot.folder)), str(exc), "invalid")]
            self._unload(slot, problems)
            return
        except LocalMoocError as exc:  # e.g. an unreadable file: still the course's problem, not the server's
            self._unload(slot, [Problem(Location(str(slot.folder)), str(exc), "unreadable")])
            return
        except Exception as exc:  # a bug while loading (a block's view, say): show it, keep serving the rest
            traceback.print_exc()
            message = f"internal error while loading: {type(exc).__name__}: {exc}"
            self._unload(slot, [Problem(Location(str(slot.folder)), message, "internal-error")])
            return
        other = next(
            (s for s in self.slots if s is not slot and s.serving and s.course_id == course.id), None
        )
        if other is not None:
            where = Location(str(slot.folder / "course.yaml"))
            self._unload(
                slot, [Problem(where, f"course id {course.id!r} is also {other.folder}", "id-twice")]
            )
            return
        if slot.serving and slot.course_id != course.id:
            del self.courses[slot.course_id]
        slot.course_id, slot.problems, slot.serving = course.id, [], True
        self.courses[course.id] = course
        if self.enrol is not None:  # a course that appears later opens at once too (enrolling is idempotent)
            self.enrol(course.id)

    def _unload(self, slot: Slot, problems: list[Problem]) -> None:
        if slot.serving:
            del self.courses[slot.course_id]
            slot.serving = False
        slot.problems = sorted(problems, key=lambda p: (p.location, p.code))

    def reload(self, changed: Iterable[Path]) -> list[Slot]:
        """Reload the courses whose folders hold a changed path; the slots reloaded."""
        paths = list(changed)
        hit = [s for s in self.slots if any(p.is_relative_to(s.folder) for p in paths)]
        for slot in hit:
            self._load(slot)
        if hit:
            self.version += 1
        return hit

    def broken(self) -> list[Slot]:
        return [s for s in self.slots if s.broken]

    def broken_slot(self, course_id: str) -> Slot | None:
        if course_id in self.courses:  # a working course wins over a broken one's stand-in id
            return None
        return next((s for s in self.slots if s.broken and s.course_id == course_id), None)

    # ---- the one-time sign-in link
    def take_login(self, token: str) -> str | None:
        """The learner's session token for the right one-time token (then the link is spent)."""
        if self.login_token is None or not secrets.compare_digest(token, self.login_token):
            return None
        self.login_token = None
        return self.session_token

    # ---- watching
    async def watch(self, stop: asyncio.Event, report: Callable[[Slot], None]) -> None:
        from watchfiles import awatch

        async for changes in awatch(*(s.folder for s in self.slots), stop_event=stop, debounce=400):
            for slot in self.reload(Path(p).resolve() for _change, p in changes):
                report(slot)


class PreviewGate:
    """ASGI middleware: a GET page of a broken course answers with its problems (HTTP 503)."""

    def __init__(self, app: ASGIApp, preview: Preview, render: Callable[[Request, Slot], Any]) -> None:
        self.app, self.preview, self.render = app, preview, render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            m = COURSE_PAGE.match(scope["path"])
            slot = self.preview.broken_slot(m.group(1)) if m else None
            if slot is not None:
                response = await self.render(Request(scope, receive), slot)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: Any, web: Any, preview: Preview) -> None:
    """The preview's routes and gate (``create_app`` calls this only for ``localmooc preview``)."""
    r = APIRouter(include_in_schema=False)

    @r.get("/preview/version")
    async def version() -> JSONResponse:
        return JSONResponse({"version": preview.version}, headers={"cache-control": "no-store"})

    @r.get("/preview/login")
    async def login(token: str = "") -> Response:
        session = preview.take_login(token)
        if session is None:
            raise Forbidden()
        response = RedirectResponse("/", status_code=303)
        web.set_session(response, session)
        return response

    async def render(request: Request, slot: Slot) -> Response:
        await web.session_of(request)
        return web.page(request, "preview_problems.html", 503, slot=slot, problems=slot.problems)  # type: ignore[no-any-return]

    app.include_router(r)
    app.add_middleware(PreviewGate, preview=preview, render=render)


def sign_in(app: Any, preview: Preview) -> None:
    """Create the preview learner, enrolled in every course, and a session for the one-time link."""
    from .security import hash_password
    from .storage.schema import now

    store = app.state.store
    learner_id = store.create_learner(
        {
            "username": "preview",
            "name": "ผู้ทดลองเรียน",
            "national_id_hmac": None,
            "org_type": "public",
            "organisation": "",
            "province": "กรุงเทพมหานคร",
            "lawful_basis": "consent",
            "consent_version": None,
            "consent_at": now(),
            "password_hash": hash_password(secrets.token_urlsafe(24)),
        }
    )
    preview.session_token = store.login_succeeded(learner_id, "preview", app.state.settings.login)
    preview.enrol = lambda course_id: store.enrol(learner_id, course_id)
    for course_id in preview.courses:
        preview.enrol(course_id)


def _print_problems(slot: Slot) -> None:
    for p in slot.problems:
        print(f"  {p}", file=sys.stderr)


def run_preview(paths: list[Path], port: int = DEFAULT_PORT, trusted_html: bool = False) -> None:
    """Serve ``paths`` for preview on 127.0.0.1:``port`` until interrupted."""
    import uvicorn

    from .app import create_app
    from .settings import Settings

    folders = course_folders(paths)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:  # bound here, so a taken port is a clear message before anything is printed or loaded
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"127.0.0.1:{port}: {exc.strerror}; choose another --port") from None
    preview = Preview(folders, trusted_html)
    with tempfile.TemporaryDirectory(prefix="localmooc-preview-") as work:
        settings = Settings(
            courses=Path(work),
            db_url=f"sqlite:///{Path(work) / 'preview.db'}",
            trusted_html=trusted_html,
            key_file=Path(work) / "preview-secret.key",
        )
        app = create_app(preview.courses, settings.db_url, settings=settings, preview=preview)
        sign_in(app, preview)
        for slot in preview.slots:
            state = f"{len(slot.problems)} error(s), shown in its pages" if slot.broken else "ok"
            print(f"course {slot.course_id} ({display_path(slot.folder)}): {state}")
            _print_problems(slot)

        def reloaded(slot: Slot) -> None:
            state = f"{len(slot.problems)} error(s)" if slot.broken else "reloaded"
            print(f"course {slot.course_id}: {state}", flush=True)
            _print_problems(slot)

        def listening() -> None:  # the link only once it answers: opened at once, it must not fail
            print(f"preview (throwaway database in {work}); open, once:", flush=True)
            print(f"  http://127.0.0.1:{port}/preview/login?token={preview.login_token}", flush=True)
            print("Ctrl-C to stop", flush=True)

        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, access_log=False, log_level="warning", server_header=False
        )
        server = _ready_server(config, listening)

        async def main() -> None:
            stop = asyncio.Event()
            watcher = asyncio.create_task(preview.watch(stop, reloaded))
            try:
                await server.serve(sockets=[sock])
            finally:
                stop.set()
                await watcher

        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a preview ends: exit 0, as serve does
            asyncio.run(main())
        app.state.store.dispose()
    print(GOODBYE_PREVIEW, flush=True)


GOODBYE_PREVIEW = "preview stopped, its throwaway database deleted (ปิดการแสดงตัวอย่างแล้ว)"


def _ready_server(config: Any, ready: Callable[[], None]) -> Any:
    """uvicorn's Server, calling ``ready`` once its sockets listen and the app has started."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                ready()

    return Server(config)
