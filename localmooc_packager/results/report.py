"""HR reports per evaluation round: who completed which course in the round, with hours, scores and certificate
numbers, and totals by organisation type and province. Computed in SQL (SQLite and PostgreSQL alike).

A course counts in a round when its certificate was earned (``certified_at``, every rule met) inside the round,
cut at Bangkok midnight, and has not been revoked. Rows of erased learners still count: they appear without name
or certificate number, grouped by the organisation type and province kept on the row at erasure.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, case, func, literal, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from ..errors import LocalMoocError, UsageError
from ..runtime.storage.engines import pg_engine
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


# The fields of a report row, in the order _iter_rows produces them (lists, cheaper than dicts per row).
ROW_FIELDS = (
    "seq",
    "learner_id",
    "name",
    "username",
    "org_type",
    "org_type_th",
    "organisation",
    "province",
    "course_id",
    "course_title",
    "certified_at",
    "certified_on",
    "credited_hours",
    "post_test_score",
    "grade",
    "certificate_no",
    "learner_round_hours",
    "erased",
)
_LEARNER_HOURS = ROW_FIELDS.index("learner_round_hours")
# Where each output column comes from (the organisation type is shown by its Thai name).
_COLUMN_INDEX = tuple(ROW_FIELDS.index("org_type_th" if key == "org_type" else key) for key, _th in COLUMNS)


@dataclass
class RoundReport:
    round: Round
    filters: Filters
    # Rows as lists in ROW_FIELDS order: a list from compute(); an iterator, read once, when run_report()
    # streams to a file.
    raw: Iterable[list[Any]] = field(default_factory=list)
    totals: list[dict[str, Any]] = field(default_factory=list)  # per organisation type and province
    grand_total: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts (reads ``raw``: only for a report made by compute())."""
        return [dict(zip(ROW_FIELDS, row, strict=True)) for row in self.raw]


def org_type_labels() -> dict[str, str]:
    """Thai names of the runtime's organisation types (the runtime owns the vocabulary)."""
    from ..runtime.i18n import ORG_TYPES

    return {key: th for key, th, _en, _basis in ORG_TYPES}


def _in_round(rnd: Round, filters: Filters) -> list[Any]:
    """Conditions on course_results alone: the round (half-open, UTC), not revoked, the chosen courses."""
    r = course_results.c
    where = [r.certified_at >= rnd.start, r.certified_at < rnd.end, r.revoked_at.is_(None)]
    if filters.courses:
        where.append(r.course_id.in_(filters.courses))
    return where


def _in_place(filters: Filters, org_type: Any, province: Any) -> list[Any]:
    where = []
    if filters.org_types:
        where.append(org_type.in_(filters.org_types))
    if filters.provinces:
        where.append(province.in_(filters.provinces))
    return where


def _sort_key(expr: Any, dialect: str) -> Any:
    """Text ordered by code point on both databases (PostgreSQL's default collation may be a locale's)."""
    return expr.collate("C") if dialect == "postgresql" else expr


def queries(rnd: Round, filters: Filters, dialect: str = "sqlite") -> tuple[Any, Any]:
    """The two statements of a report: the rows (ordered so that each learner's rows are together) and the
    totals per (organisation type, province). A learner belongs to exactly one such group, so the grand
    total is the sum of the groups, distinct learners included.

    The identity is the truth for organisation type and province while it exists; the row's own copy once
    the learner was erased. Both statements read course_results through ix_course_results_round only.
    """
    r, i = course_results.c, identities.c
    type_expr = func.coalesce(i.org_type, r.org_type, literal(""))
    province_expr = func.coalesce(i.province, r.province, literal(""))
    org_type, province = type_expr.label("org_type"), province_expr.label("province")
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
            (r.erased | i.learner_id.is_(None)).label("erased"),
        )
        .select_from(course_results.outerjoin(identities, i.learner_id == r.learner_id))
        .where(*_in_round(rnd, filters), *_in_place(filters, org_type, province))
        .order_by(
            *(_sort_key(e, dialect) for e in (type_expr, province_expr)),
            *(_sort_key(e, dialect).nulls_last() for e in (i.organisation, i.name)),  # erased rows last
            r.learner_id,
            r.course_id,
        )
    )
    # Totals: first one row per learner (no join), then one identity lookup per learner rather than per
    # completion - on SQLite the lookups were the larger part of the cost.
    per_learner = (
        select(
            r.learner_id,
            func.max(r.org_type).label("org_type"),
            func.max(r.province).label("province"),
            func.max(case((r.erased, 1), else_=0)).label("erased"),
            func.count().label("completions"),
            func.sum(func.coalesce(r.credited_hours, 0.0)).label("hours"),
        )
        .where(*_in_round(rnd, filters))
        .group_by(r.learner_id)
        .subquery("per_learner")
    )
    p = per_learner.c
    group_type_expr = func.coalesce(i.org_type, p.org_type, literal(""))
    group_province_expr = func.coalesce(i.province, p.province, literal(""))
    group_type, group_province = group_type_expr.label("org_type"), group_province_expr.label("province")
    anonymous = (p.erased == 1) | i.learner_id.is_(None)
    totals = (
        select(
            group_type,
            group_province,
            func.count().label("learners"),
            func.sum(p.completions).label("completions"),
            func.sum(p.hours).label("hours"),
            func.sum(case((anonymous, p.completions), else_=0)).label("erased_completions"),
        )
        .select_from(per_learner.outerjoin(identities, i.learner_id == p.learner_id))
        .where(*_in_place(filters, group_type, group_province))
        .group_by(group_type, group_province)
        .order_by(*(_sort_key(e, dialect) for e in (group_type_expr, group_province_expr)))
    )
    return rows, totals


