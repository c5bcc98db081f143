"""What the CLI's ``serve``, ``db upgrade`` and ``admin create`` call."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import InvalidInputError, UsageError, display_path
from .edge import BODY_RECEIVED
from .security import Secrets
from .settings import Limits, Settings, verify_limit
from .storage import DuplicateError, Store


def describe_db(url: str) -> str:
    """Where the data lives, for people: the absolute SQLite file, or the URL without its password."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return f"SQLite file {Path(u.database or ':memory:').resolve()}"
    return u.render_as_string(hide_password=True)


def upgrade(url: str) -> str:
    store = Store(url)
    try:
        return store.upgrade()
    finally:
        store.dispose()


def _admin_identity(username: str, name: str, password: str) -> dict[str, object]:
    from .security import hash_password, password_problem, username_problem
    from .storage.schema import now

    problem = username_problem(username)
    if problem:
        raise UsageError(f"username {username!r}: {problem}")
    why = password_problem(password, username)
    if why:
        raise UsageError(f"password refused: {why}")
    return {
        "username": username,
        "name": name,
        "national_id_hmac": None,
        "org_type": "dla-central",
        "organisation": "",
        "province": "กรุงเทพมหานคร",
        "lawful_basis": "public-task",
        "consent_version": None,
        "consent_at": now(),
        "password_hash": hash_password(password),
    }


def create_admin(url: str, username: str, name: str, password: str) -> str:
    """Create a new administrator account (DLA central staff, public-task basis); its learner id.

    An existing username is refused, never taken over: promoting an account is ``promote_admin``."""
    from .security import canonical_username

    username = canonical_username(username)
    identity = _admin_identity(username, name, password)
    store = Store(url)
    try:
        store.upgrade()
        try:
            return store.create_learner(identity, role="admin")
        except DuplicateError:
            raise UsageError(
                f"username {username!r} exists; to make that account an administrator, use "
                "`localmooc admin create --promote`"
            ) from None
    finally:
        store.dispose()


def promote_admin(url: str, username: str) -> str:
    """Give the existing account ``username`` the admin role (its password is left as it is)."""
    from .security import canonical_username

    store = Store(url)
    try:
        store.upgrade()
        learner_id = store.set_role(canonical_username(username), "admin")
        if learner_id is None:
            raise UsageError(f"no account {canonical_username(username)!r} to promote")
        return learner_id
    finally:
        store.dispose()


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout: a connection that has not sent complete
    request headers within ``header_timeout`` seconds of opening (or of starting a request) is closed.
    uvicorn has no such limit, and a client dribbling headers would hold a connection for ever.

    It also tells the edge when a request's whole body is in hand (``BODY_RECEIVED`` in the scope's
    extensions): the edge then reads it without arming its body timer, which nothing could trip."""

    header_timeout = Limits.header_timeout
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.scope.setdefault("extensions", {})[BODY_RECEIVED] = {}

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def _metrics_dir(workers: int) -> tuple[str | None, bool]:
    """Several workers: prometheus-client's multiprocess mode, so /metrics sums every worker. The
    directory is PROMETHEUS_MULTIPROC_DIR when the operator sets it (emptied of the last run's files
    here), else a new temporary one, removed when the server stops (the bool). It must be in the
    environment before any worker starts."""
    if workers <= 1:
        return None, False
    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        for old in Path(chosen).glob("*.db"):
            old.unlink()
        return chosen, False
    chosen = tempfile.mkdtemp(prefix="localmooc-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = chosen
    return chosen, True


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Check the courses, the key and the database once, then hand over to uvicorn (uvloop + httptools)."""
    from .blocks import load_courses
    from .services.certificates import template_for

    if settings.metrics_token is not None and len(settings.metrics_token) < 32:
        raise UsageError(
            "LOCALMOOC_METRICS_TOKEN: use at least 32 random characters (or unset it: loopback only)"
        )
    template_for(settings)  # a bad certificate template stops here, with its file named, not in a worker
    skipped: list[Path] = []

    def skip(folder: Path, exc: InvalidInputError) -> None:
        for problem in exc.report:
            print(str(problem), file=sys.stderr)
        print(
            f"skipped {display_path(folder)}: {len(exc.report.errors)} error(s), not served", file=sys.stderr
        )
        skipped.append(folder)

    # Check here, not in every worker; an invalid course is reported and left out, the rest are served.
    loaded = load_courses(settings.courses, settings.trusted_html, skip)
    with tempfile.TemporaryDirectory(prefix="localmooc-serve-valid-") as work:
        if skipped:  # the workers load a folder of the valid courses only
            settings = replace(
                settings, courses=course_set([c.tree.source_dir for c in loaded.values()], Path(work))
            )
        _run(settings, host, port, workers, sorted(loaded), loaded)


def course_set(folders: list[Path], work: Path) -> Path:
    """One folder ``load_courses`` reads for several course folders: links to each in ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        link = work / folder.resolve().name
        n = 1
        while link.exists() or link.is_symlink():
            n += 1
            link = work / f"{folder.resolve().name}-{n}"
        link.symlink_to(folder.resolve(), target_is_directory=True)
    return work


GOODBYE = "server stopped (หยุดให้บริการแล้ว)"


def _run(
    settings: Settings, host: str, port: int, workers: int, course_ids: list[str], loaded: dict[str, Any]
) -> None:
    import uvicorn

    from .services.versions import report_at_start

    keys_from = "LOCALMOOC_SECRET_KEY" if settings.secret_key else str(settings.key_path())
    Secrets.load(settings.key_path(), settings.secret_key)  # refuse a weak key before serving
    if make_url(settings.db_url).get_backend_name() == "sqlite":
        upgrade(settings.db_url)
    # Migrated above; workers must not race each other through Alembic.
    os.environ.update(replace(settings, migrate=False).to_env())
    verify_limit(os.environ.get("LOCALMOOC_VERIFY_LIMIT"))  # a bad value stops serve, not each worker
    metrics_dir, own_dir = _metrics_dir(workers)
    print(f"courses: {', '.join(course_ids)}")
    # Once here, before the workers: a new course's version 1 is published by one process, and a course
    # this node refuses is said on the console (each worker checks again and logs it too).
    for line in report_at_start(settings.db_url, loaded):
        print(line, file=sys.stderr if line.startswith(("REFUSED", "course versions:")) else sys.stdout)
    print(f"database: {describe_db(settings.db_url)}")
    print(f"secret key (HMAC of national ids; keep it, back it up): {keys_from}")
    print(f"serving on http://{host}:{port}/ with {workers} worker(s)")
    if metrics_dir:
        print(f"metrics of all workers: {metrics_dir} (PROMETHEUS_MULTIPROC_DIR)")
    from .lrs_worker import start_from_env

    lrs = start_from_env(settings.db_url)  # LOCALMOOC_LRS_*: the outbox to an LRS, in this process
    try:
        uvicorn.run(
            "localmooc_packager.runtime.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http=BoundedHttpProtocol,
            access_log=False,
            proxy_headers=True,
            server_header=False,
            timeout_keep_alive=5,
        )
    finally:
        if lrs is not None:
            lrs.stop()
        if metrics_dir and own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    # uvicorn.run ends on SIGINT/SIGTERM after a graceful shutdown (it swallows the KeyboardInterrupt): exit 0.
    print(GOODBYE, flush=True)
