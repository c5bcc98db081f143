"""HR reports per evaluation round: who completed which course in the round, with hours, scores and certificate
numbers, and totals by organisation type and province. Computed in SQL (SQLite and PostgreSQL alike).

A course counts in a round when its certificate was earned (``certified_at``, every rule met) inside the round,
cut at Bangkok midnight, and has not been revoked. Rows of erased learners still count: they appear without name
or certificate number, grouped by the organisation type and province kept on the row at erasure.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, case, create_engine, func, literal, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from ..errors import LocalMoocError, UsageError
from .rounds import Round
from .schema import course_results, identities
from .thaidate import format_date

FORMATS = ("csv", "xlsx", "json")
ERASED_NAME = "(ลบข้อมูลส่วนบุคคลแล้ว)"

# (key, Thai header) of the per-learner rows, in output order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "ลำดับ"),
    ("name", "ชื่อ-นามสกุล"),
    ("username", "ชื่อผู้ใช้"),
    ("org_type", "ประเภทองค์กร"),
    ("organisation", "หน่วยงาน/สังกัด"),
    ("province", "จังหวัด"),
    ("course_id", "รหัสหลักสูตร"),
    ("course_title", "ชื่อหลักสูตร"),
    ("certified_on", "วันที่ผ่านหลักสูตร"),
    ("credited_hours", "ชั่วโมงที่ได้รับ"),
    ("post_test_score", "คะแนนหลังเรียน (%)"),
    ("grade", "คะแนนรวม (%)"),
    ("certificate_no", "เลขที่วุฒิบัตร"),
    ("learner_round_hours", "ชั่วโมงรวมของผู้เรียนในรอบ"),
)
TOTAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("org_type", "ประเภทองค์กร"),
    ("province", "จังหวัด"),
    ("learners", "จำนวนผู้เรียน (คน)"),
    ("completions", "จำนวนหลักสูตรที่ผ่าน"),
    ("hours", "ชั่วโมงรวม"),
    ("erased_completions", "ในจำนวนนี้: ผู้เรียนที่ลบข้อมูลแล้ว"),
)
ALL_LABEL = "รวมทั้งหมด"


class ReportError(LocalMoocError):
    """The report could not be made (database unreachable, tables missing); nothing was written."""


@dataclass(frozen=True)
class Filters:
    org_types: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    courses: tuple[str, ...] = ()


@dataclass
class RoundReport:
    round: Round
    filters: Filters
    rows: list[dict[str, Any]] = field(default_factory=list)  # per learner and course
    totals: list[dict[str, Any]] = field(default_factory=list)  # per organisation type and province
    grand_total: dict[str, Any] = field(default_factory=dict)


def org_type_labels() -> dict[str, str]:
    """Thai names of the runtime's organisation types (the runtime owns the vocabulary)."""
    from ..runtime.i18n import ORG_TYPES

    return {key: th for key, th, _en, _basis in ORG_TYPES}


def _conditions(rnd: Round, filters: Filters, org_type: Any, province: Any) -> list[Any]:
    r = course_results.c
    where = [r.certified_at >= rnd.start, r.certified_at < rnd.end, r.revoked_at.is_(None)]
    if filters.org_types:
        where.append(org_type.in_(filters.org_types))
    if filters.provinces:
        where.append(province.in_(filters.provinces))
    if filters.courses:
        where.append(r.course_id.in_(filters.courses))
    return where


