"""The handler hot path (plain ASGI ahead of FastAPI) keeps every check of the FastAPI route: CSRF,
session expiry and revocation, enrolment, security headers; course content stays read-only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from runtime_support import (  # noqa: F401
    COURSE_ID,
    POST_RIGHT,
    Api,
    call_handler,
    db_url,
    make_app,
    pg_database,
    sample_courses,
)
from sqlalchemy import update

from localmooc_packager.runtime.blocks import FrozenList, freeze
from localmooc_packager.runtime.store import Store, sessions, token_hash

SUBMIT = f"/api/courses/{COURSE_ID}/blocks/revenue-check/handler/submit"
ANSWER = {"responses": {"q1": "a"}}


def _enrolled(app: Any, name: str) -> Api:
    api = Api(app)
    api.learner(name)
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    return api


def _cookies(api: Api) -> dict[str, str]:
    # The jar may hold a name twice (the login replaces lm_csrf); the last one set wins, as in a browser.
    return {c.name: c.value or "" for c in api.client.cookies.jar}


def _attempts(app: Any) -> int:
    store: Store = app.state.store
    return sum(
        store.attempt_count(lid, COURSE_ID, "revenue-check")
        for lid in [r["id"] for r in store.list_learners(0, 100)[1]]
    )


def test_csrf_is_checked_before_anything_is_written(db_url: str) -> None:  # noqa: F811
    app = make_app(db_url)
    api = _enrolled(app, "csrf.hot")
    c = api.client
    r = c.post(SUBMIT, json=ANSWER)  # no header
    assert r.status_code == 403 and r.json()["detail"] == "csrf"
    assert c.post(SUBMIT, json=ANSWER, headers={"X-CSRFToken": "forged"}).status_code == 403
    assert _attempts(app) == 0
    r = api.post(SUBMIT, json=ANSWER)
    assert r.status_code == 200 and r.json()["attempts_used"] == 1
    assert _attempts(app) == 1


def test_logout_and_expiry_take_effect_at_once(db_url: str) -> None:  # noqa: F811
    app = make_app(db_url)
    api = _enrolled(app, "session.hot")
    assert api.post(SUBMIT, json=ANSWER).status_code == 200
    token = _cookies(api)["lm_session"]
    store: Store = app.state.store
    with store.write() as conn:  # the session expired a second ago
        conn.execute(
            update(sessions)
            .where(sessions.c.token_hash == token_hash(token))
            .values(expires_at=sessions.c.created_at)
        )
    r = api.post(SUBMIT, json=ANSWER)
    assert r.status_code == 401 and r.json()["detail"] == "login_required"

    other = _enrolled(app, "revoked.hot")
    assert other.post(SUBMIT, json=ANSWER).status_code == 200
    stolen = _cookies(other)
    assert other.post("/api/logout").status_code == 200
    thief = Api(app)
    thief.client.cookies.clear()
    thief.client.cookies.update(stolen)  # the logged-out cookies, replayed
    assert thief.post(SUBMIT, json=ANSWER, headers={"X-CSRFToken": stolen["lm_csrf"]}).status_code == 401
    assert _attempts(app) == 2


def test_fast_answers_carry_the_security_headers_and_health(db_url: str) -> None:  # noqa: F811
    app = make_app(db_url)
    api = _enrolled(app, "headers.hot")
    r = api.post(SUBMIT, json=ANSWER)
    assert r.headers["cache-control"] == "no-store"
    assert (
        r.headers["x-frame-options"] == "DENY"
        and "frame-ancestors 'none'" in r.headers["content-security-policy"]
    )
    assert r.headers["content-type"].startswith("application/json")
    r = api.get("/api/health")
    assert r.status_code == 200 and r.json() == {"ok": True} and r.headers["cache-control"] == "no-store"
    # A refusal by the block (409 after the post-test's three attempts) keeps the headers too.
    for _ in range(3):
        assert (
            api.post(
                f"/api/courses/{COURSE_ID}/blocks/post/handler/submit", json={"responses": POST_RIGHT}
            ).status_code
            == 200
        )
    r = api.post(f"/api/courses/{COURSE_ID}/blocks/post/handler/submit", json={"responses": POST_RIGHT})
    assert r.status_code == 409 and r.headers["x-content-type-options"] == "nosniff"
    assert json.loads(r.content)  # XBlock's JSON error body


def test_course_content_is_frozen_for_learners(tmp_path: Path) -> None:
    course = sample_courses()[COURSE_ID]
    questions = course.static_fields[("revenue-check", "questions")]
    assert isinstance(questions, FrozenList) and questions == freeze(json.loads(json.dumps(questions)))
    with pytest.raises(TypeError, match="read-only"):
        questions.append({})
    with pytest.raises(TypeError, match="read-only"):
        questions[0]["answer"] = "x"
    # Submitting still works on the frozen content, and the content is unchanged afterwards.
    store = Store(f"sqlite:///{tmp_path / 'frozen.db'}")
    store.upgrade()
    before = json.dumps(questions, sort_keys=True)
    status, _body, _ctype = call_handler(
        store, course, "someone", "revenue-check", "submit", b'{"responses": {}}', "th"
    )
    assert status == 200 and json.dumps(questions, sort_keys=True) == before
    store.dispose()


def test_user_state_row_keys_match_xblock_keys(tmp_path: Path) -> None:
    """The runtime builds learner_state row keys of user_state fields itself (cheaper than XBlock's Key);
    they must be exactly those XBlock's KvsFieldData path gives, or state would be read from the wrong row."""
    from xblock.fields import Scope
    from xblock.runtime import KvsFieldData

    from localmooc_packager.runtime.learner_runtime import LearnerFieldData, LearnerRuntime
    from localmooc_packager.runtime.store import SqlKeyValueStore

    course = sample_courses()[COURSE_ID]
    store = Store(f"sqlite:///{tmp_path / 'keys.db'}")
    kvs = SqlKeyValueStore(store, None, course.id)
    runtime = LearnerRuntime(course, "learner-1", kvs)
    data = LearnerFieldData(course, kvs)
    checked = 0
    for block_id, kind in course.block_types.items():
        block = runtime.get_block(block_id)
        for name, fld in block.fields.items():
            if fld.scope == Scope.user_state:
                assert data._row(block, name) == kvs._row_key(KvsFieldData._key(data, block, name)), (
                    kind,
                    name,
                )
                checked += 1
            else:
                assert data._row(block, name) is None
    assert checked >= 5  # the quizzes' fields at least
    store.dispose()
