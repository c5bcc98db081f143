"""What the CLI's ``serve``, ``db upgrade`` and ``admin create`` call."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from ..errors import UsageError
from .store import DuplicateError, Store

DEFAULT_DB = "sqlite:///./localmooc.db"


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


def create_admin(url: str, username: str, name: str, password: str) -> tuple[str, bool]:
    """Create an admin account (DLA central staff, public-task basis), or promote an existing user.

    Returns (learner id, created).
    """
    from .security import USERNAME, hash_password, password_problem
    from .store import now

    store = Store(url)
    try:
        store.upgrade()
        existing = store.set_role(username, "admin")
        if existing:
            return existing, False
        if not USERNAME.fullmatch(username):
            raise UsageError(f"username {username!r}: use 3-64 letters, digits, '.', '-' or '_'")
        why = password_problem(password, username)
        if why:
            raise UsageError(f"password refused: {why}")
        identity = {
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
        try:
            return store.create_learner(identity, role="admin"), True
        except DuplicateError:
            raise UsageError(f"username {username!r} is taken") from None
    finally:
        store.dispose()


def serve(
    courses: Path,
    db_url: str,
    host: str,
    port: int,
    workers: int,
    secure_cookies: bool,
    trusted_html: bool = False,
) -> None:
    """Check the courses and the database once, then hand over to uvicorn (uvloop + httptools)."""
    import uvicorn

    from .blocks import load_courses

    os.environ["LOCALMOOC_TRUSTED_HTML"] = "1" if trusted_html else "0"
    loaded = load_courses(courses)  # fail here, with the loader's report, rather than in every worker
    if make_url(db_url).get_backend_name() == "sqlite":
        upgrade(db_url)
    u = make_url(db_url)
    default_key = (
        Path(u.database).resolve().parent if u.get_backend_name() == "sqlite" and u.database else Path.cwd()
    ) / "localmooc-secret.key"
    key_file = os.environ.setdefault("LOCALMOOC_KEY_FILE", str(default_key))
    os.environ["LOCALMOOC_COURSES"] = str(courses.resolve())
    os.environ["LOCALMOOC_DB"] = db_url
    os.environ["LOCALMOOC_SECURE_COOKIES"] = "1" if secure_cookies else "0"
    # Migrated above; workers must not race each other through Alembic.
    os.environ["LOCALMOOC_MIGRATE"] = "0"
    print(f"courses: {', '.join(sorted(loaded))}")
    print(f"database: {describe_db(db_url)}")
    if not os.environ.get("LOCALMOOC_SECRET_KEY"):
        print(f"secret key (HMAC of national ids; keep it, back it up): {key_file}")
    print(f"serving on http://{host}:{port}/ with {workers} worker(s)")
    uvicorn.run(
        "localmooc_packager.runtime.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )
