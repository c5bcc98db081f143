"""Shared fixtures of the runtime tests: databases (SQLite and a fresh PostgreSQL database), the sample
course loaded once, API clients and a live server for the browser. Imported by the test modules (there is
no conftest.py on purpose)."""

from __future__ import annotations

import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import browser_support
import pytest
from sqlalchemy import create_engine, text

from localmooc_packager.runtime.blocks import LoadedCourse, load_course_dir
from localmooc_packager.runtime.security import Secrets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from pgtools import PG_URL, throwaway_database, unreachable

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_courses" / "local-budget-basics"
COURSE_ID = "local-budget-basics"
PASSWORD = "a long pass phrase 1"
VALID_NID = "1101700230708"  # check digit 8 is right
BAD_NID = "1101700230705"

# Right answers of the sample course's post-test (question ids are assigned by the loader in order).
POST_RIGHT = {"q1": "b", "q2": "2", "q3": ["a", "b"], "q4": True, "q5": "สภาเทศบาล"}
POST_WRONG = {"q1": "a", "q2": "5", "q3": ["c"], "q4": False, "q5": "สภาตำบล"}

_course_cache: dict[str, LoadedCourse] = {}


def _migrations_head() -> str:
    from alembic.script import ScriptDirectory

    from localmooc_packager.runtime.storage.schema import MIGRATIONS

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


# The newest migration revision: tests compare with it, not with a literal that the next migration breaks.
HEAD = _migrations_head()


def sample_courses() -> dict[str, LoadedCourse]:
    """The sample course, parsed once per test session (as a worker does)."""
    if COURSE_ID not in _course_cache:
        _course_cache[COURSE_ID] = load_course_dir(SAMPLE)
    return dict(_course_cache)


def _pg_reachable() -> str | None:
    return unreachable(PG_URL)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    why = unreachable(PG_URL)
    if why:
        pytest.skip(why)
    with throwaway_database(PG_URL, "lm_test") as url:
        yield url


def _reset_pg(url: str) -> None:
    """Empty every table between tests (the schema stays)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test runs on SQLite (a new file) and on PostgreSQL (the session's database, emptied)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runtime.db'}"
    url: str = request.getfixturevalue("pg_database")
    from localmooc_packager.runtime.store import Store

    store = Store(url)
    store.upgrade()
    store.dispose()
    _reset_pg(url)
    return url


def test_secrets() -> Secrets:
    return Secrets(b"test-key-not-secret-but-long-enough-32")


test_secrets.__test__ = False  # type: ignore[attr-defined]


def make_app(db_url: str) -> Any:
    from localmooc_packager.runtime.app import create_app

    return create_app(sample_courses(), db_url, secrets=test_secrets())


class Api:
    """A learner's API client: CSRF header handled, helpers for the common calls."""

    def __init__(self, app: Any) -> None:
        from fastapi.testclient import TestClient

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.client = TestClient(app)
        self.client.get("/api/csrf")

    @property
    def csrf(self) -> dict[str, str]:
        return {"X-CSRFToken": self.client.cookies.get("lm_csrf") or ""}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        headers = {**self.csrf, **kw.pop("headers", {})}
        return self.client.post(url, headers=headers, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers=self.csrf, **kw)

    def register(self, username: str, **over: Any) -> Any:
        data = {
            "username": username,
            "password": PASSWORD,
            "name": "สมหญิง รักเรียน",
            "org_type": "public",
            "organisation": "",
            "province": "เชียงใหม่",
            "consent": True,
            **over,
        }
        return self.post("/api/register", json=data)

    def login(self, username: str, password: str = PASSWORD) -> Any:
        return self.post("/api/login", json={"username": username, "password": password})

    def learner(self, username: str) -> dict[str, Any]:
        r = self.register(username)
        assert r.status_code == 201, r.text
        r = self.login(username)
        assert r.status_code == 200, r.text
        return r.json()

    def submit(self, block: str, responses: dict[str, Any], course: str = COURSE_ID) -> Any:
        return self.post(
            f"/api/courses/{course}/blocks/{block}/handler/submit", json={"responses": responses}
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn in a thread on 127.0.0.1 with a free port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start within 20 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# One Chromium set-up for every browser test (Debian's binary, flags that keep it off the network).
CHROMIUM = str(browser_support.CHROMIUM)
CHROMIUM_ARGS = browser_support.CHROMIUM_ARGS


@contextmanager
def state_transaction(
    store: Any, course_id: str, learner_id: str, block_id: str, lock_summary: bool = False
) -> Iterator[tuple[Any, Any]]:
    """A write transaction over one block's learner state, for tests of the KeyValueStore itself (the
    runtime's only handler path is ``Store.handler_batch``; this takes the same locks)."""
    from localmooc_packager.runtime.storage.engines import lock_key
    from localmooc_packager.runtime.store import Published, SqlKeyValueStore

    with store.raw_write() as raw:
        if not store.is_sqlite:
            keys = [lock_key(course_id, learner_id, block_id)]
            if lock_summary:
                keys.append(lock_key(course_id, "", block_id))
            for key in sorted(keys):
                raw.execute(store.hot["lock"], (key,))
        kvs = SqlKeyValueStore(store, raw, course_id)
        kvs.preload([learner_id, ""] if lock_summary else [learner_id], [block_id])
        yield kvs, Published()


_sessions: dict[tuple[int, str], str] = {}


def call_handler(
    store: Any, course: Any, learner_id: str, block_id: str, handler: str, body: bytes, lang: str = "th"
) -> tuple[int, bytes, str]:
    """One handler call through the runtime's one path (``call_handlers_for_sessions``), as
    ``learner_id``: a session is opened and the learner enrolled first (once per store and learner)."""
    import secrets as _secrets
    from datetime import UTC, datetime, timedelta

    from localmooc_packager.runtime.learner_runtime import call_handlers_for_sessions
    from localmooc_packager.runtime.store import learners, sessions, token_hash

    token = _sessions.get((id(store), learner_id))
    if token is None:
        token = _secrets.token_urlsafe(16)
        at = datetime.now(UTC)
        with store.write() as conn:
            if conn.execute(learners.select().where(learners.c.id == learner_id)).first() is None:
                conn.execute(learners.insert().values(id=learner_id, role="learner", created_at=at))
            conn.execute(
                sessions.insert().values(
                    token_hash=token_hash(token),
                    learner_id=learner_id,
                    created_at=at,
                    expires_at=at + timedelta(hours=2),
                    idle_until=at + timedelta(hours=2),
                )
            )
        store.enrol(learner_id, course.id)
        _sessions[(id(store), learner_id)] = token
    (result,) = call_handlers_for_sessions(store, [(course, token, block_id, handler, body, lang)])
    if isinstance(result, Exception):
        raise result
    return result
