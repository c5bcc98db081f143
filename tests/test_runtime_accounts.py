"""Accounts run by administrators and learners (issue 13, item 5): unlocking, temporary passwords that must
be changed, the learner's own password change, the admin's view of a learner's results, and the audit log
of each; registration by a poster's QR (organisation type and province filled in, enrolled in the course).
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from lxml import html
from runtime_support import (  # noqa: F401
    COURSE_ID,
    PASSWORD,
    POST_RIGHT,
    Api,
    db_url,
    make_app,
    pg_database,
)
from sqlalchemy import select

from localmooc_packager.results.poster import registration_url
from localmooc_packager.results.schema import course_results
from localmooc_packager.runtime.security import account_key, throttle_key
from localmooc_packager.runtime.settings import Login
from localmooc_packager.runtime.storage.schema import (
    attempts,
    audit_log,
    enrolments,
    login_throttle,
    sessions,
)

NEW_PASSWORD = "another long phrase 2"


@pytest.fixture
def app(db_url: str) -> Any:  # noqa: F811
    a = make_app(db_url)
    yield a
    a.state.store.dispose()


def admin_client(app: Any, username: str = "boss") -> tuple[Api, str]:
    api = Api(app)
    api.learner(username)
    admin_id = app.state.store.set_role(username, "admin")
    return api, admin_id


def learner_id_of(app: Any, username: str) -> str:
    from localmooc_packager.runtime.storage.schema import identities

    with app.state.store.read() as conn:
        return str(
            conn.execute(select(identities.c.learner_id).where(identities.c.username == username)).scalar()
        )


def audit_rows(app: Any, action: str) -> list[dict[str, Any]]:
    with app.state.store.read() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id))
        return [dict(r._mapping) for r in rows]


def page_form_post(api: Api, url: str, **data: str) -> Any:
    """An HTML form post: the CSRF token in the form, as the browser sends it (redirects not followed)."""
    token = api.client.cookies.get("lm_csrf") or ""
    return api.client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


# ---- unlock


def test_admin_unlock_clears_the_throttle_of_every_client_and_is_audited(app: Any) -> None:
    admin, admin_id = admin_client(app)
    learner = Api(app)
    assert learner.register("somchai").status_code == 201
    lid = learner_id_of(app, "somchai")
    # Five wrong passwords from this client arm the wait; another client's attempts are counted apart.
    for _ in range(Login.free_failures):
        assert learner.login("somchai", "wrong password here").status_code == 401
    assert learner.login("somchai").status_code == 429
    store, rules = app.state.store, Login()
    for _ in range(Login.free_failures + 1):
        store.login_attempt(throttle_key("somchai", "10.1.2.3"), rules, account_key("somchai"))
    with store.read() as conn:
        assert conn.execute(
            select(login_throttle).where(login_throttle.c.account == account_key("somchai"))
        ).all()

    r = page_form_post(admin, f"/admin/learners/{lid}/unlock")
    assert r.status_code == 200 and 'data-lm="admin-message"' in r.text
    with store.read() as conn:
        left = conn.execute(
            select(login_throttle).where(login_throttle.c.account == account_key("somchai"))
        ).all()
    assert left == []
    assert learner.login("somchai").status_code == 200  # no wait any more
    (row,) = audit_rows(app, "admin-unlock")
    assert (row["actor"], row["target"]) == (admin_id, lid)
    assert json.loads(row["detail"]) == {"throttle_rows": 2}


# ---- temporary password


def test_temporary_password_must_be_changed_at_the_next_login(app: Any) -> None:
    admin, admin_id = admin_client(app)
    learner = Api(app)
    learner.learner("malee")
    lid = learner_id_of(app, "malee")
    assert learner.get("/me", follow_redirects=False).status_code == 200

    r = page_form_post(admin, f"/admin/learners/{lid}/temporary-password", password="")
    assert r.status_code == 200, r.text
    temp = html.fromstring(r.text).xpath('//*[@data-lm="temporary-password"]')[0].text
    assert temp and len(temp) >= 10
    # The learner's sessions ended; the old password no longer works.
    assert learner.get("/me", follow_redirects=False).headers["location"].startswith("/login")
    assert learner.login("malee").status_code == 401

    r = page_form_post(learner, "/login", username="malee", password=temp, next="/me")
    assert r.status_code == 303
    for path in ("/", "/me", f"/courses/{COURSE_ID}", "/admin"):
        r = learner.get(path, follow_redirects=False)
        assert (r.status_code, r.headers.get("location")) == (303, "/me/password"), path
    api = learner.get("/api/me")
    assert api.status_code == 403 and api.json()["detail"] == "password_change_required"
    page = learner.get("/me/password")
    assert page.status_code == 200 and 'data-lm="password-forced"' in page.text

    r = page_form_post(learner, "/me/password", current_password=temp, new_password=NEW_PASSWORD)
    assert r.status_code == 200 and 'data-lm="password-changed"' in r.text
    assert learner.get("/me", follow_redirects=False).status_code == 200
    assert learner.get("/api/me").status_code == 200
    fresh = Api(app)
    assert fresh.login("malee", temp).status_code == 401
    assert fresh.login("malee", NEW_PASSWORD).status_code == 200
    assert fresh.get("/", follow_redirects=False).status_code == 200

    (row,) = audit_rows(app, "admin-temporary-password")
    assert (row["actor"], row["target"], row["detail"]) == (admin_id, lid, "{}")
    with app.state.store.read() as conn:
        details = " ".join(conn.execute(select(audit_log.c.detail)).scalars())
    assert temp not in details and NEW_PASSWORD not in details


def _forced_learner(app: Any, username: str) -> tuple[Api, str]:
    """A learner enrolled in the sample course who then logs in with an admin's temporary password."""
    admin, _admin_id = admin_client(app, f"boss-{username}")
    learner = Api(app)
    learner.learner(username)
    assert learner.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    lid = learner_id_of(app, username)
    r = page_form_post(admin, f"/admin/learners/{lid}/temporary-password", password="Given-by-admin-77")
    assert r.status_code == 200, r.text
    assert learner.login(username, "Given-by-admin-77").status_code == 200
    return learner, lid