def queries(rnd: Round, filters: Filters) -> tuple[Any, Any, Any]:
    """The three statements of a report: per-learner rows, totals per (org type, province), grand total."""
    r, i = course_results.c, identities.c
    joined = course_results.outerjoin(identities, i.learner_id == r.learner_id)
    # The identity is the truth while it exists; the row's own copy once the learner was erased.
    org_type = func.coalesce(i.org_type, r.org_type, literal("")).label("org_type")
    province = func.coalesce(i.province, r.province, literal("")).label("province")
    erased = (r.erased | i.learner_id.is_(None)).label("erased")
    where = _conditions(rnd, filters, org_type, province)
    hours = func.coalesce(r.credited_hours, 0.0)
    rows = (
        select(
            r.learner_id,
            i.username,
            i.name,
            org_type,
            i.organisation,
            province,
            r.course_id,
            r.certified_at,
            r.credited_hours,
            r.post_test_score,
            r.grade,
            r.certificate_no,
            erased,
            func.sum(hours).over(partition_by=r.learner_id).label("learner_round_hours"),
        )
        .select_from(joined)
        .where(*where)
        .order_by(org_type, province, i.organisation, i.name, r.learner_id, r.course_id)
    )
    erased_one = case((r.erased | i.learner_id.is_(None), 1), else_=0)
    measures = (
        func.count(func.distinct(r.learner_id)).label("learners"),
        func.count().label("completions"),
        func.sum(hours).label("hours"),
        func.sum(erased_one).label("erased_completions"),
    )
    totals = (
        select(org_type, province, *measures)
        .select_from(joined)
        .where(*where)
        .group_by(org_type, province)
        .order_by(org_type, province)
    )
    grand = select(*measures).select_from(joined).where(*where)
    return rows, totals, grand


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def compute(
    conn: Connection, rnd: Round, filters: Filters = Filters(), titles: Mapping[str, str] | None = None
) -> RoundReport:
    """Run the report's statements on ``conn``."""
    titles = titles or {}
    labels = org_type_labels()
    rows_q, totals_q, grand_q = queries(rnd, filters)
    report = RoundReport(rnd, filters)
    for seq, row in enumerate(conn.execute(rows_q), start=1):
        certified = _utc(row.certified_at)
        erased = bool(row.erased)
        report.rows.append(
            {
                "seq": seq,
                "learner_id": None if erased else row.learner_id,
                "name": ERASED_NAME if erased else row.name,
                "username": None if erased else row.username,
                "org_type": row.org_type,
                "org_type_th": labels.get(row.org_type, row.org_type),
                "organisation": None if erased else row.organisation,
                "province": row.province,
                "course_id": row.course_id,
                "course_title": titles.get(row.course_id, ""),
                "certified_at": certified.isoformat().replace("+00:00", "Z"),
                "certified_on": format_date(certified),
                "credited_hours": _num(row.credited_hours),
                "post_test_score": _num(row.post_test_score),
                "grade": _num(row.grade),
                "certificate_no": None if erased else row.certificate_no,
                "learner_round_hours": _num(row.learner_round_hours),
                "erased": erased,
            }
        )
    for row in conn.execute(totals_q):
        report.totals.append(
            {
                "org_type": row.org_type,
                "org_type_th": labels.get(row.org_type, row.org_type),
                "province": row.province,
                "learners": row.learners,
                "completions": row.completions,
                "hours": _num(row.hours) or 0.0,
                "erased_completions": int(row.erased_completions or 0),
            }
        )
    g = conn.execute(grand_q).one()
    report.grand_total = {
        "learners": g.learners,
        "completions": g.completions,
        "hours": _num(g.hours) or 0.0,
        "erased_completions": int(g.erased_completions or 0),
    }
    return report


def open_engine(db_url: str) -> Engine:
    """An engine for ``db_url``; a SQLite file that does not exist is an error, not a new empty database."""
    try:
        url = make_url(db_url)
    except sa_exc.ArgumentError:
        raise UsageError(
            f"--db {db_url!r}: not a database URL (sqlite:///FILE or postgresql+psycopg://...)"
        ) from None
    db_file = url.database if url.get_backend_name() == "sqlite" else None
    if db_file not in (None, "", ":memory:") and not Path(str(db_file)).is_file():
        raise UsageError(f"--db: no SQLite database at {url.database}")
    try:
        return create_engine(url)
    except (sa_exc.ArgumentError, ImportError) as exc:
        raise UsageError(f"--db {url.render_as_string(hide_password=True)}: {exc}") from None


def run_report(
    db_url: str, rnd: Round, filters: Filters = Filters(), titles: Mapping[str, str] | None = None
) -> RoundReport:
    """Open ``db_url``, compute the report in one read transaction, and map database failures to messages."""
    engine = open_engine(db_url)
    where = make_url(db_url).render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            return compute(conn, rnd, filters, titles)
    except sa_exc.OperationalError as exc:
        text = str(exc.orig)
        if "no such table" in text:
            raise ReportError(
                f"{where}: {text.splitlines()[0]}; the runtime's tables and course_results are needed "
                "(run `localmooc db upgrade --db URL`)"
            ) from None
        raise ReportError(f"{where}: {text.splitlines()[0]}") from None
    except sa_exc.ProgrammingError as exc:
        raise ReportError(f"{where}: {str(exc.orig).splitlines()[0]}") from None
    finally:
        engine.dispose()


# ---- writers: each writes to a temporary file next to the target and renames it, so nothing is half-written


