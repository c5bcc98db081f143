"""HR report benchmark: one evaluation round's report over 100,000 learners x 20 courses, on SQLite and on
PostgreSQL, with the query plans.

    .venv/bin/python benchmarks/bench_report.py [--learners 100000] [--courses 20] [--round 2564/2]
        [--pg URL] [--no-pg] [--json PATH]

For each database (SQLite in a temporary file, then a throwaway PostgreSQL database when one answers):
  1. the runtime's migrations, then ``course_results`` (results.schema);
  2. seeding inside the database (recursive CTE / generate_series, values from a multiplicative hash, so
     every run has the same data): learners, identities (4 organisation types, 77 provinces) and one
     course_results row per learner and course. 80 % of rows are certified, at instants spread evenly over
     FY 2564-2566 (six rounds); 0.5 % revoked; 1 % of learners erased (results.schema.anonymise_learner, then
     the identity deleted). Indexes are built after the load; ANALYZE (VACUUM ANALYZE on PostgreSQL);
  3. the two statements alone (executed, every row fetched); then the report as ``localmooc report`` makes it
     (run_report streaming to a file): three times as CSV, once as JSON and once as xlsx. Wall time, this
     process's CPU time (SQLite's work included; PostgreSQL's server has its own processes) and the load
     average are recorded - the machine is shared;
  4. the plans: EXPLAIN QUERY PLAN (SQLite), EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL) of both statements.
Writes a table to stdout and the figures to benchmarks/results-report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pgtools import PG_URL, throwaway_database, unreachable
from sqlalchemy import create_engine, delete, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localmooc_packager.results.report import Filters, queries, run_report  # noqa: E402
from localmooc_packager.results.rounds import parse_round  # noqa: E402
from localmooc_packager.results.schema import (  # noqa: E402
    anonymise_learner,
    course_results,
    identities,
    metadata,
)
from localmooc_packager.runtime.i18n import ORG_TYPES, PROVINCES  # noqa: E402
from localmooc_packager.runtime.server import upgrade  # noqa: E402

FY_START_EPOCH = int(datetime(2020, 9, 30, 17, tzinfo=UTC).timestamp())  # FY 2564 begins (Bangkok midnight)
FY_SPAN = int(datetime(2023, 9, 30, 17, tzinfo=UTC).timestamp()) - FY_START_EPOCH  # through FY 2566
ORG_KEYS = [k for k, *_ in ORG_TYPES]
PROVINCE_NAMES = [th for th, _en in PROVINCES]

# Pseudo-random but deterministic values from the row number k = learner * courses + course, computed by the
# database itself (Knuth's multiplicative hash), so 2 M rows are generated without a Python loop.
H = "((k * 2654435761) % 4294967296)"
SEED_SQL = {
    "sqlite": [
        """WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < :learners - 1)
           INSERT INTO learners (id, role, created_at)
           SELECT printf('%032x', x), 'learner', '2020-10-01 00:00:00.000000' FROM n""",
        """INSERT INTO identities (learner_id, username, name, org_type, organisation, province, lawful_basis,
               password_hash, failed_logins)
           SELECT l.id, 'user' || l.rowid, 'ผู้เรียน ทดสอบ' || l.rowid, o.key, 'หน่วยงานทดสอบ', p.name,
                  'public-task', 'x', 0
           FROM learners l JOIN bench_org o ON o.i = l.rowid % 4 JOIN bench_province p ON p.i = l.rowid % 77""",
        f"""WITH RECURSIVE c(y) AS (SELECT 0 UNION ALL SELECT y + 1 FROM c WHERE y < :courses - 1),
           rows AS (SELECT l.id AS learner_id, y, (l.rowid - 1) * :courses + y AS k FROM learners l, c),
           certified AS (SELECT *, CASE WHEN {H} % 100 < 80 THEN strftime('%Y-%m-%d %H:%M:%S.000000',
                         :epoch + ({H} * 7919 % :span), 'unixepoch') END AS at FROM rows)
           INSERT INTO course_results (learner_id, course_id, enrolled_at, content_completed_at,
               post_test_passed_at, certified_at, study_seconds, post_test_score, grade, credited_hours,
               certificate_no, revoked_at, erased)
           SELECT learner_id, printf('course-%02d', y), '2020-10-01 00:00:00.000000', at, at, at,
                  3600 + {H} % 7200,
                  CASE WHEN at IS NOT NULL THEN 60 + ({H} % 4001) / 100.0 END,
                  CASE WHEN at IS NOT NULL THEN 60 + ({H} % 3989) / 100.0 END,
                  CASE WHEN at IS NOT NULL THEN (1 + y % 4) * 1.5 END,
                  CASE WHEN at IS NOT NULL THEN printf('LM-%d-%010d', k % 3 + 2564, k) END,
                  CASE WHEN at IS NOT NULL AND {H} % 200 = 7 THEN at END,
                  0
           FROM certified""",  # noqa: S608 (H is a constant of this file)
    ],
    "postgresql": [
        """INSERT INTO learners (id, role, created_at)
           SELECT lpad(to_hex(x), 32, '0'), 'learner', timestamptz '2020-10-01 00:00:00+00'
           FROM generate_series(0, :learners - 1) AS x""",
        """INSERT INTO identities (learner_id, username, name, org_type, organisation, province, lawful_basis,
               password_hash, failed_logins)
           SELECT l.id, 'user' || (x + 1), 'ผู้เรียน ทดสอบ' || (x + 1), o.key, 'หน่วยงานทดสอบ', p.name, 'public-task', 'x', 0
           FROM generate_series(0, :learners - 1) AS x
           JOIN learners l ON l.id = lpad(to_hex(x), 32, '0')
           JOIN bench_org o ON o.i = (x + 1) % 4 JOIN bench_province p ON p.i = (x + 1) % 77""",
        f"""WITH rows AS (SELECT lpad(to_hex(x), 32, '0') AS learner_id, y, x::bigint * :courses + y AS k
                         FROM generate_series(0, :learners - 1) AS x, generate_series(0, :courses - 1) AS y),
           certified AS (SELECT *, CASE WHEN {H} % 100 < 80 THEN to_timestamp(:epoch + ({H} * 7919 % :span))
                         END AS at FROM rows)
           INSERT INTO course_results (learner_id, course_id, enrolled_at, content_completed_at,
               post_test_passed_at, certified_at, study_seconds, post_test_score, grade, credited_hours,
               certificate_no, revoked_at, erased)
           SELECT learner_id, 'course-' || lpad(y::text, 2, '0'), timestamptz '2020-10-01 00:00:00+00', at, at, at,
                  3600 + {H} % 7200,
                  CASE WHEN at IS NOT NULL THEN 60 + ({H} % 4001) / 100.0 END,
                  CASE WHEN at IS NOT NULL THEN 60 + ({H} % 3989) / 100.0 END,
                  CASE WHEN at IS NOT NULL THEN (1 + y % 4) * 1.5 END,
                  CASE WHEN at IS NOT NULL THEN 'LM-' || (k % 3 + 2564) || '-' || lpad(k::text, 10, '0') END,
                  CASE WHEN at IS NOT NULL AND {H} % 200 = 7 THEN at END,
                  false
           FROM certified""",  # noqa: S608 (H is a constant of this file)
    ],
}


def seed(url: str, learners: int, courses: int) -> int:
    """Fill the tables inside the database; the report's indexes are built after the load (as a bulk import
    would). Returns the number of course_results rows."""
    engine = create_engine(url)
    dialect = engine.dialect.name
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_org (i INTEGER PRIMARY KEY, key VARCHAR(32))"))
        conn.execute(text("CREATE TABLE bench_province (i INTEGER PRIMARY KEY, name VARCHAR(64))"))
        conn.execute(
            text("INSERT INTO bench_org VALUES (:i, :k)"), [{"i": i, "k": k} for i, k in enumerate(ORG_KEYS)]
        )
        conn.execute(
            text("INSERT INTO bench_province VALUES (:i, :n)"),
            [{"i": i, "n": n} for i, n in enumerate(PROVINCE_NAMES)],
        )
        for index in course_results.indexes:
            index.drop(conn)
        params = {"learners": learners, "courses": courses, "epoch": FY_START_EPOCH, "span": FY_SPAN}
        for sql in SEED_SQL[dialect]:
            conn.execute(text(sql), params)
        for index in course_results.indexes:
            index.create(conn)
        conn.execute(text("DROP TABLE bench_org"))
        conn.execute(text("DROP TABLE bench_province"))
        count = conn.execute(text("SELECT count(*) FROM course_results")).scalar_one()
        # 1 % of learners erased, as the runtime erases: fields kept on the results, identity deleted.
        erased = (
            conn.execute(text("SELECT learner_id FROM identities WHERE username LIKE '%37'")).scalars().all()
        )
        for lid in erased:
            anonymise_learner(conn, lid)
        conn.execute(delete(identities).where(identities.c.learner_id.in_(erased)))
    engine.dispose()
    # Statistics, and on PostgreSQL the visibility map (what autovacuum keeps), so index-only scans can work.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE" if dialect == "sqlite" else "VACUUM ANALYZE"))
    engine.dispose()
    return int(count)


def plans(url: str, rnd: Any) -> dict[str, str]:
    engine = create_engine(url)
    out = {}
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")  # as run_report does
        for name, stmt in zip(("rows", "totals"), queries(rnd, Filters(), engine.dialect.name), strict=True):
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


def _timed(fn: Any) -> tuple[float, float, Any]:
    t, c = time.perf_counter(), time.process_time()
    value = fn()
    return time.perf_counter() - t, time.process_time() - c, value


def measure(url: str, rnd: Any, out_dir: Path) -> dict[str, Any]:
    """The report as the CLI makes it (run_report streaming to a file), three times as CSV, once as JSON and
    xlsx; and the two statements alone (executed and every row fetched)."""
    engine = create_engine(url)
    statements = {}
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")  # as run_report does
        for name, stmt in zip(("rows", "totals"), queries(rnd, Filters(), engine.dialect.name), strict=True):
            wall, cpu, n = _timed(
                lambda s=stmt: sum(1 for _ in conn.execution_options(yield_per=2000).execute(s))
            )
            statements[name] = {"wall_s": round(wall, 3), "client_cpu_s": round(cpu, 3), "rows": n}
    engine.dispose()
    runs = []
    report = None
    for _ in range(3):
        wall, cpu, report = _timed(lambda: run_report(url, rnd, fmt="csv", out=out_dir / "report.csv"))
        runs.append(
            {"wall_s": round(wall, 3), "client_cpu_s": round(cpu, 3), "load_average": os.getloadavg()[0]}
        )
    others = {}
    for fmt in ("json", "xlsx"):
        wall, cpu, _ = _timed(lambda f=fmt: run_report(url, rnd, fmt=f, out=out_dir / f"report.{f}"))
        others[fmt] = {"wall_s": round(wall, 3), "client_cpu_s": round(cpu, 3)}
    assert report is not None
    return {
        "statements": statements,
        "csv_runs": runs,
        "best_csv_wall_s": min(r["wall_s"] for r in runs),
        "best_csv_client_cpu_s": min(r["client_cpu_s"] for r in runs),
        "other_formats": others,
        "csv_bytes": (out_dir / "report.csv").stat().st_size,
        "grand_total": report.grand_total,
        "load_average": round(os.getloadavg()[0], 2),
    }


def run(kind: str, url: str, learners: int, courses: int, rnd: Any, out_dir: Path) -> dict[str, Any]:
    upgrade(url)
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    t = time.perf_counter()
    count = seed(url, learners, courses)
    seeded = time.perf_counter() - t
    print(f"{kind}: seeded {count:,} course_results rows in {seeded:.0f} s", flush=True)
    return {
        "database": kind,
        "course_results_rows": count,
        "seed_s": round(seeded, 1),
        **measure(url, rnd, out_dir),
        "plans": plans(url, rnd),
    }


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
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        tmp_path = Path(tmp)
        db = tmp_path / "runtime.db"
        results.append(run("sqlite", f"sqlite:///{db}", args.learners, args.courses, rnd, tmp_path))
        print(
            json.dumps({k: v for k, v in results[-1].items() if k != "plans"}, ensure_ascii=False), flush=True
        )
        why = "--no-pg" if args.no_pg else unreachable(args.pg)
        if why:
            print(f"PostgreSQL skipped: {why}")
        else:
            with throwaway_database(args.pg, "lm_bench_report") as url:
                results.append(run("postgresql", url, args.learners, args.courses, rnd, tmp_path))
                print(
                    json.dumps({k: v for k, v in results[-1].items() if k != "plans"}, ensure_ascii=False),
                    flush=True,
                )
    for r in results:
        print(
            f"\n== {r['database']}: report {args.round} to CSV best {r['best_csv_wall_s']} s wall, "
            f"{r['best_csv_client_cpu_s']} s client CPU; statements {r['statements']}; json/xlsx "
            f"{r['other_formats']}; load {r['load_average']}"
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
