"""Certificates in the runtime, through the ASGI app on SQLite and PostgreSQL: the learner's PDF (again and
again the same), the public verification page and its JSON, the admin's revocation (audited), erasure, the
"my courses" page with hours per evaluation round, B.E. dates. Results rows are seeded as the runtime
writes them (results/schema.py)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from results_support import ROOT, pdftotext
from runtime_support import (
    COURSE_ID,
    PASSWORD,
    POST_RIGHT,
    Api,
    db_url,
    pg_database,
    sample_courses,
    test_secrets,
)
from sqlalchemy import select, update

from localmooc_packager.results.certno import new_number
from localmooc_packager.results.pdf import ZWSP
from localmooc_packager.results.schema import course_results
from localmooc_packager.runtime.app import create_app
from localmooc_packager.runtime.settings import Settings
from localmooc_packager.runtime.storage.schema import audit_log, identities

__all__ = ["db_url", "pg_database"]  # fixtures used by name

TEMPLATE = ROOT / "tests" / "fixtures" / "results" / "template.yaml"
CERTIFIED_AT = datetime(2025, 11, 10, 3, 30, tzinfo=UTC)  # 10 พ.ย. 2568 in Bangkok: round 2569/1
NAME = "สมหญิง รักเรียน"


def app_for(url: str, **settings: Any) -> Any:
    cfg = Settings(courses=Path("."), db_url=url, **settings)
    return create_app(sample_courses(), url, secrets=test_secrets(), settings=cfg)


def learner(app: Any, username: str = "somying") -> tuple[Api, str]:
    api = Api(app)
    me = api.learner(username)
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    return api, me["id"]


def seed_result(app: Any, learner_id: str, **values: Any) -> str:
    """A result row as the runtime writes it when every certificate rule is met."""
    number = new_number(2568)
    row = {
        "learner_id": learner_id,
        "course_id": COURSE_ID,
        "enrolled_at": datetime(2025, 11, 1, tzinfo=UTC),
        "content_completed_at": CERTIFIED_AT,
        "post_test_passed_at": CERTIFIED_AT,
        "certified_at": CERTIFIED_AT,
        "study_seconds": 95 * 60,
        "post_test_score": 100.0,
        "grade": 100.0,
        "credited_hours": 3.0,
        "certificate_no": number,
        "erased": False,
        **values,
    }
    r = course_results.c
    with app.state.store.write() as conn:  # enrolment made the row: the runtime moves it on
        done = conn.execute(
            update(course_results).where(r.learner_id == learner_id, r.course_id == COURSE_ID).values(**row)
        ).rowcount
        if not done:
            conn.execute(course_results.insert().values(**row))
    return number


def admin_client(app: Any) -> Api:
    from localmooc_packager.runtime.server import create_admin

    create_admin(app.state.store.url, "boss", "หัวหน้า", PASSWORD)
    admin = Api(app)
    assert admin.login("boss").json()["role"] == "admin"
    return admin


def test_certificate_download_is_the_same_every_time(db_url: str, tmp_path: Path) -> None:
    app = app_for(db_url, certificate_template=TEMPLATE, public_url="https://mooc.example.go.th/")
    api, learner_id = learner(app)
    # Not yet certified: a clear Thai page, 403.
    r = api.get(f"/courses/{COURSE_ID}/certificate")
    assert r.status_code == 403 and "ยังไม่ได้รับเกียรติบัตร" in r.text  # the PDF's word
    assert api.get("/courses/no-such-course/certificate").status_code == 404
    anonymous = Api(app)
    r = anonymous.get(f"/courses/{COURSE_ID}/certificate", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")

    number = seed_result(app, learner_id)
    first = api.get(f"/courses/{COURSE_ID}/certificate")
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/pdf"
    assert f'filename="certificate-{number}.pdf"' in first.headers["content-disposition"]
    again = api.get(f"/courses/{COURSE_ID}/certificate")
    assert again.content == first.content  # same number, same bytes

    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(first.content)
    text = re.sub(r"\s", "", pdftotext(pdf).replace(ZWSP, ""))
    for expected in (
        NAME,
        "งบประมาณท้องถิ่นเบื้องต้น",
        "องค์การบริหารส่วนจังหวัดตัวอย่าง",  # the organisation's template
        "(นายสมศักดิ์ใจซื่อ)",
        "เกียรติบัตร",  # local-budget-basics sets no certificate.title: the template's title
        "ให้ไว้ณวันที่๑๐พฤศจิกายนพ.ศ.๒๕๖๘",
        number,
        f"https://mooc.example.go.th/verify/{number}",  # --public-url wins over the template's
    ):
        assert re.sub(r"\s", "", expected) in text, expected


def test_the_course_certificate_title_wins(tmp_path: Path) -> None:
    # The sample course with `certificate: {title: วุฒิบัตร}` added, as pdpa-for-local-government has it.
    import shutil

    from localmooc_packager.runtime.blocks import load_course_dir

    folder = shutil.copytree(ROOT / "sample_courses" / COURSE_ID, tmp_path / COURSE_ID)
    yaml_file = folder / "course.yaml"
    source = yaml_file.read_text(encoding="utf-8")
    yaml_file.write_text(source.replace("min_minutes: 90}", "min_minutes: 90, title: วุฒิบัตร}"), "utf-8")
    app = create_app(
        {COURSE_ID: load_course_dir(folder)}, f"sqlite:///{tmp_path / 't.db'}", secrets=test_secrets()
    )
    api, learner_id = learner(app)
    seed_result(app, learner_id)
    pdf = tmp_path / "t.pdf"
    pdf.write_bytes(api.get(f"/courses/{COURSE_ID}/certificate").content)
    text = pdftotext(pdf).replace(ZWSP, "")
    assert "วุฒิบัตร" in text and "เกียรติบัตร" not in text
    # No --public-url and no template: the QR opens the address the learner used.
    assert "http://testserver/verify/" in text
    # The runtime's pages call this course's certificate what its PDF calls it.
    number = re.search(r"LM-\d{4}(-[0-9A-Z]{4}){3}", text)
    assert number is not None
    pages = {
        "/me/courses": "ได้รับวุฒิบัตรแล้ว",
        f"/courses/{COURSE_ID}/progress": "ได้รับวุฒิบัตรเมื่อ",
        "/": "ได้รับวุฒิบัตรแล้ว",
        f"/verify/{number.group(0)}": "วุฒิบัตรนี้ออกโดยระบบและยังมีผลใช้ได้",
    }
    for path, words in pages.items():
        html = api.get(path).text
        assert words in html and "เกียรติบัตร" not in html, path
    assert api.get("/me/courses").text.count("ดาวน์โหลดวุฒิบัตร (PDF)") == 1


def test_verification_states_and_nothing_more(db_url: str) -> None:
    app = app_for(db_url)
    _api, learner_id = learner(app)
    number = seed_result(app, learner_id)
    public = Api(app)

    r = public.get(f"/verify/{number}")
    assert r.status_code == 200
    assert 'data-lm-verify="valid"' in r.text and NAME in r.text
    assert "งบประมาณท้องถิ่นเบื้องต้น" in r.text and "10 พฤศจิกายน พ.ศ. 2568" in r.text
    for private in ("somying", "เชียงใหม่", learner_id):  # username, province, learner id
        assert private not in r.text
    assert r.headers["x-robots-tag"] == "noindex" and r.headers["cache-control"] == "no-cache"
    # Typed loosely (lower case, spaces): the same certificate.
    assert 'data-lm-verify="valid"' in public.get(f"/verify/{number.lower().replace('-', ' ')}").text

    j = public.get(f"/api/verify/{number}").json()
    assert j["status"] == "valid" and j["holder_name"] == NAME and j["credited_hours"] == 3.0
    assert "3 ชั่วโมง" in r.text and "3.0" not in r.text  # the one number rule
    assert j["certified_on_be"] == "10 พฤศจิกายน พ.ศ. 2568"
    assert set(j) == {
        "status",
        "message",
        "certificate_no",
        "course_id",
        "course_title",
        "certified_at",
        "certified_on_be",
        "credited_hours",
        "holder_name",
        "revoked_at",
        "revoked_on_be",
    }
    assert public.get(f"/verify/{number}", headers={"accept": "application/json"}).json() == j

    unknown = new_number(2568)
    r = public.get(f"/verify/{unknown}")
    assert r.status_code == 404 and "ไม่พบเกียรติบัตรเลขที่นี้" in r.text
    assert public.get(f"/api/verify/{unknown}").json()["status"] == "not-found"
    r = public.get("/verify/LM-2568-AAAA-BBBB-CCCC")
    assert r.status_code == 404 and "กรุณาตรวจสอบการพิมพ์" in r.text
    r = public.get("/verify", params={"no": number.lower()}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/verify/{number.lower()}"
    assert public.get("/verify").status_code == 200


def test_admin_revokes_with_a_reason_audited(db_url: str) -> None:
    app = app_for(db_url)
    api, learner_id = learner(app)
    number = seed_result(app, learner_id)
    admin = admin_client(app)

    page = admin.get("/admin")
    assert 'data-lm-admin="certificates"' in page.text
    listing = admin.get("/admin/certificates", params={"username": "SOMYING"})
    assert number in listing.text and NAME in listing.text and "10 พฤศจิกายน พ.ศ. 2568" in listing.text
    assert (
        admin.get("/admin/certificates", params={"username": "nobody"}).text.count('data-lm-certificate="')
        == 0
    )
    assert [c["certificate_no"] for c in admin.get("/api/admin/certificates").json()] == [number]

    # A learner cannot revoke; an admin must give a reason.
    assert api.post(f"/api/admin/certificates/{number}/revoke", json={"reason": "x"}).status_code == 403
    r = admin.post(f"/admin/certificates/{number}/revoke", data={"reason": "   ", "csrf_token": ""})
    assert r.status_code == 422 and "กรุณาระบุเหตุผล" in r.text
    r = admin.post(
        f"/admin/certificates/{number}/revoke",
        data={"reason": "ทุจริตในการสอบ", "username": "somying"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and f"revoked={number}" in r.headers["location"]
    assert (
        admin.post(f"/api/admin/certificates/{new_number(2568)}/revoke", json={"reason": "x"}).status_code
        == 404
    )

    v = Api(app).get(f"/api/verify/{number}").json()
    assert v["status"] == "revoked" and v["holder_name"] is None and v["revoked_on_be"]
    page = Api(app).get(f"/verify/{number}")
    assert "เกียรติบัตรนี้ถูกเพิกถอนแล้ว" in page.text and NAME not in page.text
    # The learner cannot download a revoked certificate.
    r = api.get(f"/courses/{COURSE_ID}/certificate")
    assert r.status_code == 403 and "ถูกเพิกถอน" in r.text
    with app.state.store.read() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "certificate-revoked")).all()
        reason = conn.execute(select(course_results.c.revoked_reason)).scalar()
    assert len(rows) == 1 and json.loads(rows[0].detail)["certificate_no"] == number
    assert rows[0].target == learner_id and reason == "ทุจริตในการสอบ"
    # Revoking again changes nothing (one audit row, the first date).
    admin.post(f"/api/admin/certificates/{number}/revoke", json={"reason": "again"})
    with app.state.store.read() as conn:
        assert (
            len(conn.execute(select(audit_log).where(audit_log.c.action == "certificate-revoked")).all()) == 1
        )


def test_erased_holder_is_verified_without_a_name(db_url: str) -> None:
    app = app_for(db_url)
    api, learner_id = learner(app)
    number = seed_result(app, learner_id)
    with app.state.store.read() as conn:
        who = conn.execute(
            select(identities.c.org_type, identities.c.province).where(identities.c.learner_id == learner_id)
        ).one()
    r = api.post("/me/erase", follow_redirects=False)  # the erasure anonymises the results in its transaction
    assert r.status_code == 303
    with app.state.store.read() as conn:
        kept = conn.execute(
            select(course_results.c.erased, course_results.c.org_type, course_results.c.province).where(
                course_results.c.learner_id == learner_id
            )
        ).one()
        assert conn.execute(select(identities).where(identities.c.learner_id == learner_id)).first() is None
    assert kept.erased and (kept.org_type, kept.province) == (who.org_type, who.province)
    page = Api(app).get(f"/verify/{number}")
    assert page.status_code == 200 and 'data-lm-verify="issued-holder-erased"' in page.text
    assert "ผู้ได้รับถูกลบตามคำขอแล้ว" in page.text and NAME not in page.text
    j = Api(app).get(f"/api/verify/{number}").json()
    assert j["status"] == "issued-holder-erased" and j["holder_name"] is None and j["credited_hours"] == 3.0


def test_my_courses_status_missing_rounds_and_links(db_url: str) -> None:
    app = app_for(db_url)
    api, learner_id = learner(app)
    page = api.get("/me/courses")
    assert page.status_code == 200
    assert 'data-lm-status="in_progress"' in page.text
    # local-budget-basics requires all content, the post-test and 90 minutes.
    for missing in (
        "เรียนเนื้อหาให้ครบทุกส่วน: ทำแล้ว 0 จาก",
        "สอบผ่านแบบทดสอบหลังเรียน: ต้องได้อย่างน้อย 70% (ยังไม่ได้ทำ)",
        "ใช้เวลาเรียนให้ครบ: ต้องเรียนอย่างน้อย 90 นาที (ตอนนี้ 0 นาที)",
    ):
        assert missing in page.text, missing
    assert "ยังไม่มีชั่วโมงที่ได้รับการรับรอง" in page.text
    assert 'href="/me/courses"' in api.get("/me").text

    number = seed_result(app, learner_id)
    page = api.get("/me/courses")
    assert 'data-lm-status="certified"' in page.text and "data-lm-missing" not in page.text
    assert f'href="/courses/{COURSE_ID}/certificate"' in page.text and f"/verify/{number}" in page.text
    assert "10 พฤศจิกายน พ.ศ. 2568" in page.text
    # Hours per round: 2569/1 (1 October 2568 - 31 March 2569), its dates in B.E.
    assert 'data-lm-round="2569/1"' in page.text and "3 ชั่วโมง" in page.text
    assert "รอบที่ 1 ปีงบประมาณ พ.ศ. 2569 (1 ตุลาคม พ.ศ. 2568 - 31 มีนาคม พ.ศ. 2569)" in page.text
    en = api.get("/me/courses?lang=en").text
    assert "10 Nov B.E. 2568" in en and "Certified" in en


def test_round_boundary_uses_bangkok_time(tmp_path: Path) -> None:
    # 31 March 2569 17:30 UTC is 1 April 00:30 in Bangkok: round 2569/2, shown as 1 เมษายน.
    app = app_for(f"sqlite:///{tmp_path / 'b.db'}")
    api, learner_id = learner(app)
    seed_result(app, learner_id, certified_at=datetime(2026, 3, 31, 17, 30, tzinfo=UTC))
    page = api.get("/me/courses").text
    assert 'data-lm-round="2569/2"' in page and "1 เมษายน พ.ศ. 2569" in page


def test_template_settings_travel_to_workers(tmp_path: Path) -> None:
    s = Settings(courses=tmp_path, certificate_template=TEMPLATE, public_url="https://mooc.example.go.th")
    back = Settings.from_env(s.to_env())
    assert back.certificate_template == TEMPLATE.resolve() and back.public_url == "https://mooc.example.go.th"
    assert replace(s, public_url=None).to_env().get("LOCALMOOC_PUBLIC_URL") is None


def test_a_bad_template_stops_the_server_with_the_file_named(tmp_path: Path) -> None:
    from localmooc_packager.errors import UsageError

    bad = tmp_path / "t.yaml"
    bad.write_text("signatory: x\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"t.yaml: unknown template field\(s\) signatory"):
        app_for(f"sqlite:///{tmp_path / 'x.db'}", certificate_template=bad)


def test_be_date_filter() -> None:
    from localmooc_packager.runtime.web import be_date

    late = datetime(2021, 9, 30, 17, 0, tzinfo=UTC)  # already 1 October in Bangkok
    assert be_date(late) == "1 ตุลาคม พ.ศ. 2564"
    assert be_date(late.replace(tzinfo=None)) == "1 ตุลาคม พ.ศ. 2564"  # SQLite's naive UTC
    assert be_date(late, "th", with_time=True) == "1 ตุลาคม พ.ศ. 2564 เวลา 00:00 น."
    assert be_date(late, "en") == "1 Oct B.E. 2564"
    assert be_date(None) == ""


def test_the_runtime_certifies_and_the_certificate_follows(db_url: str) -> None:
    """No seeded row: the learner studies (the injectable clock moves 5 minutes between activities), passes,
    and the runtime's own course_results row gives the certificate, my courses and the verification."""
    from datetime import timedelta

    from localmooc_packager.runtime.clock import OffsetClock

    clock = OffsetClock()
    app = app_for(db_url, clock=clock)
    api, _learner_id = learner(app)
    units = ("intro", "revenue", "process", "final")

    def view(unit: str) -> None:
        clock.advance(timedelta(minutes=5))
        assert api.get(f"/courses/{COURSE_ID}/units/{unit}").status_code == 200

    view("intro")
    clock.advance(timedelta(minutes=1))  # the video's length has passed since the view
    watched = api.post(f"/api/courses/{COURSE_ID}/blocks/intro-video/handler/watched_handler", json={})
    assert watched.status_code == 200, watched.text
    assert api.submit("pre", {"q1": False, "q2": "b"}).status_code == 200
    view("revenue")
    assert api.submit("revenue-check", {"q1": "a"}).status_code == 200
    view("process")
    assert api.submit("process-quiz", {"q1": "b"}).status_code == 200
    view("final")
    assert api.submit("post", POST_RIGHT).status_code == 200
    page = api.get("/me/courses").text
    assert 'data-lm-status="completed"' in page and "ใช้เวลาเรียนให้ครบ" in page
    assert api.get(f"/courses/{COURSE_ID}/certificate").status_code == 403
    for i in range(20):  # more study: 5 minutes a view until the 90 minutes are met
        view(units[i % 4])
    page = api.get("/me/courses").text
    assert 'data-lm-status="certified"' in page, page
    r = api.get(f"/courses/{COURSE_ID}/certificate")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    number = re.search(r'filename="certificate-(LM-[0-9A-Z-]+)\.pdf"', r.headers["content-disposition"])
    assert number is not None
    v = Api(app).get(f"/api/verify/{number[1]}").json()
    assert v["status"] == "valid" and v["holder_name"] == NAME and v["credited_hours"] == 3.0


