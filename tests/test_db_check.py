"""``localmooc db check`` as an operator runs it (a real subprocess): current, behind, damaged, bad URLs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from runtime_support import HEAD, PG_URL, throwaway_database, unreachable

from localmooc_packager.runtime.dbcheck import check, expected_shape
from localmooc_packager.runtime.server import upgrade
from localmooc_packager.runtime.storage.schema import MIGRATIONS
from localmooc_packager.runtime.storage.schema import metadata as runtime_metadata

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "localmooc_packager", "db", "check", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def downgrade(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


def drop_index(url: str, name: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database made by ``localmooc db upgrade``'s code, of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runtime.db'}"
        upgrade(url)
        yield url
        return
    why = unreachable(PG_URL)
    if why:
        pytest.skip(why)
    with throwaway_database(PG_URL, "lm_dbcheck") as url:
        upgrade(url)
        yield url


def test_expected_set_is_the_runtime_tables_and_what_0003_adds() -> None:
    """The shape db check expects at the newest revision: every table of the runtime's schema plus the two of
    migration 0003, each with its declared indexes (a sanity check that the reference run is complete)."""
    shape = expected_shape("head")
    assert set(shape) == set(runtime_metadata.tables) | {"course_results", "xapi_outbox"}
    for table in runtime_metadata.tables.values():
        assert {ix.name for ix in table.indexes} <= set(shape[table.name].indexes), table.name
    assert shape["xapi_outbox"].indexes["ix_xapi_outbox_pending"] == (("next_attempt_at", "id"), False)
    assert shape["course_results"].indexes["ix_course_results_certificate_no"] == (("certificate_no",), True)


def test_current_database_passes(db: str) -> None:
    code, out, err = run("--db", db)
    assert code == 0, err
    assert f"schema current (revision {HEAD}); 13 tables and 13 indexes as expected" in out
    assert err == ""


def test_a_dropped_index_is_named(db: str) -> None:
    drop_index(db, "ix_xapi_outbox_pending")
    code, out, err = run("--db", db)
    assert code == 1 and out == ""
    assert f"revision {HEAD}, newest {HEAD}" in err
    assert "  - missing index ix_xapi_outbox_pending on xapi_outbox (next_attempt_at, id)" in err
    assert "error: the schema needs attention (1 problem(s))" in err


def test_behind_by_one_revision(db: str) -> None:
    downgrade(db, "0002")
    code, _out, err = run("--db", db)
    assert code == 1
    assert (
        f"migrations behind: at revision 0002, newest is {HEAD} ({int(HEAD) - 2} to apply: "
        "run 'localmooc db upgrade')" in err
    )
    # What 0002 makes is all there: the one problem is the revision (0003's tables come with the upgrade).
    assert "missing" not in err and "(1 problem(s))" in err
    downgrade(db, "0001")
    drop_index(db, "ix_audit_actor")
    result = check(db)
    assert result.problems == [
        f"migrations behind: at revision 0001, newest is {HEAD} ({int(HEAD) - 1} to apply: "
        "run 'localmooc db upgrade')",
        "missing index ix_audit_actor on audit_log (actor, at)",
    ]


def test_a_database_never_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    sa.create_engine(url).connect().close()  # an empty SQLite file
    code, _out, err = run("--db", url)
    assert code == 1
    assert "no migration revision recorded: run 'localmooc db upgrade' to create the schema" in err
    assert "missing table course_results" in err and "missing table identities" in err


def test_a_missing_file_is_not_created(tmp_path: Path) -> None:
    code, _out, err = run("--db", f"sqlite:///{tmp_path / 'nowhere.db'}")
    assert code == 1 and "no database file there" in err
    assert not (tmp_path / "nowhere.db").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "--db is not a database URL"),
        ("mysql://u@127.0.0.1/x", "--db must be a SQLite or PostgreSQL URL, not 'mysql'"),
        ("sqlite://", "--db must name a SQLite file"),
        ("postgresql+nosuchdriver://u@127.0.0.1/x", "--db is not a usable database URL"),
    ],
)
def test_bad_urls_are_usage_errors(url: str, message: str) -> None:
    code, _out, err = run("--db", url)
    assert code == 2, err
    assert message in err


@pytest.mark.postgres
def test_an_unreachable_postgresql_database_is_reported() -> None:
    why = unreachable(PG_URL)
    if why:
        pytest.skip(why)
    url = sa.engine.make_url(PG_URL).set(database="lm_no_such_database").render_as_string(hide_password=False)
    code, _out, err = run("--db", url)
    assert code == 1
    assert "cannot read the database: connection failed" in err and "lm_no_such_database" in err
