"""Migration 0003: ``course_results`` and ``xapi_outbox`` as their Core definitions declare them, on SQLite and
PostgreSQL, and the commands that read them working on a database made only by ``localmooc db upgrade``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from runtime_support import HEAD, PG_URL, throwaway_database, unreachable
from xapi_support import many

from localmooc_packager.results.schema import course_results
from localmooc_packager.results.schema import metadata as results_metadata
from localmooc_packager.runtime.server import upgrade
from localmooc_packager.runtime.storage.schema import MIGRATIONS
from localmooc_packager.xapi import outbox

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("course_results", "xapi_outbox")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases of one kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
        return
    why = unreachable(PG_URL)
    if why:
        pytest.skip(why)
    with throwaway_database(PG_URL, "lm_mig") as a, throwaway_database(PG_URL, "lm_mig") as b:
        yield a, b


def shape(url: str) -> dict[str, Any]:
    """The two tables as the database describes them: columns with their dialect types, keys and indexes,
    partial index conditions included. Constraint names count on PostgreSQL; SQLite reports an unnamed
    key or unique constraint without a name, so there only their columns count."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            pg = conn.dialect.name == "postgresql"
            out: dict[str, Any] = {}
            for t in TABLES:
                pk = insp.get_pk_constraint(t)
                out[t] = {
                    "columns": [
                        (c["name"], c["type"].compile(conn.dialect), c["nullable"], c.get("default"))
                        for c in insp.get_columns(t)
                    ],
                    "pk": (pk["name"] if pg else None, pk["constrained_columns"]),
                    "unique": sorted(
                        (u["name"] if pg else "", tuple(u["column_names"]))
                        for u in insp.get_unique_constraints(t)
                    ),
                    "indexes": sorted(
                        (
                            ix["name"],
                            tuple(ix["column_names"]),
                            bool(ix["unique"]),
                            str(ix.get("dialect_options", {}).get(f"{conn.dialect.name}_where", "")),
                        )
                        for ix in insp.get_indexes(t)
                    ),
                }
                if not pg:  # SQLite keeps the CREATE INDEX text: compare it as written
                    out[t]["index_sql"] = sorted(
                        r[0]
                        for r in conn.exec_driver_sql(
                            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                            (t,),
                        )
                    )
            return out
    finally:
        engine.dispose()


def test_migration_0003_makes_the_tables_the_core_definitions_declare(two_databases: tuple[str, str]) -> None:
    migrated, declared = two_databases
    assert upgrade(migrated) == HEAD
    engine = sa.create_engine(declared)
    results_metadata.create_all(engine)
    outbox.metadata.create_all(engine)
    engine.dispose()
    got, want = shape(migrated), shape(declared)
    assert got == want
    # The comparison saw what matters: every declared column and index, the outbox's partial index.
    assert [c[0] for c in got["course_results"]["columns"]] == [c.name for c in course_results.columns]
    assert {ix[0] for ix in got["course_results"]["indexes"]} >= {
        "ix_course_results_certificate_no",
        "ix_course_results_round",
    }
    pending = next(ix for ix in got["xapi_outbox"]["indexes"] if ix[0] == "ix_xapi_outbox_pending")
    assert pending[1] == ("next_attempt_at", "id") and "delivered_at IS NULL" in (
        pending[3] + "".join(got["xapi_outbox"].get("index_sql", []))
    )


def test_migration_0003_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
        assert not set(TABLES) & set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert upgrade(url) == HEAD
    assert set(TABLES) <= set(sa.inspect(sa.create_engine(url)).get_table_names())


def run(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "localmooc_packager", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runtime.db'}"
        return
    why = unreachable(PG_URL)
    if why:
        pytest.skip(why)
    with throwaway_database(PG_URL, "lm_mig_cli") as url:
        yield url


def test_report_and_lrs_status_on_a_database_made_by_db_upgrade(empty_db: str, tmp_path: Path) -> None:
    code, out, err = run("db", "upgrade", "--db", empty_db)
    assert code == 0 and out.strip().endswith(f"schema at revision {HEAD}"), err
    certified = datetime(2021, 6, 15, 3, 0, tzinfo=UTC)  # inside round 2564/2
    engine = sa.create_engine(empty_db)
    with engine.begin() as conn:
        learners = sa.table(
            "learners", sa.column("id"), sa.column("role"), sa.column("created_at", sa.DateTime(True))
        )
        conn.execute(learners.insert().values(id="f" * 32, role="learner", created_at=certified))
        conn.execute(
            sa.text(
                "INSERT INTO identities (learner_id, username, name, org_type, organisation, province, "
                "lawful_basis, password_hash, failed_logins) VALUES (:id, 'malee', 'มาลี ศรีสุข', "
                "'local-admin-org', 'อบต.บ้านใหม่', 'ลำปาง', 'public-task', 'x', 0)"
            ),
            {"id": "f" * 32},
        )
        conn.execute(
            course_results.insert().values(
                learner_id="f" * 32,
                course_id="local-budget-basics",
                certified_at=certified,
                study_seconds=3600,
                credited_hours=3,
                erased=False,
            )
        )
        assert outbox.enqueue(conn, many(2, tag="mig")) == 2
    engine.dispose()
    report = tmp_path / "r.json"
    code, out, err = run(
        "report", "--round", "2564/2", "--format", "json", "-o", str(report), "--db", empty_db
    )
    assert code == 0, err
    assert out.startswith("2564/2: 1 completions by 1 learners, 3 hours")
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["grand_total"]["completions"] == 1
    code, out, err = run("lrs", "status", "--db", empty_db)
    assert code == 0, err
    assert out.startswith("pending 2 (due now 2), delivered 0, dead 0")