def test_a_temporary_password_session_can_do_nothing_but_change_it(app: Any) -> None:
    learner, lid = _forced_learner(app, "malee")
    # The quiz handler (answered by the edge, not FastAPI): a 403 in JSON with the code and a Thai message;
    # nothing is written.
    r = learner.submit("post", POST_RIGHT)
    assert r.status_code == 403
    assert r.json() == {
        "detail": "password_change_required",
        "message": "ท่านเข้าสู่ระบบด้วยรหัสผ่านชั่วคราว กรุณาตั้งรหัสผ่านใหม่ก่อนใช้งาน",
    }
    en = learner.post(
        f"/api/courses/{COURSE_ID}/blocks/post/handler/submit?lang=en", json={"responses": POST_RIGHT}
    )
    assert en.json()["message"].startswith("You logged in with a temporary password")
    with app.state.store.read() as conn:
        assert conn.execute(select(attempts).where(attempts.c.learner_id == lid)).all() == []
    # The other learner actions: the JSON API answers the same 403, pages go to /me/password.
    for path in (f"/api/courses/{COURSE_ID}/progress", f"/api/courses/{COURSE_ID}/resume", "/api/me/export"):
        r = learner.get(path)
        assert (r.status_code, r.json()["detail"]) == (403, "password_change_required"), path
    r = learner.post(f"/api/courses/{COURSE_ID}/enrol")
    assert (r.status_code, r.json()["detail"]) == (403, "password_change_required")
    for path in (f"/courses/{COURSE_ID}/learn", f"/courses/{COURSE_ID}/certificate", "/me/courses"):
        r = learner.get(path, follow_redirects=False)
        assert (r.status_code, r.headers.get("location")) == (303, "/me/password"), path
    r = page_form_post(learner, "/me/erase")
    assert (r.status_code, r.headers.get("location")) == (303, "/me/password")
    assert learner.get("/me/password").status_code == 200

    r = page_form_post(
        learner, "/me/password", current_password="Given-by-admin-77", new_password=NEW_PASSWORD
    )
    assert r.status_code == 200 and 'data-lm="password-changed"' in r.text
    r = learner.submit("post", POST_RIGHT)
    assert r.status_code == 200, r.text