_BANGKOK_OFFSET = timedelta(hours=7)  # Asia/Bangkok: UTC+7 since 1920, no daylight saving


def _naive_utc(value: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones in the session's time zone."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _iter_rows(
    conn: Connection, rnd: Round, filters: Filters, titles: Mapping[str, str]
) -> Iterator[list[Any]]:
    """The report's rows (lists in ROW_FIELDS order), streamed from the database (server-side cursor on PostgreSQL). A learner's rows are
    held back until the learner's last one, to give them the learner's round total. The per-row work is kept
    small (tuples, one date text per day): a round of a large programme has hundreds of thousands of rows."""
    labels = org_type_labels()
    rows_q, _totals_q = queries(rnd, filters, conn.dialect.name)
    day_text: dict[object, str] = {}
    learner: list[list[Any]] = []  # the current learner's rows
    learner_key: object = None
    learner_hours = 0.0
    result = conn.execution_options(yield_per=2000).execute(rows_q)
    for seq, (
        learner_id,
        username,
        name,
        org_type,
        organisation,
        province,
        course_id,
        certified_at,
        hours,
        post_test,
        grade,
        number,
        erased,
    ) in enumerate(result, start=1):
        if learner_id != learner_key:
            total = round(learner_hours, 2)
            for done in learner:
                done[_LEARNER_HOURS] = total
            yield from learner
            learner, learner_key, learner_hours = [], learner_id, 0.0
        utc = _naive_utc(certified_at)
        day = (utc + _BANGKOK_OFFSET).date()
        on = day_text.get(day)
        if on is None:
            on = day_text[day] = format_date(day)
        # Two decimals: scores computed as 100 * earned / possible carry binary noise (79.96000000000001).
        hours_f = None if hours is None else round(float(hours), 2)
        if erased:  # anonymous: only what the counts need
            row = [seq, None, ERASED_NAME, None, org_type, labels.get(org_type, org_type), None, province,
                   course_id, titles.get(course_id, ""), utc.isoformat() + "Z", on, hours_f,
                   None, None, None, 0.0, True]  # fmt: skip
        else:
            row = [seq, learner_id, name, username, org_type, labels.get(org_type, org_type), organisation,
                   province, course_id, titles.get(course_id, ""), utc.isoformat() + "Z", on, hours_f,
                   None if post_test is None else round(float(post_test), 2),
                   None if grade is None else round(float(grade), 2),
                   number, 0.0, False]  # fmt: skip
        learner.append(row)
        learner_hours += hours or 0.0
    total = round(learner_hours, 2)
    for done in learner:
        done[_LEARNER_HOURS] = total
    yield from learner


def _totals(conn: Connection, rnd: Round, filters: Filters) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    labels = org_type_labels()
    _rows_q, totals_q = queries(rnd, filters, conn.dialect.name)
    totals = []
    grand = {"learners": 0, "completions": 0, "hours": 0.0, "erased_completions": 0}
    for row in conn.execute(totals_q):
        total = {
            "org_type": row.org_type,
            "org_type_th": labels.get(row.org_type, row.org_type),
            "province": row.province,
            "learners": int(row.learners),
            "completions": int(row.completions),  # PostgreSQL's sum of counts is numeric
            "hours": _num(row.hours),
            "erased_completions": int(row.erased_completions or 0),
        }
        totals.append(total)
        for key in grand:
            grand[key] += total[key]
    grand["hours"] = _num(grand["hours"])
    return totals, grand


