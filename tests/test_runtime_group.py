"""Group commit on the handler hot path: submissions that arrive together share one transaction, each in
its own savepoint. All of them are committed before any is answered; one that fails leaves nothing behind
and takes nothing of the others with it; a transaction that fails as a whole answers every one with 503."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from runtime_support import COURSE_ID, Api, db_url, make_app, pg_database, sample_courses  # noqa: F401
from sqlalchemy import event, func, select

from localmooc_packager.runtime.learner_runtime import _run_handler
from localmooc_packager.runtime.store import (
    HandlerCall,
    Published,
    SessionInfo,
    Store,
    attempts,
    completions,
    grades,
    learner_state,
)

PRACTICE = "revenue-check"  # unlimited attempts
GRADED = "process-quiz"  # two attempts


def _submit_path(block: str) -> str:
    return f"/api/courses/{COURSE_ID}/blocks/{block}/handler/submit"


def _learner(app: Any, name: str) -> dict[str, str]:
    """An enrolled learner's cookies (session and CSRF), as a browser would hold them."""
    api = Api(app)
    api.learner(name)
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    return {c.name: c.value or "" for c in api.client.cookies.jar}


async def _together(app: Any, requests: list[tuple[dict[str, str], str, bytes]]) -> list[httpx.Response]:
    """Send the requests concurrently on one event loop (the way a worker receives them)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def one(cookies: dict[str, str], path: str, body: bytes) -> httpx.Response:
            cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
            headers = {
                "cookie": cookie,
                "x-csrftoken": cookies["lm_csrf"],
                "content-type": "application/json",
            }
            return await client.post(path, content=body, headers=headers)

        return list(await asyncio.gather(*(one(*r) for r in requests)))


def _count(url: str, table: Any, **where: str) -> int:
    store = Store(url)
    try:
        with store.read() as conn:
            query = select(func.count()).select_from(table)
            for name, value in where.items():
                query = query.where(table.c[name] == value)
            return int(conn.execute(query).scalar_one())
    finally:
        store.dispose()


def test_concurrent_submissions_share_a_transaction_and_all_commit(db_url: str) -> None:  # noqa: F811
    url = db_url
    app = make_app(url)
    learners = [_learner(app, f"group{i}") for i in range(8)]
    group = app.state.submissions.group
    before = (group.transactions, group.calls)
    answer = b'{"responses": {"q1": "a"}}'
    # Twice each: the same learner twice in one batch must count two attempts, not one.
    replies = asyncio.run(_together(app, [(c, _submit_path(PRACTICE), answer) for c in learners * 2]))
    assert [r.status_code for r in replies] == [200] * 16
    assert sorted(r.json()["attempts_used"] for r in replies) == [1] * 8 + [2] * 8
    transactions, calls = group.transactions - before[0], group.calls - before[1]
    assert calls == 16 and transactions < calls  # batched: fewer commits than submissions
    assert _count(url, attempts) == 16
    assert _count(url, grades) == 8
    app.state.store.dispose()


def test_a_failing_submission_rolls_back_only_itself(db_url: str) -> None:  # noqa: F811
    url = db_url
    app = make_app(url)
    ok1, ok2, spent, gone = (_learner(app, f"mixed{i}") for i in range(4))
    graded = b'{"responses": {"q1": "b"}}'
    for _ in range(2):  # use up the graded quiz's two attempts
        assert asyncio.run(_together(app, [(spent, _submit_path(GRADED), graded)]))[0].status_code == 200
    store: Store = app.state.store
    store.logout(gone["lm_session"])  # revoked: the hot path hands this one to the FastAPI route (401)
    before = _count(url, attempts)
    replies = asyncio.run(
        _together(
            app,
            [
                (ok1, _submit_path(PRACTICE), b'{"responses": {"q1": "a"}}'),
                (spent, _submit_path(GRADED), graded),  # 409: no attempts left
                (ok2, _submit_path(PRACTICE), b'{"responses": "not a dict"}'),  # 400
                (gone, _submit_path(PRACTICE), b'{"responses": {"q1": "a"}}'),  # 401
                (ok2, _submit_path(PRACTICE), b'{"responses": {"q1": "a"}}'),
            ],
        )
    )
    assert [r.status_code for r in replies] == [200, 409, 400, 401, 200]
    assert _count(url, attempts) == before + 2
    store.dispose()


def _batch_setup(url: str, n: int) -> tuple[Store, list[HandlerCall]]:
    app = make_app(url)
    cookies = [_learner(app, f"raw{i}") for i in range(n)]
    return app.state.store, [HandlerCall(c["lm_session"], COURSE_ID, PRACTICE) for c in cookies]


def test_a_call_that_raises_after_writing_leaves_nothing_behind(db_url: str) -> None:  # noqa: F811
    """Store.handler_batch, directly: a call fails after its handler wrote state, grade, completion and
    attempt; the calls after it, the same learner's included, see the state as if it never ran."""
    store, (x, y) = _batch_setup(db_url, 2)
    course = sample_courses()[COURSE_ID]
    body = b'{"responses": {"q1": "a"}}'

    def run(i: int, session: SessionInfo, kvs: Any, published: Published) -> int:
        response = _run_handler(course, session.learner_id, kvs, published, PRACTICE, "submit", body, "th")
        if i == 1:
            raise RuntimeError("after the writes")
        return int(json.loads(response.body)["attempts_used"])

    results = store.handler_batch([x, y, x, y], run)
    assert results[0] == 1 and results[2] == 2 and results[3] == 1
    assert isinstance(results[1], RuntimeError)
    assert _count(db_url, attempts) == 3
    y_id = store.session(y.token).learner_id  # type: ignore[union-attr]
    assert _count(db_url, attempts, learner_id=y_id) == 1
    store.dispose()


