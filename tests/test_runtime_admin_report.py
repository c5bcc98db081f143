"""The round report in the admin UI (issue 13, item 3): the page and its downloads come from
results/report.py, so they must say exactly what ``localmooc report`` says, on seeded course_results rows that
sit on both sides of the round boundaries (Bangkok midnight of 31 March / 1 April and 30 September /
1 October). On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from lxml import html
from runtime_support import COURSE_ID, SAMPLE, Api, db_url, make_app, pg_database  # noqa: F401
from sqlalchemy import delete

from localmooc_packager.results.rounds import round_of
from localmooc_packager.results.schema import anonymise_learner, course_results
from localmooc_packager.runtime.storage.schema import identities, learners

ROOT = Path(__file__).resolve().parents[1]
SECOND = timedelta(seconds=1)


def bkk(*args: int) -> datetime:
    """A Bangkok wall-clock time as a UTC instant."""
    return datetime(*args, tzinfo=UTC) - timedelta(hours=7)


PEOPLE = {
    "a" * 32: ("somchai", "สมชาย ใจดี", "local-admin-org", "เทศบาลนครเชียงใหม่", "เชียงใหม่"),
    "b" * 32: ("somying", "สมหญิง รักเรียน", "local-admin-org", "เทศบาลนครเชียงใหม่", "เชียงใหม่"),
    "c" * 32: ("prasert", "ประเสริฐ มั่นคง", "dla-provincial", "สถจ.ลำพูน", "ลำพูน"),
    "d" * 32: ("dao", "ดาว ลาออก", "public", "", "ขอนแก่น"),  # erased below
}
A, B, C, D = (ch * 32 for ch in "abcd")
# (learner, course, certified_at, hours, post-test %, grade %, certificate number, revoked)
RESULTS = [
    (A, COURSE_ID, bkk(2021, 4, 1), 3.0, 90.0, 85.0, "LM-T-01", False),  # first instant of 2564/2
    (A, "pdpa", bkk(2021, 10, 1) - SECOND, 2.0, 80.0, 82.5, "LM-T-02", False),  # last instant of 2564/2
    (B, COURSE_ID, bkk(2021, 4, 1) - SECOND, 3.0, 70.0, 75.0, "LM-T-03", False),  # last instant of 2564/1
    (B, "pdpa", bkk(2021, 10, 1), 2.0, 100.0, 100.0, "LM-T-04", False),  # first instant of 2565/1
    (B, "law", bkk(2021, 6, 15, 10), 1.5, 60.0, 60.0, "LM-T-05", True),  # revoked: never counts
    (C, COURSE_ID, bkk(2021, 5, 5, 14), 3.0, 95.0, 91.0, "LM-T-06", False),
    (C, "pdpa", None, None, None, None, None, False),  # not certified
    (D, COURSE_ID, bkk(2021, 7, 1, 8), 3.0, 85.0, 80.0, "LM-T-07", False),  # learner erased
]
# Hand-computed: which certificates each round counts.
EXPECTED = {"2564/1": {"LM-T-03"}, "2564/2": {"LM-T-01", "LM-T-02", "LM-T-06", None}, "2565/1": {"LM-T-04"}}


@pytest.fixture
def app(db_url: str) -> Any:  # noqa: F811
    a = make_app(db_url)
    with a.state.store.write() as conn:
        for lid, (username, name, org_type, organisation, province) in PEOPLE.items():
            conn.execute(learners.insert().values(id=lid, role="learner", created_at=bkk(2021, 1, 5)))
            conn.execute(
                identities.insert().values(
                    learner_id=lid,
                    username=username,
                    name=name,
                    org_type=org_type,
                    organisation=organisation,
                    province=province,
                    lawful_basis="public-task",
                    password_hash="x",
                    failed_logins=0,
                )
            )
        for lid, course, at, hours, post, grade, number, revoked in RESULTS:
            conn.execute(
                course_results.insert().values(
                    learner_id=lid,
                    course_id=course,
                    certified_at=at,
                    study_seconds=5400,
                    post_test_score=post,
                    grade=grade,
                    credited_hours=hours,
                    certificate_no=number,
                    revoked_at=bkk(2021, 8, 1) if revoked else None,
                    erased=False,
                )
            )
        assert anonymise_learner(conn, D) == 1  # erasure as the runtime does it
        conn.execute(delete(identities).where(identities.c.learner_id == D))
    yield a
    a.state.store.dispose()


def admin(app: Any) -> Api:
    api = Api(app)
    api.learner("boss")
    app.state.store.set_role("boss", "admin")
    return api


def cli_report(db: str, out: Path, fmt: str, query: dict[str, str]) -> bytes:
    """``localmooc report`` as an operator runs it, with the same filters as the page."""
    args = ["report", "--round", query["round"], "--db", db, "--format", fmt, "-o", str(out)]
    args += ["--courses-dir", str(SAMPLE)]
    for key, option in (("org_type", "--org-type"), ("province", "--province"), ("course", "--course")):
        if key in query:
            args += [option, query[key]]
    proc = subprocess.run(
        [sys.executable, "-m", "localmooc_packager", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


def text(value: Any) -> str:
    return "" if value is None else str(value)


QUERIES = [
    {"round": "2564/2"},
    {"round": "2564/1"},
    {"round": "2565/1"},
    {"round": "2564/2", "org_type": "local-admin-org"},
    {"round": "2564/2", "province": "ลำพูน"},
    {"round": "2564/2", "course": COURSE_ID},
]


def test_the_admin_page_says_what_localmooc_report_says(app: Any, db_url: str, tmp_path: Path) -> None:  # noqa: F811
    boss = admin(app)
    for query in QUERIES:
        want = json.loads(cli_report(db_url, tmp_path / "r.json", "json", query))
        r = boss.get(f"/admin/report?{urlencode(query)}")
        assert r.status_code == 200, r.text
        doc = html.fromstring(r.text)
        assert doc.xpath('//*[@data-lm="report-round"]')[0].text_content() == want["round_label"]
        headers = [th.text_content() for th in doc.xpath('//table[@data-lm="report-rows"]/thead//th')]
        keys = list(want["columns"])
        if want["rows"]:
            assert headers == [want["columns"][k] for k in keys]  # the Thai headers of results/report.py
        got_rows = [
            [td.text_content() for td in tr.xpath("./td")]
            for tr in doc.xpath('//table[@data-lm="report-rows"]/tbody/tr')
        ]
        want_rows = [
            [text(row["org_type_th" if k == "org_type" else k]) for k in keys] for row in want["rows"]
        ]
        assert got_rows == want_rows, query
        got_totals = [
            [c.text_content() for c in tr.xpath("./th|./td")]
            for tr in doc.xpath('//table[@data-lm="report-totals"]/tbody/tr')
        ]
        want_totals = [
            [t["org_type_th"], t["province"], str(t["learners"]), str(t["completions"]), f"{t['hours']:g}",
             str(t["erased_completions"])]
            for t in want["totals"]
        ]  # fmt: skip
        assert got_totals == want_totals, query
        grand = [c.text_content() for c in doc.xpath('//tr[@data-lm="report-grand-total"]/*')]
        g = want["grand_total"]
        assert grand[2:] == [
            str(g["learners"]),
            str(g["completions"]),
            f"{g['hours']:g}",
            str(g["erased_completions"]),
        ]
        # The round boundaries, against the hand-computed sets (filters narrow them).
        if len(query) == 1:
            assert {row["certificate_no"] for row in want["rows"]} == EXPECTED[query["round"]]


def test_round_boundaries_on_the_page(app: Any) -> None:
    boss = admin(app)
    page = boss.get("/admin/report?round=2564/2").text
    assert "LM-T-01" in page and "LM-T-02" in page  # 00:00 on 1 April and 23:59:59 on 30 September
    assert "LM-T-03" not in page and "LM-T-04" not in page  # one second either side
    assert "LM-T-05" not in page  # revoked
    assert "(ลบข้อมูลส่วนบุคคลแล้ว)" in page  # the erased learner still counts, anonymously
    grand = html.fromstring(page).xpath('//tr[@data-lm="report-grand-total"]/td')
    assert [c.text_content() for c in grand[1:]] == ["3", "4", "11", "1"]  # learners, courses, hours, erased


def test_downloads_are_the_files_localmooc_report_writes(app: Any, db_url: str, tmp_path: Path) -> None:  # noqa: F811
    boss = admin(app)
    query = {"round": "2564/2", "org_type": "local-admin-org"}
    for fmt in ("csv", "json", "xlsx"):
        cli = cli_report(db_url, tmp_path / f"r.{fmt}", fmt, query)
        r = boss.get(f"/admin/report/download?{urlencode({**query, 'format': fmt})}")
        assert r.status_code == 200
        assert r.headers["content-disposition"] == f'attachment; filename="report-2564-2.{fmt}"'
        if fmt == "xlsx":  # the workbook's creation time differs; its sheets and strings must not
            a, b = zipfile.ZipFile(io.BytesIO(r.content)), zipfile.ZipFile(io.BytesIO(cli))
            parts = [n for n in a.namelist() if n.startswith("xl/")]
            assert "xl/sharedStrings.xml" in parts or "xl/worksheets/sheet1.xml" in parts
            assert parts == [n for n in b.namelist() if n.startswith("xl/")]
            for name in parts:
                assert a.read(name) == b.read(name), name
        else:
            assert r.content == cli, fmt
    assert boss.get("/admin/report/download?round=2564/2&format=pdf").status_code == 404


def test_the_round_defaults_to_the_current_one_and_bad_filters_are_named(app: Any) -> None:
    boss = admin(app)
    doc = html.fromstring(boss.get("/admin/report").text)
    assert doc.xpath('//input[@id="round"]/@value') == [str(round_of(datetime.now(UTC)))]
    assert doc.xpath('//*[@data-lm="report-empty"]')  # nothing seeded in the current round
    r = boss.get("/admin/report?round=2021/2")
    assert r.status_code == 422 and "C.E. year" in r.text
    r = boss.get("/admin/report?round=2564/2&province=Atlantis")
    assert r.status_code == 422 and "Atlantis" in r.text
    assert boss.get("/admin/report/download?round=2564/3&format=csv").status_code == 422


def test_a_long_round_shows_its_first_rows_and_all_totals(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from localmooc_packager.runtime.routes import admin as admin_routes

    monkeypatch.setattr(admin_routes, "PAGE_ROWS", 2)
    doc = html.fromstring(admin(app).get("/admin/report?round=2564/2").text)
    assert len(doc.xpath('//table[@data-lm="report-rows"]/tbody/tr')) == 2
    assert "2 แถวแรกจาก 4 แถว" in doc.xpath('//*[@data-lm="report-cut"]')[0].text_content()
    grand = doc.xpath('//tr[@data-lm="report-grand-total"]/td')
    assert [c.text_content() for c in grand[1:3]] == ["3", "4"]  # the totals still cover every row