def _header_lines(report: RoundReport) -> list[str]:
    f = report.filters
    lines = [f"รายงานผลการเรียน {report.round.label()}"]
    for label, values in (("ประเภทองค์กร", f.org_types), ("จังหวัด", f.provinces), ("หลักสูตร", f.courses)):
        if values:
            lines.append(f"{label}: {', '.join(values)}")
    return lines


def _cells(row: Mapping[str, Any], columns: Sequence[tuple[str, str]]) -> list[Any]:
    out = []
    for key, _th in columns:
        value = row.get("org_type_th") if key == "org_type" else row.get(key)
        out.append("" if value is None else value)
    return out


def _csv_text(report: RoundReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for line in _header_lines(report):
        w.writerow([line])
    w.writerow([])
    w.writerow([th for _k, th in COLUMNS])
    w.writerows(_cells(row, COLUMNS) for row in report.rows)
    w.writerow([])
    w.writerow(["สรุปตามประเภทองค์กรและจังหวัด"])
    w.writerow([th for _k, th in TOTAL_COLUMNS])
    w.writerows(_cells(row, TOTAL_COLUMNS) for row in report.totals)
    w.writerow(_cells({"org_type_th": ALL_LABEL, "province": "", **report.grand_total}, TOTAL_COLUMNS))
    return buf.getvalue()


def as_json(report: RoundReport) -> dict[str, Any]:
    return {
        "round": str(report.round),
        "round_label": report.round.label(),
        "start": report.round.start.isoformat().replace("+00:00", "Z"),
        "end": report.round.end.isoformat().replace("+00:00", "Z"),
        "filters": {
            "org_types": list(report.filters.org_types),
            "provinces": list(report.filters.provinces),
            "courses": list(report.filters.courses),
        },
        "columns": dict(COLUMNS),
        "rows": report.rows,
        "totals": report.totals,
        "grand_total": report.grand_total,
    }


def _write_xlsx(report: RoundReport, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    try:
        bold = wb.add_format({"bold": True, "font_name": "Tahoma"})
        text = wb.add_format({"font_name": "Tahoma"})
        num = wb.add_format({"font_name": "Tahoma", "num_format": "0.00"})
        numeric = {"credited_hours", "post_test_score", "grade", "learner_round_hours", "hours"}
        for title, columns, rows in (
            ("รายบุคคล", COLUMNS, report.rows),
            ("สรุป", TOTAL_COLUMNS, [*report.totals, {"org_type_th": ALL_LABEL, **report.grand_total}]),
        ):
            ws = wb.add_worksheet(title)
            head = _header_lines(report)
            for r, line in enumerate(head):
                ws.write_string(r, 0, line, bold)
            top = len(head) + 1
            for c, (key, th) in enumerate(columns):
                ws.write_string(top, c, th, bold)
                ws.set_column(c, c, 30 if key in {"name", "organisation", "course_title", "org_type"} else 14)
            for r, row in enumerate(rows, start=top + 1):
                for c, value in enumerate(_cells(row, columns)):
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        ws.write_number(r, c, value, num if columns[c][0] in numeric else text)
                    elif value != "":
                        ws.write_string(r, c, str(value), text)
            ws.freeze_panes(top + 1, 0)
    finally:
        wb.close()


def write(report: RoundReport, fmt: str, out: Path) -> None:
    """Write ``report`` as ``fmt`` (csv with a BOM for Excel, xlsx, json) to ``out``, atomically."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if not out.parent.is_dir():
        raise UsageError(f"-o {out}: folder {out.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        if fmt == "xlsx":
            os.close(fd)
            _write_xlsx(report, tmp)
        else:
            with os.fdopen(fd, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as fh:
                if fmt == "csv":
                    fh.write(_csv_text(report))
                else:
                    json.dump(as_json(report), fh, ensure_ascii=False, indent=1)
                    fh.write("\n")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def course_titles(folders: Iterable[Path]) -> dict[str, str]:
    """``{course id: title}`` from course folders (or folders of course folders), reading only course.yaml."""
    import yaml

    titles: dict[str, str] = {}
    for folder in folders:
        files = (
            [folder / "course.yaml"]
            if (folder / "course.yaml").is_file()
            else sorted(folder.glob("*/course.yaml"))
        )
        if not files:
            raise UsageError(f"--courses {folder}: no course.yaml in it or in its sub-folders")
        for f in files:
            try:
                data = yaml.safe_load(f.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise UsageError(f"{f}: cannot read the course title: {exc}") from None
            if isinstance(data, dict) and isinstance(data.get("title"), str):
                titles[str(data.get("id") or f.parent.name)] = data["title"]
    return titles