# ---- the look-up limit of the public verification


def _client(app: Any, host: str) -> Any:
    import warnings

    from fastapi.testclient import TestClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TestClient(app, client=(host, 50000))


def test_verification_is_limited_per_client_across_nodes(db_url: str) -> None:
    """LOCALMOOC_VERIFY_LIMIT look-ups per client and minute, counted in the database: two apps on one
    database (two nodes) share the count; then 429 with Retry-After in every form (page, JSON, API)."""
    node_a, node_b = app_for(db_url, verify_limit=3), app_for(db_url, verify_limit=3)
    try:
        _api, lid = learner(node_a)
        number = seed_result(node_a, lid)
        a, b = _client(node_a, "203.0.113.7"), _client(node_b, "203.0.113.7")
        assert a.get(f"/verify/{number}").status_code == 200
        assert b.get(f"/api/verify/{number}").status_code == 200
        assert a.get(f"/verify/{number}", params={"format": "json"}).status_code == 200

        api = b.get(f"/api/verify/{number}")
        assert api.status_code == 429
        wait = int(api.headers["retry-after"])
        assert 1 <= wait <= 60
        assert api.json() == {
            "detail": "verify_throttled",
            "message": f"ตรวจสอบเกียรติบัตรถี่เกินไป กรุณารอ {wait} วินาทีแล้วลองใหม่",
        }
        page = a.get(f"/verify/{number}")
        assert page.status_code == 429 and 1 <= int(page.headers["retry-after"]) <= 60
        assert "ตรวจสอบเกียรติบัตรถี่เกินไป" in page.text and NAME not in page.text
        j = a.get(f"/verify/{number}", headers={"accept": "application/json"})
        assert (
            j.status_code == 429 and j.json()["detail"] == "verify_throttled" and "retry-after" in j.headers
        )
        en = b.get(f"/api/verify/{number}", params={"lang": "en"})
        assert en.json()["message"].startswith("Too many certificate checks; wait ")

        # Another client address has its own count; the form page itself is not a look-up.
        assert _client(node_b, "198.51.100.4").get(f"/api/verify/{number}").status_code == 200
        assert a.get("/verify").status_code == 200

        # The window ends (moved into the past here, rather than waiting a minute): look-ups go through.
        from localmooc_packager.runtime.security import verify_key
        from localmooc_packager.runtime.storage.schema import login_throttle

        with node_a.state.store.write() as conn:
            conn.execute(
                update(login_throttle)
                .where(login_throttle.c.key == verify_key("203.0.113.7"))
                .values(wait_until=datetime(2020, 1, 1, tzinfo=UTC))
            )
        assert b.get(f"/api/verify/{number}").json()["status"] == "valid"
    finally:
        node_a.state.store.dispose()
        node_b.state.store.dispose()


