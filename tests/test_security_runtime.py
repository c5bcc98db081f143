"""Regression tests for the attacks of the runtime's security review (issue 12), one per finding, named
after the attack. Each runs on SQLite and PostgreSQL where the database matters. docs/security.md lists
the controls these tests hold in place."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from runtime_support import (  # noqa: F401
    COURSE_ID,
    PASSWORD,
    SAMPLE,
    VALID_NID,
    Api,
    LiveServer,
    db_url,
    make_app,
    pg_database,
    sample_courses,
    test_secrets,
)
from sqlalchemy import select, update

from localmooc_packager.runtime.app import create_app
from localmooc_packager.runtime.blocks import load_course_dir
from localmooc_packager.runtime.errors import WeakKeyError
from localmooc_packager.runtime.security import Secrets
from localmooc_packager.runtime.settings import Limits, Settings
from localmooc_packager.runtime.store import Store, learner_state, learners, sessions, token_hash


@pytest.fixture
def app(db_url: str) -> Any:  # noqa: F811
    a = make_app(db_url)
    yield a
    a.state.store.dispose()


def _client(app: Any, host: str = "testclient") -> Api:
    api = Api.__new__(Api)
    from fastapi.testclient import TestClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api.client = TestClient(app, client=(host, 50000), raise_server_exceptions=False)
    api.client.get("/api/csrf")
    return api


def _course_copy(tmp_path: Path, edit: Any = None) -> Path:
    """The sample course copied, with hostile static files and an optional course.yaml edit."""
    dst = tmp_path / "course"
    shutil.copytree(SAMPLE, dst)
    (dst / "static" / "evil.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("/api/me/export")</script></svg>'
    )
    (dst / "static" / "evil.html").write_text("<script>alert(document.cookie)</script>")
    if edit:
        y = dst / "course.yaml"
        y.write_text(edit(y.read_text(encoding="utf-8")), encoding="utf-8")
    return dst


def _app_for(course_dir: Path, url: str, **settings: Any) -> Any:
    courses = {c.id: c for c in [load_course_dir(course_dir)]}
    cfg = Settings(courses=course_dir, db_url=url, **settings)
    return create_app(courses, url, secrets=test_secrets(), settings=cfg)


# ---------------------------------------------------------------- High: course files as the app
def test_static_svg_and_html_cannot_run_same_origin_script(tmp_path: Path) -> None:
    app = _app_for(_course_copy(tmp_path), f"sqlite:///{tmp_path / 'db.sqlite'}")
    api = _client(app)
    for name in ("evil.svg", "evil.html"):
        r = api.get(f"/courses/{COURSE_ID}/static/{name}")
        assert r.status_code == 200
        csp = [v for k, v in r.headers.multi_items() if k == "content-security-policy"]
        assert any(v.startswith("sandbox") for v in csp), csp  # an opaque origin: no cookies, no API
        assert r.headers["content-disposition"].startswith("attachment")
    png = api.get(f"/courses/{COURSE_ID}/static/course-card.png")
    assert png.status_code == 200 and "content-disposition" not in png.headers  # images still show
    assert any(
        v.startswith("sandbox") for k, v in png.headers.multi_items() if k == "content-security-policy"
    )


# ---------------------------------------------------------------- Medium
def test_parallel_logins_cannot_bypass_the_throttle(app: Any) -> None:
    api = _client(app)
    assert api.register("burst.target").status_code == 201
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _i: api.login("burst.target", "wrong password!").status_code, range(40)))
    assert codes.count(401) == 5 and codes.count(429) == 35, codes  # exactly the free failures checked
    assert api.login("burst.target").status_code == 429  # the right password waits too


def test_parallel_login_attempts_are_counted_atomically(db_url: str) -> None:  # noqa: F811
    store = Store(db_url)
    store.upgrade()
    rules = Settings(courses=Path(".")).login
    try:
        with ThreadPoolExecutor(12) as pool:
            waits = list(pool.map(lambda _i: store.login_attempt("k" * 64, rules), range(60)))
        assert waits.count(None) == rules.free_failures
    finally:
        store.dispose()


def test_chunked_and_oversized_bodies_are_refused_before_parsing(app: Any) -> None:
    api = _client(app)
    big = b'{"username": "' + b"a" * (Limits.max_body + 10) + b'"}'

    def chunks() -> Any:
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    headers = {**api.csrf, "content-type": "application/json"}
    assert api.client.post("/api/login", content=chunks(), headers=headers).status_code == 413
    assert api.client.post("/api/login", content=big, headers=headers).status_code == 413
    form = {**api.csrf, "content-type": "application/x-www-form-urlencoded"}
    assert api.client.post("/login", content=b"username=" + b"a" * 100_000, headers=form).status_code == 413


def test_admin_create_never_takes_over_an_existing_account(app: Any, monkeypatch: Any) -> None:
    from localmooc_packager.cli import main

    api = _client(app)
    assert api.register("somchai").status_code == 201
    url = app.state.store.url
    monkeypatch.setenv("LM_PW", "another long passphrase 9")
    with pytest.raises(SystemExit) as exit_:
        main(["admin", "create", "SomChai", "--password-env", "LM_PW", "--db", url])
    assert exit_.value.code == 2
    assert api.login("somchai").json()["role"] == "learner"  # not promoted, password unchanged
    with pytest.raises(SystemExit) as exit_:
        main(["admin", "create", "somchai", "--promote", "--password-env", "LM_PW", "--db", url])
    assert exit_.value.code == 2  # --promote never takes a password it would ignore
    with pytest.raises(SystemExit) as exit_:
        main(["admin", "create", "somchai", "--promote", "--yes", "--db", url])
    assert exit_.value.code == 0
    assert api.login("somchai").json()["role"] == "admin"
    with pytest.raises(SystemExit) as exit_:
        main(["admin", "create", "newboss", "--password-env", "LM_PW", "--db", url])
    assert exit_.value.code == 0
    assert _client(app, "10.0.0.2").login("newboss", "another long passphrase 9").json()["role"] == "admin"


@pytest.mark.parametrize(
    "digits",
    [
        "１１０１７００２３０７０８",  # fullwidth
        "١١٠١٧٠٠٢٣٠٧٠٨",  # Arabic-Indic
        "११०१७००२३०७०८",  # Devanagari
        "๑๑๐๑๗๐๐๒๓๐๗๐๘",  # Thai
    ],
)
def test_other_digit_scripts_cannot_register_a_national_id_again(app: Any, digits: str) -> None:
    api = _client(app)
    assert api.register("first.holder", national_id=VALID_NID).status_code == 201
    r = api.register("second.holder", national_id=digits)
    assert r.status_code == 409, r.text


# ---------------------------------------------------------------- Low
def test_login_answers_do_not_enumerate_users(app: Any) -> None:
    api = _client(app)
    assert api.register("real.user").status_code == 201
    wrong = api.login("real.user", "wrong password!")
    missing = api.login("ghost.user", "wrong password!")
    assert (wrong.status_code, wrong.json()) == (missing.status_code, missing.json())
    for name in ("real.user", "ghost.user"):
        for _ in range(5):
            api.login(name, "wrong password!")
    a, b = api.login("real.user", "x" * 12), api.login("ghost.user", "x" * 12)
    assert a.status_code == b.status_code == 429 and a.json()["detail"] == b.json()["detail"]


def test_registration_conflicts_do_not_say_which_value_is_taken(app: Any) -> None:
    api = _client(app)
    assert api.register("taken.name", national_id=VALID_NID).status_code == 201
    by_name = api.register("taken.name")
    by_id = api.register("fresh.name", national_id=VALID_NID)
    assert by_name.status_code == by_id.status_code == 409
    assert by_name.json() == by_id.json()


def test_a_stranger_cannot_lock_someone_elses_account(app: Any) -> None:
    attacker, victim = _client(app, "203.0.113.9"), _client(app, "198.51.100.7")
    assert victim.register("victim.user").status_code == 201
    for _ in range(20):
        attacker.login("victim.user", "wrong password!")
    assert attacker.login("victim.user", "wrong password!").status_code == 429
    assert victim.login("victim.user").status_code == 200  # the owner, from their own client


def test_server_errors_carry_security_headers(app: Any, monkeypatch: Any) -> None:
    api = _client(app)

    def broken() -> dict[str, bool]:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.state.store, "published_map", broken)
    for path in ("/", "/api/courses"):
        r = api.get(path)
        assert r.status_code == 500
        assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in r.headers


def test_nul_in_a_static_path_is_not_found(app: Any) -> None:
    api = _client(app)
    for path in ("a%00b.png", "%00", "fiscal-year.png%00.html"):
        assert api.get(f"/courses/{COURSE_ID}/static/{path}").status_code == 404


def test_nan_infinity_and_overflowing_answers_are_refused(app: Any) -> None:
    api = _client(app)
    api.learner("nan.user")
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    url = f"/api/courses/{COURSE_ID}/blocks/post/handler/submit"
    for bad in (
        b'{"responses": {"q2": NaN}}',
        b'{"responses": {"q2": Infinity}}',
        b'{"responses": {"q2": 1e999}}',
    ):
        r = api.post(url, content=bad, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
    assert api.get("/api/me/export").status_code == 200


def test_deeply_nested_json_is_a_400(app: Any) -> None:
    api = _client(app)
    api.learner("deep.user")
    deep = b'{"responses": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    h = {"content-type": "application/json"}
    assert (
        api.post(f"/api/courses/{COURSE_ID}/blocks/post/handler/submit", content=deep, headers=h).status_code
        == 400
    )
    assert api.post("/api/register", content=b"[" * 20_000 + b"]" * 20_000, headers=h).status_code == 400


def test_an_enrolled_learner_cannot_store_a_huge_answer(app: Any) -> None:
    api = _client(app)
    api.learner("huge.user")
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    url = f"/api/courses/{COURSE_ID}/blocks/post/handler/submit"
    assert api.post(url, json={"responses": {"q5": "ก" * 20_000_000}}).status_code == 413
    assert api.post(url, json={"responses": {"q5": "ก" * 10_000}}).status_code == 400


def test_erasure_removes_free_text_answers(app: Any) -> None:
    api = _client(app)
    me = api.learner("free.text")
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    assert api.submit("post", {"q5": "บ้านเลขที่ 99 ของฉัน"}).status_code == 200
    assert api.delete("/api/me").status_code == 200
    with app.state.store.read() as conn:
        assert (
            conn.execute(select(learner_state).where(learner_state.c.learner_id == me["id"])).first() is None
        )


@pytest.mark.parametrize("name", ["1-1017-00230-70-8", "1101700230708x", "id.1101700230708"])
def test_a_national_id_cannot_hide_in_a_username(app: Any, name: str) -> None:
    assert _client(app).register(name).status_code == 422


def test_an_empty_short_or_shared_key_file_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("")
    key.chmod(0o600)
    with pytest.raises(WeakKeyError):
        Secrets.load(key)
    key.write_text("short")
    with pytest.raises(WeakKeyError):
        Secrets.load(key)
    key.write_text("x" * 64)
    key.chmod(0o644)
    with pytest.raises(WeakKeyError, match="chmod 600"):
        Secrets.load(key)
    with pytest.raises(WeakKeyError):
        Secrets.load(key, env_key="")
    fresh = tmp_path / "new" / "key"
    assert len(Secrets.load(fresh).key) >= 32 and stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_database_files_are_private(tmp_path: Path) -> None:
    os.umask(0o022)
    store = Store(f"sqlite:///{tmp_path / 'lm.db'}")
    store.upgrade()
    store.dispose()
    for p in tmp_path.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_show_answers_never_reveals_per_question_correctness(tmp_path: Path) -> None:
    src = _course_copy(
        tmp_path,
        lambda y: y.replace("role: post-test\n", "role: post-test\n        show_answers: never\n", 1),
    )
    app = _app_for(src, f"sqlite:///{tmp_path / 'db.sqlite'}")
    api = _client(app)
    api.learner("never.user")
    api.post(f"/api/courses/{COURSE_ID}/enrol")
    body = api.submit("post", {"q1": "a"}).json()
    assert body["questions"] == {} and "answer" not in json.dumps(body)


def test_a_second_account_cannot_harvest_the_answer_key(app: Any) -> None:
    api = _client(app)
    api.learner("harvester")
    api.post(f"/api/courses/{COURSE_ID}/enrol")
    for _ in range(5):
        r = api.submit("post", {"q1": "a"})
        if r.status_code != 200:
            break
        body = r.json()
        assert all("answer" not in q for q in body["questions"].values()), body
    assert r.status_code == 409 or body["attempts_left"] == 0


def test_usernames_differing_only_in_case_are_one_account(app: Any) -> None:
    api = _client(app)
    assert api.register("Somying").status_code == 201
    assert api.register("SOMYING").status_code == 409
    assert api.login("somYING").status_code == 200


def test_headers_sent_slowly_are_cut_off(tmp_path: Path) -> None:
    import uvicorn

    from localmooc_packager.runtime.server import BoundedHttpProtocol

    class Quick(BoundedHttpProtocol):
        header_timeout = 0.5

    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite'}")
    server = LiveServer(app)
    server.server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=server.port, http=Quick, log_level="warning")
    )
    import threading

    server.thread = threading.Thread(target=server.server.run, daemon=True)
    with server, socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        # Closed by the server's header timeout; were it not, recv would raise after the socket's 5 s.
        assert sock.recv(100) == b""


def test_bodies_sent_slowly_time_out(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    cfg = Settings(courses=SAMPLE, db_url=url, limits=Limits(body_timeout=0.5))
    app = create_app(sample_courses(), url, secrets=test_secrets(), settings=cfg)
    with LiveServer(app) as server, socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        assert sock.recv(100).startswith(b"HTTP/1.1 408")


def test_a_huge_admin_offset_is_refused_not_a_500(app: Any) -> None:
    from localmooc_packager.runtime.server import create_admin

    create_admin(app.state.store.url, "offset.boss", "หัวหน้า", PASSWORD)
    api = _client(app)
    api.login("offset.boss")
    assert api.get("/api/admin/learners", params={"offset": 10**23}).status_code == 422
    assert api.get("/admin", params={"offset": 10**23}).status_code == 422
    assert api.get("/api/admin/learners", params={"offset": 5}).status_code == 200


def test_secure_cookies_carry_the_host_prefix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    cfg = Settings(courses=SAMPLE, db_url=url, secure_cookies=True)
    app = create_app(sample_courses(), url, secrets=test_secrets(), settings=cfg)
    api = _client(app)
    r = api.client.get("https://testserver/api/csrf")
    assert "__Host-lm_csrf=" in r.headers["set-cookie"] and "Secure" in r.headers["set-cookie"]
    assert "Domain" not in r.headers["set-cookie"] and "Path=/" in r.headers["set-cookie"]


def test_a_csrf_token_from_another_session_is_refused(app: Any) -> None:
    a, b = _client(app, "10.0.0.1"), _client(app, "10.0.0.2")
    a.learner("csrf.a")
    b.learner("csrf.b")
    assert a.csrf["X-CSRFToken"] != b.csrf["X-CSRFToken"]
    # b's token (e.g. leaked from another session, or planted before login) is no use for a's session.
    r = a.client.post(f"/api/courses/{COURSE_ID}/enrol", headers=b.csrf)
    assert r.status_code == 403
    assert a.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200


def test_idle_sessions_end_and_ended_sessions_are_purged(app: Any) -> None:
    api = _client(app)
    api.learner("idle.user")
    store = app.state.store
    past = datetime.now(UTC).replace(year=2020)
    with store.write() as conn:
        conn.execute(update(sessions).values(idle_until=past))
    assert api.get("/api/me").status_code == 401
    _client(app, "10.9.9.9").learner("other.user")  # a login purges ended sessions
    with store.read() as conn:
        token = api.client.cookies.get("lm_session")
        assert (
            conn.execute(select(sessions).where(sessions.c.token_hash == token_hash(token))).first() is None
        )


def test_hidden_courses_cannot_be_enrolled_or_their_files_read(app: Any) -> None:
    from localmooc_packager.runtime.server import create_admin

    create_admin(app.state.store.url, "hide.boss", "หัวหน้า", PASSWORD)
    boss = _client(app, "10.1.1.1")
    boss.login("hide.boss")
    assert boss.post(f"/api/admin/courses/{COURSE_ID}", json={"published": False}).status_code == 200
    api = _client(app)
    api.learner("hidden.user")
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 404
    assert api.get(f"/courses/{COURSE_ID}/static/course-card.png").status_code == 404
    assert _client(app, "10.2.2.2").get(f"/courses/{COURSE_ID}/static/course-card.png").status_code == 404
    assert boss.get(f"/courses/{COURSE_ID}/static/course-card.png").status_code == 200


def test_enrolment_after_the_window_closed_is_refused(tmp_path: Path) -> None:
    src = _course_copy(
        tmp_path, lambda y: y.replace("end: 2021-09-30", "end: 2021-09-30\nenrollment_end: 2021-04-30")
    )
    app = _app_for(src, f"sqlite:///{tmp_path / 'db.sqlite'}")
    api = _client(app)
    api.learner("late.user")
    r = api.post(f"/api/courses/{COURSE_ID}/enrol")
    assert r.status_code == 403 and r.json()["detail"] == "enrolment_closed"
    about = api.get(f"/courses/{COURSE_ID}").text
    assert "30 เม.ย. 2564" in about and "19 มี.ค. 2564" in about  # dates in B.E.


def test_answers_after_the_due_date_are_refused(tmp_path: Path) -> None:
    app = _app_for(SAMPLE, f"sqlite:///{tmp_path / 'db.sqlite'}")
    course = app.state.courses[COURSE_ID]
    course.due["post"] = "2021-09-30"
    try:
        api = _client(app)
        api.learner("due.user")
        assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
        r = api.submit("post", {"q1": "a"})
        assert r.status_code == 403 and r.json()["detail"] == "past_due"
        assert "30 ก.ย. 2564" in api.get(f"/courses/{COURSE_ID}/progress").text  # the due date, in B.E.
        with app.state.store.read() as conn:
            assert conn.execute(select(learners)).first() is not None
    finally:
        course.due.pop("post", None)


def test_video_completion_cannot_be_set_without_playing(app: Any) -> None:
    from localmooc_packager.runtime.store import enrolments

    api = _client(app)
    me = api.learner("skipper")
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    url = f"/api/courses/{COURSE_ID}/blocks/intro-video/handler/watched_handler"
    assert api.post(url, json={}).status_code == 403  # the unit was never shown
    assert api.get(f"/api/courses/{COURSE_ID}/units/intro").status_code == 200
    r = api.post(url, json={})
    assert r.status_code == 403 and r.json()["detail"] == "video_not_played"  # shown, not yet played
    with app.state.store.write() as conn:
        earlier = datetime.now(UTC).replace(microsecond=0).timestamp() - 10
        conn.execute(
            update(enrolments)
            .where(enrolments.c.learner_id == me["id"])
            .values(last_seen=datetime.fromtimestamp(earlier, UTC))
        )
    assert api.post(url, json={}).status_code == 200  # 10 s after the page: the 6 s video could play