def _for_reporting(conn: Connection) -> None:
    """PostgreSQL: sort a round's rows in memory. With the default work_mem (4 MB) the sorts of a
    266,000-row round spilled to disk ("external merge", measured); SET LOCAL lasts for this transaction only."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")


def compute(
    conn: Connection, rnd: Round, filters: Filters = Filters(), titles: Mapping[str, str] | None = None
) -> RoundReport:
    """The whole report in memory (for tests and pages); files are written by streaming, see run_report."""
    _for_reporting(conn)
    totals, grand = _totals(conn, rnd, filters)
    rows = list(_iter_rows(conn, rnd, filters, titles or {}))
    return RoundReport(rnd, filters, rows, totals, grand)


def _num(value: Any) -> float:
    """A sum of hours: SQL sums of floats can carry binary noise (12.999999...); hours are kept to 2 places."""
    return round(float(value or 0), 2)


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
        return pg_engine(url)
    except (sa_exc.ArgumentError, ImportError) as exc:
        raise UsageError(f"--db {url.render_as_string(hide_password=True)}: {exc}") from None


def run_report(
    db_url: str,
    rnd: Round,
    filters: Filters = Filters(),
    titles: Mapping[str, str] | None = None,
    *,
    fmt: str | None = None,
    out: Path | None = None,
) -> RoundReport:
    """Open ``db_url`` and make the report in one read transaction; with ``fmt`` and ``out``, stream it to
    that file (the returned report's rows are then consumed). Database failures become clear errors."""
    if out is not None:
        _check_target(fmt or "", Path(out))
    engine = open_engine(db_url)
    where = make_url(db_url).render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            if out is None:
                return compute(conn, rnd, filters, titles)
            _for_reporting(conn)
            totals, grand = _totals(conn, rnd, filters)
            report = RoundReport(rnd, filters, _iter_rows(conn, rnd, filters, titles or {}), totals, grand)
            write(report, fmt or "", Path(out))
            return report
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


def _write_csv(report: RoundReport, fh: TextIO) -> None:
    w = csv.writer(fh, lineterminator="\r\n")
    for line in _header_lines(report):
        w.writerow([line])
    w.writerow([])
    w.writerow([th for _k, th in COLUMNS])
    pick = itemgetter(*_COLUMN_INDEX)
    w.writerows(pick(row) for row in report.raw)  # csv writes None as an empty field
    w.writerow([])
    w.writerow(["สรุปตามประเภทองค์กรและจังหวัด"])
    w.writerow([th for _k, th in TOTAL_COLUMNS])
    w.writerows(_cells(row, TOTAL_COLUMNS) for row in report.totals)
    w.writerow(_cells({"org_type_th": ALL_LABEL, "province": "", **report.grand_total}, TOTAL_COLUMNS))


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
        "rows": [dict(zip(ROW_FIELDS, row, strict=True)) for row in report.raw],
        "totals": report.totals,
        "grand_total": report.grand_total,
    }


def _write_json(report: RoundReport, fh: TextIO) -> None:
    """The same document as :func:`as_json`, with the rows written one by one."""
    head = as_json(RoundReport(report.round, report.filters, [], report.totals, report.grand_total))
    del head["rows"], head["totals"], head["grand_total"]
    fh.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "rows": [')
    sep = "\n  "
    for row in report.raw:
        fh.write(sep + json.dumps(dict(zip(ROW_FIELDS, row, strict=True)), ensure_ascii=False))
        sep = ",\n  "
    fh.write('\n ],\n "totals": ' + json.dumps(report.totals, ensure_ascii=False))
    fh.write(',\n "grand_total": ' + json.dumps(report.grand_total, ensure_ascii=False) + "\n}\n")


def _write_xlsx(report: RoundReport, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    try:
        bold = wb.add_format({"bold": True, "font_name": "Tahoma"})
        text = wb.add_format({"font_name": "Tahoma"})
        num = wb.add_format({"font_name": "Tahoma", "num_format": "0.00"})
        numeric = {"credited_hours", "post_test_score", "grade", "learner_round_hours", "hours"}
        wide = {"name", "organisation", "course_title", "org_type"}
        pick = itemgetter(*_COLUMN_INDEX)
        summary = [*report.totals, {"org_type_th": ALL_LABEL, **report.grand_total}]
        for title, columns, cells in (
            ("รายบุคคล", COLUMNS, (pick(row) for row in report.raw)),
            ("สรุป", TOTAL_COLUMNS, (_cells(row, TOTAL_COLUMNS) for row in summary)),
        ):
            ws = wb.add_worksheet(title)
            head = _header_lines(report)
            for r, line in enumerate(head):
                ws.write_string(r, 0, line, bold)
            top = len(head) + 1
            for c, (key, th) in enumerate(columns):
                # The column's format styles every cell written without one (cheaper than a format per cell).
                ws.set_column(c, c, 30 if key in wide else 14, num if key in numeric else text)
                ws.write_string(top, c, th, bold)
            ws.freeze_panes(top + 1, 0)
            write_number, write_string = ws.write_number, ws.write_string
            for r, values in enumerate(cells, start=top + 1):
                for c, value in enumerate(values):
                    if value is None or value == "":
                        continue
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        write_number(r, c, value)
                    else:
                        write_string(r, c, str(value))
    finally:
        wb.close()


def _check_target(fmt: str, out: Path) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not out.parent.is_dir():
        raise UsageError(f"-o {out}: folder {out.parent} does not exist")


def write(report: RoundReport, fmt: str, out: Path) -> None:
    """Write ``report`` as ``fmt`` (csv with a BOM for Excel, xlsx, json) to ``out``, atomically."""
    out = Path(out)
    _check_target(fmt, out)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        if fmt == "xlsx":
            os.close(fd)
            _write_xlsx(report, tmp)
        else:
            encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
            with os.fdopen(fd, "w", encoding=encoding, newline="", buffering=1 << 20) as fh:
                (_write_csv if fmt == "csv" else _write_json)(report, fh)
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