def test_a_refused_write_fails_only_its_call(db_url: str) -> None:  # noqa: F811
    """A write the database refuses (here a NULL into a NOT NULL column) fails the batch's transaction:
    every call is retried in a transaction of its own, so only the bad one fails."""
    store, calls = _batch_setup(db_url, 3)
    course = sample_courses()[COURSE_ID]
    body = b'{"responses": {"q1": "a"}}'

    def run(i: int, session: SessionInfo, kvs: Any, published: Published) -> int:
        response = _run_handler(course, session.learner_id, kvs, published, PRACTICE, "submit", body, "th")
        if i == 1:
            kvs.ops.append(
                ("state_upsert", (COURSE_ID, "user_state", session.learner_id, PRACTICE, "x", None, None))
            )
        return response.status_code

    results = store.handler_batch(calls, run)
    assert results[0] == 200 and results[2] == 200
    assert isinstance(results[1], Exception) and not isinstance(results[1], RuntimeError)
    assert _count(db_url, attempts) == 2
    store.dispose()


def test_a_batch_whose_transaction_fails_answers_every_call_503_then_recovers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    app = make_app(url)
    learners = [_learner(app, f"busy{i}") for i in range(3)]
    store: Store = app.state.store

    @event.listens_for(store.engine, "connect")
    def _short_wait(dbapi_conn: Any, _record: Any) -> None:  # fail fast instead of busy_timeout's 10 s
        dbapi_conn.execute("PRAGMA busy_timeout=200")

    store.engine.dispose()
    answer = b'{"responses": {"q1": "a"}}'
    holder = sqlite3.connect(tmp_path / "runtime.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's writer
    try:
        replies = asyncio.run(_together(app, [(c, _submit_path(PRACTICE), answer) for c in learners]))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [r.status_code for r in replies] == [503] * 3
    assert all(r.json()["detail"] == "unavailable" for r in replies)
    assert _count(url, attempts) == 0
    replies = asyncio.run(_together(app, [(c, _submit_path(PRACTICE), answer) for c in learners]))
    assert [r.status_code for r in replies] == [200] * 3
    assert _count(url, attempts) == 3
    store.dispose()


def test_a_batch_writes_what_the_same_calls_one_by_one_write(db_url: str) -> None:  # noqa: F811
    """Folding a batch's rows (last state write wins, best grade stays, latest completion wins) gives
    exactly the rows that the same submissions, one transaction each, give."""
    store, (batched, single) = _batch_setup(db_url, 2)
    course = sample_courses()[COURSE_ID]
    bodies = [b'{"responses": {"q1": "b"}}', b'{"responses": {"q1": "a"}}', b'{"responses": {"q1": "c"}}']

    def run(i: int, session: SessionInfo, kvs: Any, published: Published) -> int:
        response = _run_handler(
            course, session.learner_id, kvs, published, PRACTICE, "submit", bodies[i], "th"
        )
        return response.status_code

    assert store.handler_batch([batched] * 3, run) == [200, 200, 200]
    for i in range(3):
        assert store.handler_batch([single], lambda _i, *a, i=i: run(i, *a)) == [200]

    def rows(learner_id: str) -> list[Any]:
        with store.read() as conn:
            out = []
            for table, cols in (
                (grades, ("block_id", "earned", "possible", "score")),
                (completions, ("block_id", "completion")),
                (learner_state, ("scope", "block_id", "field", "value")),
            ):
                query = select(*(table.c[c] for c in cols)).where(table.c.learner_id == learner_id)
                out.append(sorted(tuple(r) for r in conn.execute(query)))
            return out

    b_id = store.session(batched.token).learner_id  # type: ignore[union-attr]
    s_id = store.session(single.token).learner_id  # type: ignore[union-attr]
    assert rows(b_id) == rows(s_id)
    assert rows(b_id)[0] == [(PRACTICE, 1.0, 1.0, 1.0)]  # the best of wrong, right, wrong
    assert _count(db_url, attempts, learner_id=b_id) == _count(db_url, attempts, learner_id=s_id) == 3
    store.dispose()