def test_logout_stays_open_to_a_temporary_password_session(app: Any) -> None:
    learner, _lid = _forced_learner(app, "somsri")
    assert learner.post("/api/logout").status_code == 200
    assert learner.submit("post", POST_RIGHT).status_code == 401  # logged out: no session at all


def test_a_batch_refuses_only_the_call_whose_session_must_change_its_password(app: Any) -> None:
    """Several calls in one transaction (PostgreSQL's batch statement reads every session at once): the
    flag comes with each session's row and refuses that call alone."""
    import secrets as _secrets
    from datetime import timedelta

    from localmooc_packager.runtime.errors import SessionRefused
    from localmooc_packager.runtime.learner_runtime import call_handlers_for_sessions
    from localmooc_packager.runtime.storage.schema import token_hash

    _forced_learner(app, "nid")
    Api(app).learner("dao")
    store = app.state.store
    course = app.state.courses[COURSE_ID]
    tokens = {}
    for username in ("nid", "dao"):
        lid = learner_id_of(app, username)
        store.enrol(lid, COURSE_ID)
        tokens[username] = _secrets.token_urlsafe(16)
        at = datetime.now(UTC)
        with store.write() as conn:
            conn.execute(
                sessions.insert().values(
                    token_hash=token_hash(tokens[username]),
                    learner_id=lid,
                    created_at=at,
                    expires_at=at + timedelta(hours=1),
                    idle_until=at + timedelta(hours=1),
                )
            )
    body = json.dumps({"responses": POST_RIGHT}).encode()
    requests = [(course, tokens[u], "post", "submit", body, "th") for u in ("nid", "dao", "nid")]
    refused, done, again = call_handlers_for_sessions(store, requests)
    assert isinstance(refused, SessionRefused) and refused.why == "password change required"
    assert isinstance(again, SessionRefused) and again.why == "password change required"
    assert not isinstance(done, Exception) and done[0] == 200


def test_a_temporary_password_given_by_the_admin_follows_the_policy(app: Any) -> None:
    admin, _ = admin_client(app)
    Api(app).learner("weakling")
    lid = learner_id_of(app, "weakling")
    r = page_form_post(admin, f"/admin/learners/{lid}/temporary-password", password="short")
    assert r.status_code == 422 and "aria-invalid" in r.text
    assert audit_rows(app, "admin-temporary-password") == []
    r = page_form_post(admin, f"/admin/learners/{lid}/temporary-password", password="Given-by-admin-77")
    assert r.status_code == 200 and "Given-by-admin-77" in r.text


# ---- the learner's own password change


