"""Database faults the runtime answers with 503 (try again) rather than 500 (a bug).

DB-API's ``OperationalError`` is, by the standard's definition, an error "related to the database's
operation and not necessarily under the control of the programmer": a restarted or unreachable server,
a terminated connection, SQLite's write lock held past ``busy_timeout``. SQLAlchemy raises it wrapped
(``sqlalchemy.exc.OperationalError``), the hot path's raw driver connections raise the driver's own;
a pool with no free connection within ``pool_timeout`` raises ``sqlalchemy.exc.TimeoutError``. The
transaction was rolled back, so nothing was half written and the client may simply retry.
"""

from __future__ import annotations

import json
import logging
import sqlite3

from sqlalchemy import exc as sa_exc


def _driver_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [sqlite3.OperationalError]
    try:
        import psycopg
    except ImportError:  # PostgreSQL support is optional
        pass
    else:
        errors.append(psycopg.OperationalError)
    return tuple(errors)


DB_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
    *_driver_errors(),
)
UNAVAILABLE = "unavailable"


def unavailable_body(message: str) -> bytes:
    """The JSON body of a 503: the same shape as every other API error (``detail`` + ``message``)."""
    return json.dumps({"detail": UNAVAILABLE, "message": message}, ensure_ascii=False).encode()


log = logging.getLogger("localmooc_packager.runtime")


def log_unavailable(path: str, exc: BaseException) -> None:
    """One line, no traceback: an outage is an operations matter, and a traceback per request would bury
    the log while the database is away."""
    log.warning("503 for %s: database unavailable: %s: %s", path, type(exc).__name__, str(exc).strip()[:200])