def test_verify_limit_setting(db_url: str) -> None:
    from localmooc_packager.errors import UsageError
    from localmooc_packager.runtime.settings import verify_limit

    assert verify_limit(None) == 30 and verify_limit("120") == 120 and verify_limit("0") == 0
    for wrong in ("-1", "many", "1.5"):
        with pytest.raises(UsageError, match="LOCALMOOC_VERIFY_LIMIT"):
            verify_limit(wrong)
    env = {"LOCALMOOC_COURSES": ".", "LOCALMOOC_VERIFY_LIMIT": "7"}
    assert Settings.from_env(env).verify_limit == 7
    assert Settings.from_env(Settings(courses=Path("."), verify_limit=0).to_env()).verify_limit == 0
    assert "LOCALMOOC_VERIFY_LIMIT" not in Settings(courses=Path(".")).to_env()  # the environment's stands
    # 0: no limit, and nothing counted.
    app = app_for(db_url, verify_limit=0)
    try:
        c = _client(app, "203.0.113.9")
        assert all(c.get("/api/verify/LM-2568-AAAA-BBBB-CCCC").status_code == 404 for _ in range(5))
        from localmooc_packager.runtime.storage.schema import login_throttle

        with app.state.store.read() as conn:
            assert conn.execute(select(login_throttle)).all() == []
    finally:
        app.state.store.dispose()


