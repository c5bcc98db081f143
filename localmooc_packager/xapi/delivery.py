"""Send the outbox to an LRS: batches over the xAPI Statement API, with backoff and poison handling.

What each LRS answer means for the rows of a batch (xAPI 1.0.3 Communication, section 2.1.2, and Ralph):

- 200 (ids stored) or 204 (every id was already stored with equal content): delivered.
- 409 (an id exists with *different* content): the LRS keeps what it has and rejects the whole batch, so the
  batch is split until the conflicting statement is alone; that one is marked delivered with a note (the LRS
  has a statement under the id and will never take another), the others go through.
- 400 / 422 (a malformed statement; Ralph answers 422 for validation errors): the batch is split the same way
  and the statement refused on its own is marked dead with the LRS's error, never retried.
- 401 / 403: the credentials or scopes are wrong. Retrying cannot help, so the worker stops with an error
  and the rows stay pending (their lease ends, nothing is lost).
- A connection error, a timeout, 408, 429 or any 5xx: the batch backs off (exponential, full jitter).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from ..errors import LocalMoocError, UsageError
from ..runtime.storage.engines import pg_engine
from . import outbox

log = logging.getLogger("localmooc.xapi")

XAPI_VERSION = "1.0.3"
MAX_BATCH = 500  # the LRS parses and validates a batch at once; keep one request small


class LrsRefusedError(LocalMoocError):
    """The LRS refused our credentials or scopes (401/403): no retry can fix that."""


@dataclass
class PushStats:
    delivered: int = 0
    duplicates: int = 0
    dead: int = 0
    retried: int = 0
    requests: int = 0
    db_errors: int = 0
    pruned: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Pusher:
    """One delivery worker: claims batches from the outbox and posts them to ``lrs_url``."""

    engine: sa.Engine
    lrs_url: str
    auth: tuple[str, str]
    batch_size: int = 100
    lease: timedelta = timedelta(seconds=60)
    timeout_s: float = 30.0
    backoff_base_s: float = 1.0
    # Short enough that delivery resumes within a minute of an LRS coming back after a long outage.
    backoff_cap_s: float = 60.0
    stats: PushStats = field(default_factory=PushStats)
    client: httpx.Client | None = None
    # Automatic retention (LOCALMOOC_XAPI_RETENTION_DAYS, ``lrs push --retention-days``): ``loop`` deletes
    # rows delivered longer ago than this, when idle and at most once per ``prune_every``. None: keep all.
    retention: timedelta | None = None
    prune_every: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise UsageError(f"batch size must be 1-{MAX_BATCH}, not {self.batch_size}")
        self.endpoint = self.lrs_url.rstrip("/") + "/statements"
        if self.client is None:
            self.client = httpx.Client(
                auth=self.auth,
                timeout=self.timeout_s,
                headers={"X-Experience-API-Version": XAPI_VERSION, "Content-Type": "application/json"},
            )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    # One pass: claim, send, record. Returns how many rows were claimed (0: nothing was due).
    def push_once(self) -> int:
        with self.engine.connect() as conn:
            claimed = outbox.claim(conn, self.batch_size, self.lease)
            if claimed:
                self._send(conn, claimed)
        return len(claimed)

    def _round(self) -> tuple[int, bool]:
        """One claim-and-send; also whether the LRS failed it outright (all backed off, none delivered)."""
        delivered, retried = self.stats.delivered, self.stats.retried
        claimed = self.push_once()
        return claimed, self.stats.retried > retried and self.stats.delivered == delivered

    def drain(self, stop: threading.Event | None = None) -> PushStats:
        """Push until nothing is due, or until the LRS fails a batch (the rest wait for a later run)."""
        while not (stop and stop.is_set()):
            claimed, failed = self._round()
            if not claimed or failed:
                break
        return self.stats

    def loop(self, stop: threading.Event, idle_s: float = 1.0) -> PushStats:
        """Push forever (until ``stop``), waiting ``idle_s`` whenever nothing is due.

        A lost database connection (a PostgreSQL restart, a failover) is waited out, not fatal: whatever the
        worker had claimed but not marked is resent after its lease, with the same ids.
        """
        db_failures = lrs_failures = 0
        next_prune = time.monotonic()
        while not stop.is_set():
            try:
                claimed, failed = self._round()
                if not claimed and self.retention is not None and time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self.prune_every.total_seconds()
                    self._prune(self.retention)
                db_failures = 0
            except sa.exc.DBAPIError as exc:
                if not (exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError)):
                    raise
                db_failures += 1
                self.stats.db_errors += 1
                delay = outbox.backoff_delay(db_failures, 0.5, 10.0)
                log.warning("xAPI outbox: database unavailable (%s); retry in %.1f s", exc.orig, delay)
                stop.wait(delay)
                continue
            if failed:
                # The LRS is down or failing: pause the worker too, not only the batch, so that a long
                # queue does not turn into one failed request per batch.
                lrs_failures += 1
                stop.wait(outbox.backoff_delay(lrs_failures, self.backoff_base_s, self.backoff_cap_s))
                continue
            lrs_failures = 0
            if not claimed:
                stop.wait(idle_s)
        return self.stats

    def _prune(self, retention: timedelta) -> None:
        with self.engine.connect() as conn:
            pruned = outbox.prune(conn, retention)
        self.stats.pruned += pruned.delivered
        if pruned.delivered:
            log.info("xAPI outbox: pruned %d statement(s) delivered over %s ago", pruned.delivered, retention)

    def _post(self, rows: list[outbox.Claimed]) -> httpx.Response:
        # The stored text is sent as is: a resend is byte-for-byte the statement the LRS may already have.
        body = "[" + ",".join(r.statement for r in rows) + "]"
        self.stats.requests += 1
        assert self.client is not None
        return self.client.post(self.endpoint, content=body.encode("utf-8"))

    def _send(self, conn: sa.Connection, rows: list[outbox.Claimed]) -> None:
        try:
            response = self._post(rows)
        except httpx.HTTPError as exc:
            self._back_off(conn, rows, f"{type(exc).__name__}: {exc}")
            return
        code = response.status_code
        if code in (200, 204):
            stored = _stored_ids(response) if code == 200 else set()
            outbox.mark_delivered(conn, [r.row_id for r in rows])
            self.stats.delivered += len(rows)
            self.stats.duplicates += len(rows) - len(stored & {r.statement_id for r in rows})
        elif code in (400, 409, 422):
            if len(rows) > 1:
                # One statement spoils an atomic batch: halve until it is alone, deliver the rest.
                middle = len(rows) // 2
                self._send(conn, rows[:middle])
                self._send(conn, rows[middle:])
                return
            row = rows[0]
            detail = _detail(response)
            if code == 409:
                outbox.mark_delivered(conn, [row.row_id], note=f"409 from LRS (kept its own copy): {detail}")
                self.stats.duplicates += 1
            else:
                outbox.mark_dead(conn, row.row_id, f"{code} from LRS: {detail}")
                self.stats.dead += 1
                log.error("xAPI statement %s refused by the LRS (%s): %s", row.statement_id, code, detail)
        elif code in (401, 403):
            self._back_off(conn, rows, f"{code} from LRS")
            raise LrsRefusedError(
                f"the LRS at {self.lrs_url} answered {code} ({_detail(response)}): check the user, the "
                "password and that the user has the statements/write scope"
            )
        else:  # 408, 429, 5xx and anything unexpected: the LRS may recover
            self._back_off(conn, rows, f"{code} from LRS: {_detail(response)}")

    def _back_off(self, conn: sa.Connection, rows: list[outbox.Claimed], error: str) -> None:
        attempts = max(r.attempts for r in rows)
        delay = outbox.backoff_delay(attempts, self.backoff_base_s, self.backoff_cap_s)
        outbox.back_off(conn, [r.row_id for r in rows], delay, error)
        self.stats.retried += len(rows)
        if len(self.stats.errors) < 20:
            self.stats.errors.append(error)
        log.warning("xAPI delivery of %d statement(s) failed (%s); retry in %.1f s", len(rows), error, delay)


def _stored_ids(response: httpx.Response) -> set[str]:
    try:
        body = response.json()
    except ValueError:
        return set()
    return {x for x in body if isinstance(x, str)} if isinstance(body, list) else set()


def _detail(response: httpx.Response) -> str:
    text = response.text.strip()
    try:
        body = json.loads(text)
        if isinstance(body, dict) and "detail" in body:
            text = json.dumps(body["detail"], ensure_ascii=False)
    except ValueError:
        pass
    return text[:1000] or response.reason_phrase


def read_password(path: Path) -> str:
    """The LRS password from a file (first line), so it is not on the command line or in the environment."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the password file {path}: {exc.strerror}") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise UsageError(f"the password file {path} is empty")
    return password


