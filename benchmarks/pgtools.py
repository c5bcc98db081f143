"""PostgreSQL helpers shared by the benchmarks and the tests: is a server there, and a throwaway database.

Every run works in a database of its own, created here and dropped (with its connections) afterwards, so
the shared server is left as it was.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("LOCALMOOC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unreachable(url: str = PG_URL) -> str | None:
    """None when a server answers at ``url``'s host and port, else why not (for a skip or a printed reason)."""
    u = make_url(url)
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 5432), timeout=2):
            pass
    except OSError as exc:
        return f"no PostgreSQL server at {u.host}:{u.port} ({exc}); set LOCALMOOC_TEST_PG_URL"
    return None


@contextmanager
def throwaway_database(url: str = PG_URL, prefix: str = "lm") -> Iterator[str]:
    """A new empty database on ``url``'s server (its user may create databases); yields its URL."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
