"""Alembic environment of the runtime's store; run programmatically by ``Store.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from localmooc_packager.runtime.store import metadata

config = context.config


def run() -> None:
    # Store.upgrade passes its open connection, so the SQLite pragmas and the transaction are ours.
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            _migrate(conn)
        return
    _migrate(connection)


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