def _engine(db_url: str) -> sa.Engine:
    """An engine on a database that has the outbox table, or a clear error."""
    # application_name: operators (and the tests) can find the pusher's sessions in pg_stat_activity.
    connect_args = {"application_name": "localmooc-lrs-push"} if db_url.startswith("postgresql") else {}
    try:
        engine = pg_engine(db_url, pool_pre_ping=True, connect_args=connect_args)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise UsageError(f"--db is not a usable database URL: {exc}") from None
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(outbox.outbox.name):
                raise UsageError(
                    f"the database has no {outbox.outbox.name} table: run 'localmooc db upgrade' first"
                )
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise LocalMoocError(f"cannot reach the database: {exc.orig}") from None
    except UsageError:
        engine.dispose()
        raise
    return engine


def status(db_url: str, requeue: bool = False) -> tuple[outbox.Depth, list[tuple[str, Any, str]], int]:
    """What ``localmooc lrs status`` shows: the outbox depth, the newest dead rows, and how many were requeued."""
    engine = _engine(db_url)
    try:
        with engine.connect() as conn:
            requeued = outbox.requeue_dead(conn) if requeue else 0
            return outbox.depth(conn), outbox.dead_rows(conn), requeued
    finally:
        engine.dispose()


RETENTION_ENV = "LOCALMOOC_XAPI_RETENTION_DAYS"
LRS_ENV = "LOCALMOOC_LRS_URL"


