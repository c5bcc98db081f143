"""``localmooc db check``: is a database's schema what this version's migrations make?

Two questions: is its Alembic revision the newest, and does it have every table, column, key and index that
the migrations up to its revision create. The expected shape is not written down a second time: the
migrations run on an in-memory SQLite and that is reflected, so the check can never drift from them.
Nothing is written to the database checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

from ..errors import UsageError
from .storage.engines import pg_engine
from .storage.schema import MIGRATIONS


@dataclass(frozen=True)
class TableShape:
    columns: frozenset[str]
    primary_key: tuple[str, ...]
    uniques: frozenset[tuple[str, ...]]
    indexes: dict[str, tuple[tuple[str, ...], bool]]  # name -> (columns, unique)


@dataclass
class SchemaCheck:
    """What ``db check`` found; ``problems`` empty means all is well."""

    where: str
    revision: str | None
    head: str
    tables: int = 0
    indexes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def reflect(conn: Connection) -> dict[str, TableShape]:
    """Every table but Alembic's own, as the database describes it (names only: types differ by dialect)."""
    insp = sa.inspect(conn)
    shapes = {}
    for name in insp.get_table_names():
        if name == "alembic_version":
            continue
        indexes = {
            ix["name"]: (tuple(c for c in ix["column_names"] if c), bool(ix["unique"]))
            for ix in insp.get_indexes(name)
            if ix["name"] and "duplicates_constraint" not in ix  # PostgreSQL: a unique constraint's index
        }
        shapes[name] = TableShape(
            columns=frozenset(c["name"] for c in insp.get_columns(name)),
            primary_key=tuple(insp.get_pk_constraint(name)["constrained_columns"]),
            uniques=frozenset(tuple(u["column_names"]) for u in insp.get_unique_constraints(name)),
            indexes=indexes,
        )
    return shapes


def expected_shape(revision: str) -> dict[str, TableShape]:
    """What the migrations up to ``revision`` create, run on an in-memory SQLite and reflected."""
    from alembic import command

    cfg = _config()
    engine = sa.create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            return reflect(conn)
    finally:
        engine.dispose()


def compare(expected: dict[str, TableShape], found: dict[str, TableShape]) -> list[str]:
    """What ``found`` lacks or has differently, one line each."""
    problems = []
    for table, want in sorted(expected.items()):
        have = found.get(table)
        if have is None:
            problems.append(f"missing table {table}")
            continue
        problems += [f"missing column {table}.{c}" for c in sorted(want.columns - have.columns)]
        if want.primary_key != have.primary_key:
            problems.append(
                f"table {table}: primary key ({', '.join(have.primary_key) or 'none'}), "
                f"expected ({', '.join(want.primary_key)})"
            )
        problems += [
            f"missing unique constraint on {table} ({', '.join(u)})"
            for u in sorted(want.uniques - have.uniques)
        ]
        for name, (cols, unique) in sorted(want.indexes.items()):
            got = have.indexes.get(name)
            kind = "unique index" if unique else "index"
            if got is None:
                problems.append(f"missing {kind} {name} on {table} ({', '.join(cols)})")
            elif got != (cols, unique):
                problems.append(
                    f"{kind} {name} on {table} is ({', '.join(got[0])}), expected ({', '.join(cols)})"
                )
    return problems


def check(url: str) -> SchemaCheck:
    """Compare the database at ``url`` with this version's migrations. A URL that names no usable database
    is a UsageError; a database that cannot be reached or read is a problem in the result."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from .server import describe_db

    try:
        u = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise UsageError(f"--db is not a database URL: {exc}") from None
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(f"--db must be a SQLite or PostgreSQL URL, not {u.get_backend_name()!r}")
    script = ScriptDirectory.from_config(_config())
    head = script.get_current_head() or ""
    result = SchemaCheck(describe_db(url), None, head)
    if u.get_backend_name() == "sqlite" and (not u.database or u.database == ":memory:"):
        raise UsageError("--db must name a SQLite file (sqlite:///FILE), not an in-memory database")
    if u.get_backend_name() == "sqlite" and not Path(u.database or "").is_file():
        result.problems.append("no database file there: run 'localmooc db upgrade --db URL' to create it")
        return result
    try:
        engine = pg_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise UsageError(f"--db is not a usable database URL: {exc}") from None
    try:
        with engine.connect() as conn:
            result.revision = MigrationContext.configure(conn).get_current_revision()
            found = reflect(conn)
    except sa.exc.SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        result.problems.append(f"cannot read the database: {first}")
        return result
    finally:
        engine.dispose()
    known = {r.revision for r in script.walk_revisions()}
    if result.revision is None:
        result.problems.append(
            "no migration revision recorded: run 'localmooc db upgrade' to create the schema"
        )
        target = head
    elif result.revision not in known:
        result.problems.append(
            f"revision {result.revision} is not one of this version's migrations (newest {head}): "
            "was the database made by a newer localmooc?"
        )
        target = head
    else:
        target = result.revision
        if result.revision != head:
            behind = sum(1 for _ in script.iterate_revisions(head, result.revision))  # excludes its own
            result.problems.append(
                f"migrations behind: at revision {result.revision}, newest is {head} "
                f"({behind} to apply: run 'localmooc db upgrade')"
            )
    expected = expected_shape(target)
    result.tables = len(expected)
    result.indexes = sum(len(t.indexes) for t in expected.values())
    result.problems += compare(expected, found)
    return result
