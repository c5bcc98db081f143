"""The HR round report and certificate verification on seeded data, on SQLite and PostgreSQL, checked against
hand-computed expectations at the round boundaries (Bangkok midnight of 31 Mar/1 Apr and 30 Sep/1 Oct)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import DateTime, Integer, String, column, create_engine, delete, table

from localmooc_packager.results.report import COLUMNS, Filters, run_report, write
from localmooc_packager.results.rounds import parse_round
from localmooc_packager.results.schema import anonymise_learner, course_results, metadata
from localmooc_packager.results.verify import Status, verify
from localmooc_packager.runtime.server import upgrade

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from pgtools import PG_URL, throwaway_database, unreachable  # noqa: E402

SECOND = timedelta(seconds=1)
CREATED = datetime(2021, 1, 1, tzinfo=UTC)

learners = table(
    "learners", column("id", String), column("role", String), column("created_at", DateTime(timezone=True))
)
identities = table(
    "identities",
    *(column(c, String) for c in ("learner_id", "username", "name", "org_type", "organisation", "province")),
    column("lawful_basis", String),
    column("password_hash", String),
    column("failed_logins", Integer),
)


def bkk(*args: int) -> datetime:
    """A Bangkok wall-clock time as a UTC instant."""
    return datetime(*args, tzinfo=UTC) - timedelta(hours=7)


PEOPLE = {
    # id: (username, name, org type, organisation, province)
    "a" * 32: ("somchai", "สมชาย ใจดี", "local-admin-org", "เทศบาลนครเชียงใหม่", "เชียงใหม่"),
    "b" * 32: ("somying", "สมหญิง รักเรียน", "local-admin-org", "เทศบาลนครเชียงใหม่", "เชียงใหม่"),
    "c" * 32: ("prasert", "ประเสริฐ มั่นคง", "dla-provincial", "สถจ.ลำพูน", "ลำพูน"),
    "d" * 32: ("dao", "ดาว ลาออก", "public", "", "ขอนแก่น"),  # erased below
    "e" * 32: ("ekachai", "เอกชัย กลางกรม", "dla-central", "กองการเจ้าหน้าที่", "กรุงเทพมหานคร"),
}
A, B, C, D, E = (ch * 32 for ch in "abcde")
# (learner, course, certified_at, hours, post-test %, grade %, certificate number, revoked)
RESULTS = [
    (
        A,
        "budget",
        bkk(2021, 4, 1),
        3.0,
        90.0,
        85.0,
        "LM-2564-0000-0000-0001",
        False,
    ),  # first instant of 2564/2
    (
        A,
        "pdpa",
        bkk(2021, 10, 1) - SECOND,
        2.0,
        80.0,
        82.5,
        "LM-2564-0000-0000-0002",
        False,
    ),  # last of 2564/2
    (B, "budget", bkk(2021, 4, 1) - SECOND, 3.0, 70.0, 75.0, "LM-2564-0000-0000-0003", False),  # 2564/1
    (B, "pdpa", bkk(2021, 10, 1), 2.0, 100.0, 100.0, "LM-2565-0000-0000-0004", False),  # 2565/1
    (B, "law", bkk(2021, 6, 15, 10), 1.5, 60.0, 60.0, "LM-2564-0000-0000-0005", True),  # revoked
    (C, "budget", bkk(2021, 5, 5, 14), 3.0, 95.0, 91.0, "LM-2564-0000-0000-0006", False),
    (C, "pdpa", None, None, None, None, None, False),  # content done, not certified
    (D, "budget", bkk(2021, 7, 1, 8), 3.0, 85.0, 80.0, "LM-2564-0000-0000-0007", False),  # learner erased
    (E, "pdpa", datetime(2021, 4, 1, 0, 0, tzinfo=UTC), 2.0, 75.0, 78.0, "LM-2564-0000-0000-0008", False),
]


def _numbers_with_checks() -> dict[str, str]:
    """The seeded numbers with a valid check character (the verification reads only well-formed ones)."""
    from localmooc_packager.results.certno import check_char

    out = {}
    for r in RESULTS:
        if r[6]:  # LM-YYYY-0000-0000-000N: N becomes the last random character, then the check character
            year, body = r[6][3:7], "0000000000" + r[6][-1]
            out[r[6]] = f"LM-{year}-{body[:4]}-{body[4:8]}-{body[8:]}{check_char(year + body)}"
    return out


NUMBERS = _numbers_with_checks()


def seed(url: str) -> None:
    upgrade(url)  # the runtime's own migrations: learners, identities, ...
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for lid, (username, name, org_type, organisation, province) in PEOPLE.items():
            conn.execute(learners.insert().values(id=lid, role="learner", created_at=CREATED))
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
                    content_completed_at=bkk(2021, 3, 1),
                    certified_at=at,
                    study_seconds=5400,
                    post_test_score=post,
                    grade=grade,
                    credited_hours=hours,
                    certificate_no=NUMBERS.get(number or ""),
                    revoked_at=bkk(2021, 8, 1) if revoked else None,
                    erased=False,
                )
            )
        # PDPA erasure as the runtime does it: keep the grouping fields on the results, then drop the identity.
        assert anonymise_learner(conn, D) == 1
        conn.execute(delete(identities).where(identities.c.learner_id == D))
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'runtime.db'}"
        seed(url)
        yield url
        return
    why = unreachable(PG_URL)
    if why:
        pytest.skip(why)
    with throwaway_database(PG_URL, "lm_results") as url:
        seed(url)
        yield url


def keyed(report: object) -> list[tuple[str | None, str, float | None]]:
    return [(r["name"], r["course_id"], r["credited_hours"]) for r in report.rows]  # type: ignore[attr-defined]


def test_round_2564_2_at_both_boundaries(db: str) -> None:
    report = run_report(db, parse_round("2564/2"))
    # In: A/budget at 1 Apr 00:00 Bangkok, A/pdpa at 30 Sep 23:59:59, C/budget, D/budget (erased), E/pdpa at
    # 1 Apr 07:00 Bangkok. Out: B/budget 31 Mar 23:59:59 (2564/1), B/pdpa 1 Oct 00:00 (2565/1), B/law
    # (revoked), C/pdpa (not certified).
    assert keyed(report) == [
        ("เอกชัย กลางกรม", "pdpa", 2.0),
        ("ประเสริฐ มั่นคง", "budget", 3.0),
        ("สมชาย ใจดี", "budget", 3.0),
        ("สมชาย ใจดี", "pdpa", 2.0),
        ("(ลบข้อมูลส่วนบุคคลแล้ว)", "budget", 3.0),
    ]
    first = report.rows[2]
    assert first == {
        "seq": 3,
        "learner_id": A,
        "name": "สมชาย ใจดี",
        "username": "somchai",
        "org_type": "local-admin-org",
        "org_type_th": "องค์กรปกครองส่วนท้องถิ่น (อบจ. เทศบาล อบต. กทม. เมืองพัทยา)",
        "organisation": "เทศบาลนครเชียงใหม่",
        "province": "เชียงใหม่",
        "course_id": "budget",
        "course_title": "",
        "certified_at": "2021-03-31T17:00:00Z",
        "certified_on": "1 เมษายน พ.ศ. 2564",
        "credited_hours": 3.0,
        "post_test_score": 90.0,
        "grade": 85.0,
        "certificate_no": NUMBERS["LM-2564-0000-0000-0001"],
        "learner_round_hours": 5.0,
        "erased": False,
    }
    assert report.rows[3]["certified_on"] == "30 กันยายน พ.ศ. 2564"
    erased = report.rows[4]
    assert (erased["learner_id"], erased["username"], erased["certificate_no"], erased["organisation"]) == (
        None,
        None,
        None,
        None,
    )
    assert (erased["org_type"], erased["province"], erased["erased"]) == ("public", "ขอนแก่น", True)
    assert (erased["post_test_score"], erased["grade"], erased["credited_hours"]) == (None, None, 3.0)
    assert [
        (t["org_type"], t["province"], t["learners"], t["completions"], t["hours"]) for t in report.totals
    ] == [
        ("dla-central", "กรุงเทพมหานคร", 1, 1, 2.0),
        ("dla-provincial", "ลำพูน", 1, 1, 3.0),
        ("local-admin-org", "เชียงใหม่", 1, 2, 5.0),
        ("public", "ขอนแก่น", 1, 1, 3.0),
    ]
    assert report.totals[3]["erased_completions"] == 1
    assert report.grand_total == {"learners": 4, "completions": 5, "hours": 13.0, "erased_completions": 1}


def test_neighbouring_rounds(db: str) -> None:
    r1 = run_report(db, parse_round("2564/1"))
    assert keyed(r1) == [("สมหญิง รักเรียน", "budget", 3.0)]
    assert r1.rows[0]["certified_on"] == "31 มีนาคม พ.ศ. 2564"
    r3 = run_report(db, parse_round("2565/1"))
    assert keyed(r3) == [("สมหญิง รักเรียน", "pdpa", 2.0)]
    assert r3.rows[0]["certified_on"] == "1 ตุลาคม พ.ศ. 2564"
    empty = run_report(db, parse_round("2563/2"))
    assert empty.rows == [] and empty.totals == []
    assert empty.grand_total == {"learners": 0, "completions": 0, "hours": 0.0, "erased_completions": 0}


def test_filters(db: str) -> None:
    rnd = parse_round("2564/2")
    by_province = run_report(db, rnd, Filters(provinces=("เชียงใหม่",)))
    assert keyed(by_province) == [("สมชาย ใจดี", "budget", 3.0), ("สมชาย ใจดี", "pdpa", 2.0)]
    # The erased learner's row is still found by the organisation type and province it had.
    public = run_report(db, rnd, Filters(org_types=("public",), provinces=("ขอนแก่น",)))
    assert keyed(public) == [("(ลบข้อมูลส่วนบุคคลแล้ว)", "budget", 3.0)]
    budget = run_report(db, rnd, Filters(courses=("budget",)))
    assert [r["course_id"] for r in budget.rows] == ["budget"] * 3
    assert budget.grand_total == {"learners": 3, "completions": 3, "hours": 9.0, "erased_completions": 1}
    both = run_report(db, rnd, Filters(org_types=("dla-central", "dla-provincial")))
    assert [t["org_type"] for t in both.totals] == ["dla-central", "dla-provincial"]


def test_verification(db: str) -> None:
    engine = create_engine(db)
    with engine.connect() as conn:
        ok = verify(conn, NUMBERS["LM-2564-0000-0000-0001"].lower().replace("-", " "))
        assert (ok.status, ok.holder_name, ok.course_id, ok.credited_hours) == (
            Status.VALID,
            "สมชาย ใจดี",
            "budget",
            3.0,
        )
        assert ok.certified_at == bkk(2021, 4, 1)
        revoked = verify(conn, NUMBERS["LM-2564-0000-0000-0005"])
        assert (revoked.status, revoked.holder_name) == (Status.REVOKED, None)
        assert revoked.revoked_at == bkk(2021, 8, 1)
        assert revoked.message_th == "เกียรติบัตรนี้ถูกเพิกถอนแล้ว"
        gone = verify(conn, NUMBERS["LM-2564-0000-0000-0007"])
        assert (gone.status, gone.holder_name, gone.course_id) == (Status.HOLDER_ERASED, None, "budget")
        from localmooc_packager.results.certno import new_number

        assert verify(conn, new_number(2564)).status is Status.NOT_FOUND
        typo = NUMBERS["LM-2564-0000-0000-0001"][:-1] + (
            "A" if NUMBERS["LM-2564-0000-0000-0001"][-1] != "A" else "B"
        )
        assert verify(conn, typo).status is Status.MALFORMED
    engine.dispose()


def test_outputs_csv_xlsx_json(db: str, tmp_path: Path) -> None:
    report = run_report(db, parse_round("2564/2"), titles={"budget": "งบประมาณท้องถิ่นเบื้องต้น"})
    write(report, "csv", tmp_path / "r.csv")
    raw = (tmp_path / "r.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens UTF-8 Thai correctly
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == [
        "รายงานผลการเรียน รอบที่ 2 ปีงบประมาณ พ.ศ. 2564 (1 เมษายน พ.ศ. 2564 - 30 กันยายน พ.ศ. 2564)"
    ]
    header = rows.index([th for _k, th in COLUMNS])
    body = rows[header + 1 : header + 6]
    assert body[2][:3] == ["3", "สมชาย ใจดี", "somchai"]
    assert body[2][7:10] == ["งบประมาณท้องถิ่นเบื้องต้น", "1 เมษายน พ.ศ. 2564", "3.0"]
    assert rows[header + 6] == []
    assert rows[-1] == ["รวมทั้งหมด", "", "4", "5", "13.0", "1"]

    write(report, "xlsx", tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)
    assert wb.sheetnames == ["รายบุคคล", "สรุป"]
    people = [list(r) for r in wb["รายบุคคล"].iter_rows(values_only=True)]
    assert people[2] == [th for _k, th in COLUMNS]
    assert people[5][1] == "สมชาย ใจดี" and people[5][9] == 3
    summary = [list(r) for r in wb["สรุป"].iter_rows(values_only=True)]
    assert summary[-1][:6] == ["รวมทั้งหมด", None, 4, 5, 13, 1]
    wb.close()

    write(report, "json", tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (data["round"], data["start"], data["end"]) == (
        "2564/2",
        "2021-03-31T17:00:00Z",
        "2021-09-30T17:00:00Z",
    )
    assert data["grand_total"]["completions"] == 5
    assert data["rows"][4]["learner_id"] is None and data["rows"][4]["erased"] is True
    assert "สมชาย" in (tmp_path / "r.json").read_text(encoding="utf-8")  # not \\u escapes

    # Streamed from the database straight to the file (what the CLI does): the same bytes, every format
    # but xlsx (whose zip carries timestamps).
    for fmt in ("csv", "json"):
        streamed = run_report(
            db,
            parse_round("2564/2"),
            titles={"budget": "งบประมาณท้องถิ่นเบื้องต้น"},
            fmt=fmt,
            out=tmp_path / f"s.{fmt}",
        )
        assert streamed.grand_total == report.grand_total
        assert (tmp_path / f"s.{fmt}").read_bytes() == (tmp_path / f"r.{fmt}").read_bytes()


def test_sqlite_and_postgresql_write_the_same_bytes(tmp_path: Path) -> None:
    """The benchmark's generated data (erased learners among others in a group, Thai names) on both databases:
    the same CSV and JSON, byte for byte (NULL placement and text collation made explicit)."""
    why = unreachable(PG_URL)
    if why:
        pytest.skip(why)
    import bench_report

    def prepare(url: str) -> None:
        upgrade(url)
        engine = create_engine(url)
        metadata.create_all(engine)
        engine.dispose()
        bench_report.seed(url, 400, 6)

    rnd = parse_round("2564/2")
    sqlite_url = f"sqlite:///{tmp_path / 'gen.db'}"
    prepare(sqlite_url)
    with throwaway_database(PG_URL, "lm_results_cmp") as pg_url:
        prepare(pg_url)
        for fmt in ("csv", "json"):
            run_report(sqlite_url, rnd, fmt=fmt, out=tmp_path / f"sqlite.{fmt}")
            run_report(pg_url, rnd, fmt=fmt, out=tmp_path / f"pg.{fmt}")
            assert (tmp_path / f"sqlite.{fmt}").read_bytes() == (tmp_path / f"pg.{fmt}").read_bytes()
    data = json.loads((tmp_path / "pg.json").read_text(encoding="utf-8"))
    assert data["grand_total"]["erased_completions"] > 0 and len(data["rows"]) > 100