def retention_from_env(env: Any = None) -> int | None:
    """LOCALMOOC_XAPI_RETENTION_DAYS: days a delivered statement stays in the outbox (unset: for ever)."""
    value = (os.environ if env is None else env).get(RETENTION_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 36500:
        raise UsageError(f"{RETENTION_ENV}={value!r}: give a number of days, 1 to 36500")
    return int(value)


@dataclass(frozen=True)
class PruneReport:
    pruned: outbox.Pruned
    depth: outbox.Depth


def prune_outbox(
    db_url: str, days: int, *, undelivered: bool = False, batch: int = 1000, env: Any = None
) -> PruneReport:
    """What ``localmooc lrs prune`` does: delete delivered rows older than ``days`` days and, with
    ``undelivered``, never-tried pending ones too (a site that has no LRS, said by its operator).

    ``undelivered`` is refused while an LRS is configured or at work: LOCALMOOC_LRS_URL set in this
    environment, a statement delivered in the last ``days`` days, or a pending one a worker has tried.
    Those statements are on their way to the LRS, and the outbox holds their only copy."""
    e = os.environ if env is None else env
    if undelivered and e.get(LRS_ENV):
        raise UsageError(
            f"--undelivered: {LRS_ENV} is set, so an LRS is configured; its statements are never pruned"
        )
    engine = _engine(db_url)
    try:
        with engine.connect() as conn:
            since = datetime.now(UTC) - timedelta(days=days)
            if undelivered and outbox.activity_since(conn, since):
                raise UsageError(
                    f"--undelivered: a delivery worker has been at work here (a statement delivered in "
                    f"the last {days} days, or one it is retrying); undelivered statements stay"
                )
            pruned = outbox.prune(conn, timedelta(days=days), undelivered=undelivered, batch=batch)
            return PruneReport(pruned, outbox.depth(conn))
    except sa.exc.OperationalError as exc:
        raise LocalMoocError(f"cannot reach the database: {exc.orig}") from None
    finally:
        engine.dispose()


def run_push(
    db_url: str,
    lrs_url: str,
    user: str,
    password: str,
    *,
    loop: bool,
    batch_size: int = 100,
    idle_s: float = 1.0,
    echo: Callable[[str], Any] = print,
    retention_days: int | None = None,
) -> PushStats:
    """What ``localmooc lrs push`` does: drain once, or loop until SIGTERM/SIGINT."""
    if not lrs_url.startswith(("http://", "https://")):
        raise UsageError(f"--lrs must be the LRS's xAPI endpoint (http(s)://host/xAPI), not {lrs_url!r}")
    engine = _engine(db_url)
    try:
        retention = timedelta(days=retention_days) if retention_days else None
        pusher = Pusher(engine, lrs_url, (user, password), batch_size=batch_size, retention=retention)
        try:
            if loop:
                stop = threading.Event()
                previous = {
                    s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)
                }
                try:
                    pusher.loop(stop, idle_s)
                finally:
                    for s, handler in previous.items():
                        signal.signal(s, handler)
            else:
                pusher.drain()
                if retention is not None:
                    pusher._prune(retention)
        finally:
            pusher.close()
        with engine.connect() as conn:
            d = outbox.depth(conn)
        s = pusher.stats
        echo(
            f"delivered {s.delivered} statement(s) ({s.duplicates} already in the LRS), {s.dead} refused, "
            f"{s.retried} to retry; outbox: {d.pending} pending, {d.dead} dead"
            + (f"; pruned {s.pruned} delivered over {retention_days} days ago" if s.pruned else "")
        )
        return s
    except sa.exc.OperationalError as exc:
        raise LocalMoocError(f"cannot reach the database: {exc.orig}") from None
    finally:
        engine.dispose()