def test_password_change_checks_the_current_password_and_ends_other_sessions(app: Any) -> None:
    here, there = Api(app), Api(app)
    here.learner("kanya")
    assert 'href="/me/password"' in here.get("/me").text  # reachable from the learner's own page
    assert there.login("kanya").status_code == 200
    assert there.get("/me", follow_redirects=False).status_code == 200

    r = page_form_post(here, "/me/password", current_password="not my password", new_password=NEW_PASSWORD)
    assert r.status_code == 422 and 'data-lm-error="current_password"' in r.text
    r = page_form_post(here, "/me/password", current_password=PASSWORD, new_password="kanya-1234567")
    assert r.status_code == 422 and 'data-lm-error="new_password"' in r.text  # contains the username
    r = page_form_post(here, "/me/password", current_password=PASSWORD, new_password=PASSWORD)
    assert r.status_code == 422 and 'data-lm-error="new_password"' in r.text
    # No CSRF token: refused before anything changes.
    r = here.client.post("/me/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 403
    assert there.get("/me", follow_redirects=False).status_code == 200

    r = page_form_post(here, "/me/password", current_password=PASSWORD, new_password=NEW_PASSWORD)
    assert r.status_code == 200 and 'data-lm="password-changed"' in r.text
    assert here.get("/me", follow_redirects=False).status_code == 200  # this session stays
    assert there.get("/me", follow_redirects=False).headers["location"].startswith("/login")
    lid = learner_id_of(app, "kanya")
    with app.state.store.read() as conn:
        assert len(conn.execute(select(sessions).where(sessions.c.learner_id == lid)).all()) == 1
    assert Api(app).login("kanya").status_code == 401
    assert Api(app).login("kanya", NEW_PASSWORD).status_code == 200
    (row,) = audit_rows(app, "password-change")
    assert (row["actor"], row["target"], json.loads(row["detail"])) == (lid, lid, {"sessions_ended": 1})


# ---- the admin's view of a learner's results


def test_admin_views_a_learners_results_and_the_view_is_audited(app: Any) -> None:
    admin, admin_id = admin_client(app)
    learner = Api(app)
    learner.learner("wichai")
    lid = learner_id_of(app, "wichai")
    assert learner.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    # Enrolment made the learner's results row; set it as the completion rules would have on certifying.
    with app.state.store.write() as conn:
        conn.execute(
            course_results.update()
            .where(course_results.c.learner_id == lid, course_results.c.course_id == COURSE_ID)
            .values(
                certified_at=datetime(2021, 5, 3, 4, 0, tzinfo=UTC),
                study_seconds=6000,
                post_test_score=80.0,
                grade=85.5,
                credited_hours=3.0,
                certificate_no="LM-2564-000123",
            )
        )
    r = admin.get(f"/admin/learners/{lid}")
    assert r.status_code == 200
    doc = html.fromstring(r.text)
    enrolled = doc.xpath('//table[@data-lm="learner-enrolments"]//tbody/tr')
    assert len(enrolled) == 1 and "งบประมาณท้องถิ่นเบื้องต้น" in enrolled[0].text_content()
    result = doc.xpath('//table[@data-lm="learner-results"]//tbody/tr')[0].text_content()
    assert "LM-2564-000123" in result and "3 พ.ค. 2564" in result and "85.50" in result
    assert doc.xpath('//*[@data-lm="learner-username"]')[0].text == "wichai"
    (row,) = audit_rows(app, "admin-view-results")
    assert (row["actor"], row["target"]) == (admin_id, lid)
    assert "admin-view-results" in doc.xpath('//table[@data-lm="learner-audit"]')[0].text_content()
    assert admin.get("/admin/learners/no-such-learner").status_code == 404


def test_non_admins_are_refused(app: Any) -> None:
    learner = Api(app)
    learner.learner("nobody")
    lid = learner_id_of(app, "nobody")
    for path in (f"/admin/learners/{lid}", "/admin/report", "/admin/report/download?format=json"):
        assert learner.get(path).status_code == 403, path
    for path in (f"/admin/learners/{lid}/unlock", f"/admin/learners/{lid}/temporary-password"):
        assert page_form_post(learner, path).status_code == 403, path
    assert audit_rows(app, "admin-unlock") == [] and audit_rows(app, "admin-view-results") == []
    anonymous = Api(app)
    r = anonymous.get("/admin/report", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


# ---- registration by QR


def test_the_posters_qr_url_prefills_registration_and_enrols(app: Any) -> None:
    url = registration_url(
        "https://mooc.example.go.th/", COURSE_ID, "local-admin-org", "Chiang Mai", "เทศบาลตำบลสุเทพ"
    )
    parts = urlsplit(url)
    api = Api(app)
    r = api.get(f"{parts.path}?{parts.query}")
    assert r.status_code == 200
    doc = html.fromstring(r.text)
    assert doc.xpath('//select[@id="org_type"]/option[@selected]/@value') == ["local-admin-org"]
    assert doc.xpath('//select[@id="province"]/option[@selected]/@value') == ["เชียงใหม่"]
    assert doc.xpath('//input[@id="organisation"]/@value') == ["เทศบาลตำบลสุเทพ"]
    assert doc.xpath('//input[@name="next"]/@value') == [f"/courses/{COURSE_ID}/enrol"]

    form = dict(doc.forms[-1].form_values())  # what the browser would send: the prefilled values
    form |= {"name": "นายสมปอง ใจดี", "username": "sompong", "password": PASSWORD}
    r = api.client.post("/register", data=form, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/courses/{COURSE_ID}/learn")
    lid = learner_id_of(app, "sompong")
    with app.state.store.read() as conn:
        assert conn.execute(
            select(enrolments.c.course_id).where(enrolments.c.learner_id == lid)
        ).scalars().all() == [COURSE_ID]
    r = api.get(f"/courses/{COURSE_ID}/learn", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/courses/{COURSE_ID}/units/")
    profile = api.get("/api/me").json()
    assert (profile["org_type"], profile["province"], profile["organisation"]) == (
        "local-admin-org",
        "เชียงใหม่",
        "เทศบาลตำบลสุเทพ",
    )


@pytest.mark.parametrize(
    "query",
    [
        "org_type=galactic-empire&province=Atlantis&next=//evil.example/",
        "org_type=&province=&next=https://evil.example/courses/x/enrol",
    ],
)
def test_qr_values_not_on_the_form_are_not_filled_in(app: Any, query: str) -> None:
    r = Api(app).get(f"/register?{query}")
    assert r.status_code == 200
    doc = html.fromstring(r.text)
    assert doc.xpath('//select[@id="org_type"]/option[@selected]') == []
    assert doc.xpath('//select[@id="province"]/option[@selected]') == []
    assert doc.xpath('//input[@name="next"]') == []


def test_registration_without_a_course_goes_home_and_enrols_nowhere(app: Any) -> None:
    api = Api(app)
    r = api.get("/register?next=/courses/no-such-course/enrol")
    form = {"csrf_token": api.client.cookies.get("lm_csrf") or "", "next": "/courses/no-such-course/enrol"}
    form |= {"name": "ทดสอบ ระบบ", "username": "tester", "password": PASSWORD, "org_type": "dla-central"}
    form |= {"province": "กรุงเทพมหานคร"}
    r = api.client.post("/register", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/courses/no-such-course/enrol"
    with app.state.store.read() as conn:
        assert conn.execute(select(enrolments)).all() == []
    # The GET form of the enrol link shows the course page (enrolling is a POST): an unknown course is a 404.
    assert api.get(r.headers["location"], follow_redirects=False).status_code == 404
    r = api.get(f"/courses/{COURSE_ID}/enrol", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/courses/{COURSE_ID}")
    assert re.search(r"/courses/", r.headers["location"])


# ---- migration 0005


def test_migration_0005_adds_its_columns_and_can_be_undone(db_url: str) -> None:  # noqa: F811
    """Existing accounts get must_change_password = false; the downgrade drops both columns, the upgrade
    brings them back, and the runtime's schema matches what the migration makes (no drift)."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config
    from runtime_support import migrations_head

    from localmooc_packager.runtime.dbcheck import check
    from localmooc_packager.runtime.storage.schema import MIGRATIONS
    from localmooc_packager.runtime.store import Store

    store = Store(db_url)
    try:
        assert store.upgrade() == migrations_head()
        app = make_app(db_url)
        Api(app).learner("olduser")
        app.state.store.dispose()

        def columns(conn: Any, table: str) -> set[str]:
            return {c["name"] for c in sa.inspect(conn).get_columns(table)}

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")  # the revision before 0005
            assert "must_change_password" not in columns(conn, "identities")
            assert "account" not in columns(conn, "login_throttle")
        assert store.upgrade() == migrations_head()
        with store.read() as conn:
            from localmooc_packager.runtime.storage.schema import identities

            flags = conn.execute(select(identities.c.username, identities.c.must_change_password)).all()
        assert [(u, bool(f)) for u, f in flags] == [("olduser", False)]
        assert check(db_url).problems == []
    finally:
        store.dispose()
