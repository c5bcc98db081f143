"""HR report benchmark: one evaluation round's report over 100,000 learners x 20 courses, on SQLite and on
PostgreSQL, with the query plans.

    .venv/bin/python benchmarks/bench_report.py [--learners 100000] [--courses 20] [--round 2564/2]
        [--pg URL] [--no-pg] [--json PATH]

For each database (SQLite in a temporary file, then a throwaway PostgreSQL database when one answers):
  1. the runtime's migrations, then ``course_results`` (results.schema);
  2. seeding with the driver's bulk path (sqlite3 executemany, PostgreSQL COPY): learners, identities
     (4 organisation types, 77 provinces) and one course_results row per learner and course. 80 % of rows are
     certified, at instants spread evenly over FY 2564-2566 (six rounds); 0.5 % revoked; 1 % of learners
     erased (identity deleted after results.schema.anonymise_learner);
  3. ANALYZE; then the report of --round three times: SQL plus rows in Python (``compute``), and each writer
     (csv, xlsx, json) once. The best of the three computes is reported, with the load average;
  4. the plans: EXPLAIN QUERY PLAN (SQLite), EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL) of the three statements.
Writes a table to stdout and the figures to benchmarks/results-report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pgtools import PG_URL, throwaway_database, unreachable
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localmooc_packager.results.report import Filters, compute, queries, write  # noqa: E402
from localmooc_packager.results.rounds import parse_round  # noqa: E402
from localmooc_packager.results.schema import metadata  # noqa: E402
from localmooc_packager.runtime.i18n import ORG_TYPES, PROVINCES  # noqa: E402
from localmooc_packager.runtime.server import upgrade  # noqa: E402

FY_START = datetime(2020, 9, 30, 17, tzinfo=UTC)  # FY 2564 begins (Bangkok midnight, 1 Oct 2020)
FY_SPAN = (datetime(2023, 9, 30, 17, tzinfo=UTC) - FY_START).total_seconds()  # through FY 2566
RESULT_COLUMNS = [
    "learner_id",
    "course_id",
    "enrolled_at",
    "content_completed_at",
    "post_test_passed_at",
    "certified_at",
    "study_seconds",
    "post_test_score",
    "grade",
    "credited_hours",
    "certificate_no",
    "revoked_at",
    "revoked_reason",
    "erased",
    "org_type",
    "province",
]


def rows(
    learners: int, courses: int, seed: int = 2564
) -> tuple[list[tuple], list[tuple], list[tuple], set[str]]:
    rnd = random.Random(seed)
    org_keys = [k for k, *_ in ORG_TYPES]
    provinces = [th for th, _en in PROVINCES]
    created = datetime(2020, 10, 1, tzinfo=UTC)
    people, idents, results, erased = [], [], [], set()
    hours = [rnd.choice((1.0, 1.5, 2.0, 3.0, 6.0)) for _ in range(courses)]
    for n in range(learners):
        lid = f"{n:032x}"
        people.append((lid, "learner", created))
        idents.append(
            (
                lid,
                f"user{n:06d}",
                f"ผู้เรียน ทดสอบ{n:06d}",
                rnd.choice(org_keys),
                "หน่วยงานทดสอบ",
                rnd.choice(provinces),
            )
        )
        if rnd.random() < 0.01:
            erased.add(lid)
        for c in range(courses):
            certified = None
            number = None
            if rnd.random() < 0.8:
                certified = FY_START + timedelta(seconds=rnd.random() * FY_SPAN)
                number = f"LM-{certified.year + 543}-{n:08d}{c:02d}-X"
            revoked = certified + timedelta(days=3) if certified and rnd.random() < 0.005 else None
            results.append(
                (
                    lid,
                    f"course-{c:02d}",
                    created,
                    certified,
                    certified,
                    certified,
                    3600 + rnd.randrange(7200),
                    round(60 + rnd.random() * 40, 2) if certified else None,
                    round(60 + rnd.random() * 40, 2) if certified else None,
                    hours[c] if certified else None,
                    number,
                    revoked,
                    "ทดสอบ" if revoked else None,
                    False,
                    None,
                    None,
                )
            )
    return people, idents, results, erased


def seed_sqlite(path: Path, data: tuple) -> None:
    import sqlite3

    people, idents, results, erased = data
    con = sqlite3.connect(path)
    fmt = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DateTime on SQLite

    def ts(v: datetime | None) -> str | None:
        return v.strftime(fmt) if v else None

    with con:
        con.executemany(
            "INSERT INTO learners (id, role, created_at) VALUES (?, ?, ?)",
            [(a, b, ts(c)) for a, b, c in people],
        )
        con.executemany(
            "INSERT INTO identities (learner_id, username, name, org_type, organisation, province, lawful_basis, "
            "password_hash, failed_logins) VALUES (?, ?, ?, ?, ?, ?, 'public-task', 'x', 0)",
            idents,
        )
        con.executemany(
            f"INSERT INTO course_results ({', '.join(RESULT_COLUMNS)}) VALUES ({', '.join('?' * len(RESULT_COLUMNS))})",
            (tuple(ts(v) if isinstance(v, datetime) else v for v in r) for r in results),
        )
    con.close()


def seed_pg(url: str, data: tuple) -> None:
    import psycopg

    people, idents, results, _erased = data
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        with cur.copy("COPY learners (id, role, created_at) FROM STDIN") as cp:
            for r in people:
                cp.write_row(r)
        with cur.copy(
            "COPY identities (learner_id, username, name, org_type, organisation, province, lawful_basis, "
            "password_hash, failed_logins) FROM STDIN"
        ) as cp:
            for r in idents:
                cp.write_row((*r, "public-task", "x", 0))
        with cur.copy(f"COPY course_results ({', '.join(RESULT_COLUMNS)}) FROM STDIN") as cp:
            for r in results:
                cp.write_row(r)


def erase(url: str, erased: set[str]) -> None:
    from sqlalchemy import delete

    from localmooc_packager.results.schema import anonymise_learner, identities

    engine = create_engine(url)
    with engine.begin() as conn:
        for lid in sorted(erased):
            anonymise_learner(conn, lid)
            conn.execute(delete(identities).where(identities.c.learner_id == lid))
        conn.execute(text("ANALYZE"))
    engine.dispose()


def plans(url: str, rnd: Any) -> dict[str, str]:
    engine = create_engine(url)
    out = {}
    with engine.connect() as conn:
        for name, stmt in zip(("rows", "totals"), queries(rnd, Filters()), strict=True):
            compiled = stmt.compile(engine)
            sql = str(compiled)
            if engine.dialect.name == "sqlite":
                args = tuple(compiled.params[k] for k in compiled.positiontup or ())
                got = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args)
                out[name] = "\n".join(f"{r[0]}|{r[1]}| {r[3]}" for r in got)
            else:
                got = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", compiled.params)
                out[name] = "\n".join(r[0] for r in got)
    engine.dispose()
    return out


def measure(url: str, rnd: Any, out_dir: Path) -> dict[str, Any]:
    engine = create_engine(url)
    timings = []
    report = None
    for _ in range(3):
        t = time.perf_counter()
        with engine.connect() as conn:
            report = compute(conn, rnd)
        timings.append(time.perf_counter() - t)
    engine.dispose()
    assert report is not None
    writers = {}
    for fmt in ("csv", "xlsx", "json"):
        t = time.perf_counter()
        write(report, fmt, out_dir / f"report.{fmt}")
        writers[fmt] = round(time.perf_counter() - t, 3)
    return {
        "compute_s": [round(x, 3) for x in timings],
        "best_compute_s": round(min(timings), 3),
        "write_s": writers,
        "rows": len(report.rows),
        "grand_total": report.grand_total,
        "load_average": round(os.getloadavg()[0], 2),
    }


def run(
    kind: str, url: str, data: tuple, rnd: Any, out_dir: Path, sqlite_path: Path | None
) -> dict[str, Any]:
    upgrade(url)
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    t = time.perf_counter()
    if sqlite_path is not None:
        seed_sqlite(sqlite_path, data)
    else:
        seed_pg(url, data)
    erase(url, data[3])
    seeded = time.perf_counter() - t
    result = {
        "database": kind,
        "seed_s": round(seeded, 1),
        **measure(url, rnd, out_dir),
        "plans": plans(url, rnd),
    }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=100_000)
    ap.add_argument("--courses", type=int, default=20)
    ap.add_argument("--round", default="2564/2")
    ap.add_argument("--pg", default=PG_URL)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results-report.json")
    args = ap.parse_args()
    rnd = parse_round(args.round)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    t = time.perf_counter()
    data = rows(args.learners, args.courses)
    print(f"generated {len(data[2]):,} course_results rows in {time.perf_counter() - t:.1f} s", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        tmp_path = Path(tmp)
        db = tmp_path / "runtime.db"
        results.append(run("sqlite", f"sqlite:///{db}", data, rnd, tmp_path, db))
        print(
            json.dumps({k: v for k, v in results[-1].items() if k != "plans"}, ensure_ascii=False), flush=True
        )
        why = "--no-pg" if args.no_pg else unreachable(args.pg)
        if why:
            print(f"PostgreSQL skipped: {why}")
        else:
            with throwaway_database(args.pg, "lm_bench_report") as url:
                results.append(run("postgresql", url, data, rnd, tmp_path, None))
                print(
                    json.dumps({k: v for k, v in results[-1].items() if k != "plans"}, ensure_ascii=False),
                    flush=True,
                )
    for r in results:
        print(
            f"\n== {r['database']}: report {args.round} best {r['best_compute_s']} s "
            f"(runs {r['compute_s']}), {r['rows']:,} rows; writers {r['write_s']}; load {r['load_average']}"
        )
        for name, plan in r["plans"].items():
            print(f"-- plan of {name}:\n{plan}")
    summary = {
        "learners": args.learners,
        "courses": args.courses,
        "round": args.round,
        "cores": os.cpu_count(),
        "load_average_end": round(os.getloadavg()[0], 2),
        "results": results,
    }
    args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
