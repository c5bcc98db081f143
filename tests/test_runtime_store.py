"""The SQL store: KeyValueStore semantics, event tables, one transaction per handler, concurrency.

Every test runs on SQLite and on PostgreSQL (a fresh database per session; skipped only when no server
answers)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from runtime_support import (  # noqa: F401
    COURSE_ID,
    HEAD,
    POST_RIGHT,
    POST_WRONG,
    call_handler,
    db_url,
    pg_database,
    sample_courses,
    state_transaction,
)
from sqlalchemy import func, select, text
from xblock.fields import Scope
from xblock.runtime import KeyValueStore

from localmooc_packager.runtime.learner_runtime import render_for_learner
from localmooc_packager.runtime.store import (
    Published,
    Store,
    attempts,
    completions,
    grades,
    learner_state,
    now,
)


def _identity(username: str) -> dict[str, Any]:
    return {
        "username": username,
        "name": "ทดสอบ",
        "national_id_hmac": None,
        "org_type": "public",
        "organisation": "",
        "province": "เชียงใหม่",
        "lawful_basis": "consent",
        "consent_version": "2024-1",
        "consent_at": None,
        "password_hash": "x",
    }


@pytest.fixture
def store(db_url: str) -> Any:  # noqa: F811
    s = Store(db_url)
    assert s.upgrade() == HEAD
    yield s
    s.dispose()


def _key(scope: Any, user: str | None, block: str | None, name: str) -> KeyValueStore.Key:
    return KeyValueStore.Key(scope, user, block, name, "lm-quiz")


def _rows(store: Store, table: Any, **where: str) -> list[Any]:
    with store.read() as conn:
        return list(conn.execute(select(table).filter_by(**where)))


def test_kvs_get_set_has_delete_set_many(store: Store) -> None:
    a = store.create_learner(_identity("a1"))
    k_state = _key(Scope.user_state, a, "post", "responses")
    k_summary = _key(Scope.user_state_summary, None, "post", "votes")
    k_pref = _key(Scope.preferences, a, "lm-quiz", "font_size")
    with state_transaction(store, COURSE_ID, a, "post", lock_summary=True) as (kvs, _published):
        assert not kvs.has(k_state)
        with pytest.raises(KeyError):
            kvs.get(k_state)
        kvs.set(k_state, {"q1": "ข"})
        kvs.set_many({k_summary: 3, k_pref: "large"})
        assert kvs.get(k_state) == {"q1": "ข"}
    with state_transaction(store, COURSE_ID, a, "post") as (kvs, _published):
        assert kvs.get(k_state) == {"q1": "ข"}  # Thai survives the JSON round trip
        assert kvs.get(k_pref) == "large"
        assert kvs.get(k_summary) == 3
        kvs.set(k_state, {"q1": "ค"})  # an upsert: still one row
        kvs.delete(k_pref)
        assert not kvs.has(k_pref)
    rows = _rows(store, learner_state, learner_id=a, field="responses")
    assert len(rows) == 1 and json.loads(rows[0].value) == {"q1": "ค"}
    # A usage-scoped row carries its course: two courses may both have a block called "post".
    assert _rows(store, learner_state, learner_id="", field="votes")[0].course_id == COURSE_ID
    with (
        pytest.raises(ValueError, match="not learner state"),
        state_transaction(store, COURSE_ID, a, "post") as (kvs, _published),
    ):
        kvs.set(_key(Scope.content, None, "post", "questions"), [])


def test_write_events_keep_best_grade_latest_completion_and_log_every_attempt(store: Store) -> None:
    a = store.create_learner(_identity("a2"))
    for earned, completion in ((3.0, 1.0), (5.0, 0.5), (1.0, 0.25)):
        published = Published([("post", earned, 5.0)], [("post", completion)])
        with store.raw_write() as raw:
            store._write_batch(raw, [], store._event_rows(COURSE_ID, a, published, store.db_time(now())))
    g = _rows(store, grades, learner_id=a)
    assert [(r.earned, r.possible, r.score) for r in g] == [(5.0, 5.0, 1.0)]
    assert [r.completion for r in _rows(store, completions, learner_id=a)] == [0.25]
    assert sorted(r.earned for r in _rows(store, attempts, learner_id=a)) == [1.0, 3.0, 5.0]


def test_handler_writes_state_grade_completion_in_one_transaction(store: Store) -> None:
    course = sample_courses()[COURSE_ID]
    a = store.create_learner(_identity("a3"))
    status, body, _ctype = call_handler(
        store, course, a, "post", "submit", json.dumps({"responses": POST_WRONG}).encode(), "th"
    )
    assert status == 200 and json.loads(body)["attempts_used"] == 1
    status, body, _ctype = call_handler(
        store, course, a, "post", "submit", json.dumps({"responses": POST_RIGHT}).encode(), "th"
    )
    result = json.loads(body)
    assert result["best_earned"] == 5.0 and result["passed"] is True
    best, done = store.progress(a, COURSE_ID)
    assert best == {"post": (5.0, 5.0)} and done == {"post": 1.0}
    assert store.attempt_count(a, COURSE_ID, "post") == 2
    # The third attempt is the last one allowed (attempts: 3); the fourth is refused and changes nothing.
    call_handler(store, course, a, "post", "submit", b'{"responses": {}}', "th")
    status, body, _ctype = call_handler(store, course, a, "post", "submit", b'{"responses": {}}', "th")
    assert status == 409
    assert store.attempt_count(a, COURSE_ID, "post") == 3
    assert store.progress(a, COURSE_ID)[0] == {"post": (5.0, 5.0)}  # the best grade stays
    # A page render reads the stored answers back through the KeyValueStore.
    page = render_for_learner(store, course, a, "final", "th")
    assert '"attempts_used": 3' in page.html


def test_concurrent_submissions_of_one_learner_lose_no_attempt(store: Store) -> None:
    course = sample_courses()[COURSE_ID]
    a = store.create_learner(_identity("a4"))
    n = 24
    body = json.dumps({"responses": {"q1": "a"}}).encode()
    start = threading.Barrier(8)

    def submit(_i: int) -> int:
        if _i < 8:
            start.wait()  # the first eight start together
        return call_handler(store, course, a, "revenue-check", "submit", body, "th")[0]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(submit, range(n)))
    assert statuses == [200] * n
    with state_transaction(store, COURSE_ID, a, "revenue-check") as (kvs, _p):
        assert kvs.get(_key(Scope.user_state, a, "revenue-check", "attempts_used")) == n
    assert store.attempt_count(a, COURSE_ID, "revenue-check") == n


def test_concurrent_user_state_summary_updates_lose_nothing(store: Store) -> None:
    learners_ = [store.create_learner(_identity(f"s{i}")) for i in range(12)]
    counter = _key(Scope.user_state_summary, None, "post", "submissions")

    def bump(learner: str) -> None:
        for _ in range(5):
            with state_transaction(store, COURSE_ID, learner, "post", lock_summary=True) as (kvs, _p):
                kvs.set(counter, (kvs.get(counter) if kvs.has(counter) else 0) + 1)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(bump, learners_))
    with state_transaction(store, COURSE_ID, learners_[0], "post", lock_summary=True) as (kvs, _p):
        assert kvs.get(counter) == 60


def test_lookups_use_indexes(tmp_path: Path) -> None:
    # SQLite only: its plans are deterministic; PostgreSQL's depend on table statistics.
    store = Store(f"sqlite:///{tmp_path / 'plan.db'}")
    store.upgrade()
    queries = [
        "SELECT * FROM learner_state WHERE course_id='c' AND learner_id IN ('a','') AND block_id IN ('b')",
        "SELECT * FROM grades WHERE learner_id='a' AND course_id='c'",
        "SELECT * FROM completions WHERE learner_id='a' AND course_id='c'",
        "SELECT * FROM sessions WHERE token_hash='x'",
        "SELECT * FROM identities WHERE username='x'",
        "SELECT * FROM identities WHERE national_id_hmac='x'",
        "SELECT * FROM enrolments WHERE learner_id='a' AND course_id='c'",
        "SELECT count(*) FROM attempts WHERE learner_id='a' AND course_id='c' AND block_id='b'",
    ]
    with store.read() as conn:
        for q in queries:
            plan = " ".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + q)))
            assert "USING" in plan and not plan.startswith("SCAN"), (q, plan)
    store.dispose()


def test_sqlite_settings_and_idempotent_migration(store: Store) -> None:
    assert store.upgrade() == HEAD
    if store.is_sqlite:
        with store.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(learner_state)).scalar() == 0


def test_erasure_removes_identity_and_keeps_anonymous_records(store: Store) -> None:
    course = sample_courses()[COURSE_ID]
    a = store.create_learner(_identity("gone"))
    call_handler(store, course, a, "post", "submit", json.dumps({"responses": POST_RIGHT}).encode(), "th")
    store.erase(a)
    assert store.profile(a) is None
    assert store.identity_for_login("gone") is None
    assert store.progress(a, COURSE_ID)[0] == {"post": (5.0, 5.0)}