# ---- the catalogue card says where the learner stands


def test_catalogue_cards_show_the_learners_standing(db_url: str) -> None:
    app = app_for(db_url)
    try:
        api, learner_id = learner(app)

        def card() -> tuple[str, str]:
            html = api.get("/").text
            m = re.search(
                rf'data-lm-course="{COURSE_ID}".*?data-lm-standing="([a-z]+)">([^<]+)</strong>', html, re.S
            )
            assert m is not None, html
            api_card = [c for cat in api.get("/api/courses").json() for c in cat["courses"]]
            assert [c["standing"] for c in api_card if c["id"] == COURSE_ID] == [m.group(1)]
            return m.group(1), m.group(2)

        assert 'data-lm-standing="' not in Api(app).get("/").text  # not signed in: no standing
        assert card() == ("enrolled", "ลงทะเบียนแล้ว")
        r = course_results.c
        done = datetime(2025, 11, 5, tzinfo=UTC)
        with app.state.store.write() as conn:
            where = (r.learner_id == learner_id) & (r.course_id == COURSE_ID)
            conn.execute(update(course_results).where(where).values(content_completed_at=done))
        assert card() == ("completed", "เรียนครบทุกส่วนแล้ว")  # the post-test and the time are still due
        with app.state.store.write() as conn:  # every rule met, the certificate not (yet) issued
            conn.execute(
                update(course_results)
                .where(where)
                .values(post_test_passed_at=done, post_test_score=100.0, study_seconds=95 * 60)
            )
        assert card() == ("finished", "เรียนจบแล้ว")
        number = seed_result(app, learner_id)
        assert card() == ("certified", "ได้รับเกียรติบัตรแล้ว")  # not the old "ลงทะเบียนแล้ว"
        assert api.get("/?lang=en").text.count("Certificate earned") == 1
        api.get("/?lang=th")  # back to Thai (the choice is kept in a cookie)
        admin = admin_client(app)
        assert (
            admin.post(f"/api/admin/certificates/{number}/revoke", json={"reason": "ออกผิดคน"}).status_code
            == 200
        )
        assert card() == ("revoked", "เกียรติบัตรถูกเพิกถอน")
    finally:
        app.state.store.dispose()
