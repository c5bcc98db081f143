"""Runtime load benchmark: quiz submissions per second over loopback HTTP, with the xblock-sdk workbench as
the peer, in one bounded run.

    .venv/bin/python benchmarks/bench_runtime.py [--seconds 4] [--clients 1,8,32] [--sizes 0,100000,1000000]
        [--sqlite-workers 1] [--pg-workers 2] [--pg URL] [--no-pg] [--no-workbench] [--json PATH]

For each database (SQLite, then PostgreSQL when it answers; otherwise the reason is printed):
  1. a fresh database, migrated; learners, sessions and enrolments inserted with bulk SQL (no argon2);
  2. ``localmooc serve`` on 127.0.0.1 in a subprocess; the bare ``GET /api/health`` of the same stack is
     measured first, as the ceiling;
  3. for each learner-state table size (rows seeded with one INSERT ... SELECT, never through HTTP) and
     each concurrency, the simulated learners submit the sample course's practice quiz in a loop for
     ``--seconds``; every submission is one transaction with session check, state, grade, completion and
     an attempts row. After each run the attempts rows written are counted and compared with the 2xx
     answers: a "lost write" is a 2xx without its row (must be 0).
PostgreSQL also gets the raw SQLAlchemy commit rate: as many threads as learners looping over a minimal INSERT +
COMMIT, once first and again right after each PostgreSQL run at the largest concurrency (the ratio uses that one).
The workbench (DEBUG off, ``django-admin migrate`` then ``runserver`` as its docs say) serves the lm-quiz
scenario; the same load generator posts to its submit handler with the CSRF cookie and header, after
20,000 rows were put in its state table.

The load generator is an asyncio protocol on uvloop (one keep-alive connection per learner, requests
pre-built, no HTTP library): it shares the machine's cores with the server, so its CPU share is reported.
Every loop is bounded by --seconds (at most 30) and MAX_REQUESTS; only 127.0.0.1 is contacted.
Writes a table to stdout and the results to benchmarks/results-runtime.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import uvloop
from pgtools import PG_URL, throwaway_database, unreachable
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localmooc_packager.runtime.store import (  # noqa: E402
    Store,
    attempts,
    enrolments,
    learners,
    sessions,
    token_hash,
)

COURSE = "local-budget-basics"
QUIZ = "revenue-check"  # the practice quiz: unlimited attempts
ANSWER = b'{"responses": {"q1": "a"}}'
MAX_REQUESTS = 2_000_000  # hard cap per run whatever --seconds says
MAX_SECONDS = 30.0
WORKBENCH_ROWS = 20_000

RESULTS = ROOT / "benchmarks" / "results-runtime.json"


# ---------------------------------------------------------------- load generator
@dataclass
class RunResult:
    name: str
    clients: int
    requests: int = 0
    ok: int = 0
    other: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    generator_cpu: float = 0.0  # share of one core used by this process during the run
    server_cpu: float = 0.0  # cores used by the server process tree during the run
    db_cpu: float = 0.0  # cores used by PostgreSQL's processes (backends, WAL writer) during the run
    server_ms_per_ok: float = 0.0  # server CPU milliseconds per 2xx: the measure that noise moves least
    load_average: float = 0.0  # 1-minute load average at the end of the run (other jobs on the machine)
    rows_written: int | None = None
    lost_writes: int | None = None
    state_rows: int | None = None
    workers: int = 1
    db: str = ""


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: send a request, parse status and Content-Length, repeat."""

    def __init__(self) -> None:
        self.buf = b""
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end]
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
        length = int(m.group(1)) if m else 0
        if len(self.buf) < end + 4 + length:
            return
        self.buf = self.buf[end + 4 + length :]
        close = re.search(rb"\r\nconnection: *close", head, re.IGNORECASE) is not None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((int(head[9:12]), close))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))


async def _client(
    port: int,
    make: Callable[[int], bytes],
    deadline: float,
    latencies: list[int],
    statuses: dict[str, int],
) -> None:
    loop = asyncio.get_running_loop()
    conn: _Conn | None = None
    n = 0
    while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
        if conn is None or conn.closed:
            _t, conn = await loop.create_connection(_Conn, "127.0.0.1", port)
        request = make(n)
        n += 1
        conn.waiter = loop.create_future()
        t0 = time.perf_counter_ns()
        assert conn.transport is not None
        conn.transport.write(request)
        try:
            status, close = await conn.waiter
        except ConnectionError:
            statuses["conn-error"] = statuses.get("conn-error", 0) + 1
            conn = None
            continue
        latencies.append(time.perf_counter_ns() - t0)
        key = str(status)
        statuses[key] = statuses.get(key, 0) + 1
        if close and conn.transport is not None:
            conn.transport.close()
            conn = None
    if conn is not None and conn.transport is not None:
        conn.transport.close()


def load(
    name: str, port: int, makers: list[Callable[[int], bytes]], seconds: float, server_pids: list[int]
) -> RunResult:
    """Run one client per maker until the deadline (each finishes its request in flight: exact counts)."""
    latencies: list[int] = []
    statuses: dict[str, int] = {}

    async def main() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_client(port, mk, deadline, latencies, statuses) for mk in makers))
        return time.perf_counter() - started

    cpu0, srv0, db0 = time.process_time(), _cpu_seconds(server_pids), _cpu_seconds(_postgres_pids())
    elapsed = uvloop.run(main())
    cpu1, srv1, db1 = time.process_time(), _cpu_seconds(server_pids), _cpu_seconds(_postgres_pids())
    latencies.sort()
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    return RunResult(
        name=name,
        clients=len(makers),
        requests=len(latencies),
        ok=ok,
        other={k: v for k, v in statuses.items() if not k.startswith("2")},
        seconds=elapsed,
        per_second=ok / elapsed,
        p50_ms=latencies[len(latencies) // 2] / 1e6 if latencies else 0.0,
        p99_ms=latencies[max(int(len(latencies) * 0.99) - 1, 0)] / 1e6 if latencies else 0.0,
        generator_cpu=(cpu1 - cpu0) / elapsed,
        server_cpu=(srv1 - srv0) / elapsed,
        db_cpu=(db1 - db0) / elapsed,
        server_ms_per_ok=(srv1 - srv0) * 1000 / ok if ok else 0.0,
        load_average=os.getloadavg()[0],
    )


def _postgres_pids() -> list[int]:
    """PostgreSQL's processes on this machine (any database: other jobs' use is included)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _cpu_seconds(pids: list[int]) -> float:
    """user+system CPU of processes and their children, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(k) for k in kids)
    return total


# ---------------------------------------------------------------- our server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}) before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - http://127.0.0.1 built here
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url} within {timeout:.0f} s")


@contextmanager
def serve(db_url: str, workers: int, tmp: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "LOCALMOOC_SECRET_KEY": SECRET_KEY, "LOCALMOOC_KEY_FILE": str(tmp / "key")}
    cmd = [sys.executable, "-m", "localmooc_packager", "serve", str(ROOT / "sample_courses" / COURSE)]
    cmd += ["--db", db_url, "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", proc)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


SECRET_KEY = "benchmark-key-at-least-32-characters"  # noqa: S105 - a throwaway database


def _csrf(token: str) -> str:
    """The CSRF token the server expects with this session (bound to it: an HMAC under the key), or a
    random one for a runtime from before that binding (the double-submit cookie then decides)."""
    try:
        from localmooc_packager.runtime.security import Secrets

        return Secrets(SECRET_KEY.encode()).csrf_for_session(token)
    except (ImportError, AttributeError):
        return secrets.token_urlsafe(32)


def seed_learners(store: Store, n: int) -> list[tuple[str, str]]:
    """``n`` enrolled learners with open sessions; returns (session token, csrf token) per learner."""
    at = datetime.now(UTC)
    out, rows_l, rows_s, rows_e = [], [], [], []
    for i in range(n):
        lid = f"bench-{i:04d}-{secrets.token_hex(4)}"
        token = secrets.token_urlsafe(32)
        out.append((token, _csrf(token)))
        rows_l.append({"id": lid, "role": "learner", "created_at": at})
        rows_s.append(
            {
                "token_hash": token_hash(token),
                "learner_id": lid,
                "created_at": at,
                "expires_at": at + timedelta(hours=2),
            }
        )
        rows_e.append({"learner_id": lid, "course_id": COURSE, "created_at": at, "study_seconds": 0})
    with store.write() as conn:
        conn.execute(learners.insert(), rows_l)
        conn.execute(sessions.insert(), rows_s)
        conn.execute(enrolments.insert(), rows_e)
    return out


def seed_state(store: Store, target: int) -> int:
    """Fill learner_state up to ``target`` rows with one INSERT ... SELECT (5 fields of a quiz for each
    synthetic learner, spread over 50 block ids); returns the row count."""
    with store.read() as conn:
        have = conn.execute(text("SELECT count(*) FROM learner_state")).scalar_one()
    need = target - have
    if need <= 0:
        return have
    at = store.db_time(datetime.now(UTC))
    if store.is_sqlite:
        sql = """
        WITH RECURSIVE n(i) AS (SELECT :start UNION ALL SELECT i + 1 FROM n WHERE i < :stop)
        INSERT INTO learner_state (course_id, scope, learner_id, block_id, field, value, updated_at)
        SELECT :course, 'user_state', 'seed-' || (i / 5), 'block-' || ((i / 5) % 50),
               CASE i % 5 WHEN 0 THEN 'attempts_used' WHEN 1 THEN 'earned' WHEN 2 THEN 'best_earned'
                          WHEN 3 THEN 'responses' ELSE 'results' END,
               CASE i % 5 WHEN 3 THEN :responses WHEN 4 THEN :results ELSE '1' END,
               :at FROM n"""
    else:
        sql = """
        INSERT INTO learner_state (course_id, scope, learner_id, block_id, field, value, updated_at)
        SELECT :course, 'user_state', 'seed-' || (i / 5), 'block-' || ((i / 5) % 50),
               CASE i % 5 WHEN 0 THEN 'attempts_used' WHEN 1 THEN 'earned' WHEN 2 THEN 'best_earned'
                          WHEN 3 THEN 'responses' ELSE 'results' END,
               CASE i % 5 WHEN 3 THEN :responses WHEN 4 THEN :results ELSE '1' END,
               :at FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) AS i"""
    with store.write() as conn:
        values = {"responses": '{"q1":"a","q2":"b"}', "results": '{"q1":true,"q2":false}'}
        conn.execute(text(sql), {"start": have, "stop": target - 1, "course": COURSE, "at": at, **values})
    with store.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
        if store.is_sqlite:  # measure the steady state, not the copy-back of the seeding's WAL
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return conn.execute(text("SELECT count(*) FROM learner_state")).scalar_one()


def count_attempts(store: Store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(attempts)).scalar_one()


def submit_makers(port: int, auth: list[tuple[str, str]], n: int) -> list[Callable[[int], bytes]]:
    makers = []
    for token, csrf in auth[:n]:
        request = (
            f"POST /api/courses/{COURSE}/blocks/{QUIZ}/handler/submit HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nX-CSRFToken: {csrf}\r\n"
            f"Cookie: lm_session={token}; lm_csrf={csrf}\r\nContent-Length: {len(ANSWER)}\r\n\r\n"
        ).encode() + ANSWER
        makers.append(lambda _n, r=request: r)
    return makers


def health_makers(port: int, n: int) -> list[Callable[[int], bytes]]:
    request = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    return [lambda _n: request for _ in range(n)]


def bench_runtime(
    db_url: str,
    label: str,
    workers: int,
    sizes: list[int],
    clients: list[int],
    seconds: float,
    tmp: Path,
    raw_url: str | None = None,
) -> list[RunResult]:
    """The matrix on one database. ``raw_url`` (PostgreSQL): the raw commit loop runs right after each run
    at the largest concurrency, with as many threads, so that both see the same machine (other jobs on a
    shared machine move either rate by a third from one minute to the next)."""
    store = Store(db_url)
    store.upgrade()
    auth = seed_learners(store, max(clients))
    results: list[RunResult] = []
    with serve(db_url, workers, tmp) as (port, proc):
        pids = [proc.pid]
        load("warm-up", port, submit_makers(port, auth, max(clients)), 1.0, pids)
        r = load("bare GET /api/health", port, health_makers(port, max(clients)), seconds, pids)
        r.workers, r.db = workers, label
        results.append(r)
        print(_row(r), flush=True)
        for size in sizes:
            rows = seed_state(store, size)
            for n in clients:
                before = count_attempts(store)
                r = load("quiz submit", port, submit_makers(port, auth, n), seconds, pids)
                r.rows_written = count_attempts(store) - before
                r.lost_writes = max(r.ok - r.rows_written, 0)
                r.state_rows, r.workers, r.db = rows, workers, label
                results.append(r)
                print(_row(r), flush=True)
                if raw_url is not None and n == max(clients):
                    raw = raw_commit_rate(raw_url, n, seconds)
                    raw.name, raw.state_rows, raw.workers = RAW_BESIDE, rows, workers
                    results.append(raw)
                    print(_row(raw), flush=True)
    store.dispose()
    return results


def bench_interleaved(
    db_urls: list[str],
    label: str,
    workers: int,
    sizes: list[int],
    clients: int,
    seconds: float,
    tmp: Path,
    rounds: int,
) -> list[RunResult]:
    """``--interleave``: one database and one server per table size, all up at once, and the sizes measured
    in turn, ``rounds`` times (A B, B A, A B ...), at one concurrency. The sizes then share the machine's
    moments: in one pass over growing sizes, the load of other jobs and the run order move CPU per
    submission by more than the table size does."""
    results: list[RunResult] = []
    with ExitStack() as stack:
        servers = []
        for url, size in zip(db_urls, sizes, strict=True):
            store = Store(url)
            store.upgrade()
            auth = seed_learners(store, clients)
            rows = seed_state(store, size)
            port, proc = stack.enter_context(serve(url, workers, tmp))
            load("warm-up", port, submit_makers(port, auth, clients), 1.0, [proc.pid])
            servers.append((store, auth, rows, port, proc))
        for _round in range(rounds):
            port, proc = servers[0][3], servers[0][4]
            r = load("bare GET /api/health", port, health_makers(port, clients), seconds, [proc.pid])
            r.workers, r.db = workers, label
            results.append(r)
            print(_row(r), flush=True)
            # A B, then B A: neither size always runs first (right after the GET or the other size).
            for store, auth, rows, port, proc in servers if _round % 2 == 0 else servers[::-1]:
                before = count_attempts(store)
                r = load("quiz submit", port, submit_makers(port, auth, clients), seconds, [proc.pid])
                r.rows_written = count_attempts(store) - before
                r.lost_writes = max(r.ok - r.rows_written, 0)
                r.state_rows, r.workers, r.db = rows, workers, label
                results.append(r)
                print(_row(r), flush=True)
        for store, *_rest in servers:
            store.dispose()
    return results


def interleaved_targets(results: list[RunResult]) -> list[str]:
    """``--interleave``: per database, the median CPU per submission of each table size over the rounds
    (in bare GETs: the median GET of the rounds), and the change from the smallest to the largest size,
    as the median of the rounds' own changes and their range."""
    out = []
    for db, workers in dict.fromkeys((r.db, r.workers) for r in results if r.name == "quiz submit"):
        gets = [r for r in results if r.name.startswith("bare") and (r.db, r.workers) == (db, workers)]
        subs = [r for r in results if r.name == "quiz submit" and (r.db, r.workers) == (db, workers)]
        sizes = sorted({r.state_rows or 0 for r in subs})
        by_size = {n: [r for r in subs if (r.state_rows or 0) == n] for n in sizes}
        get = statistics.median(r.server_ms_per_ok for r in gets)
        for n in sizes:
            ms = statistics.median(r.server_ms_per_ok for r in by_size[n])
            rate = statistics.median(r.per_second for r in by_size[n])
            out.append(
                f"{db} {workers}w, {subs[0].clients} learners, {n:,} rows, median of {len(by_size[n])}: "
                f"{ms:.3f} ms of server CPU per submission ({ms / get:.1f} bare GETs of {get:.3f} ms), {rate:,.0f}/s"
            )
        if len(sizes) > 1:
            small, large = by_size[sizes[0]], by_size[sizes[-1]]
            cpu = [b.server_ms_per_ok / a.server_ms_per_ok - 1 for a, b in zip(small, large, strict=False)]
            rate_ = [b.per_second / a.per_second - 1 for a, b in zip(small, large, strict=False)]
            out.append(
                f"{db} {workers}w: {sizes[0]:,} -> {sizes[-1]:,} rows, each round's own change: CPU per "
                f"submission {statistics.median(cpu) * 100:+.0f} % (median; {min(cpu) * 100:+.0f} to "
                f"{max(cpu) * 100:+.0f} %), rate {statistics.median(rate_) * 100:+.0f} % "
                f"({min(rate_) * 100:+.0f} to {max(rate_) * 100:+.0f} %)"
            )
    return out


# ---------------------------------------------------------------- PostgreSQL
RAW = "raw SQLAlchemy INSERT+COMMIT"
RAW_BESIDE = RAW + " (beside)"  # the same loop, right after a quiz run at the largest concurrency


def raw_commit_rate(url: str, threads: int, seconds: float) -> RunResult:
    """Minimal INSERT + COMMIT transactions through SQLAlchemy from ``threads`` threads."""
    engine = create_engine(url, pool_size=threads, max_overflow=0)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, v integer NOT NULL)")
        )
        before = conn.execute(text("SELECT count(*) FROM bench_raw")).scalar_one()
    counts = [0] * threads
    latencies: list[list[int]] = [[] for _ in range(threads)]
    deadline = time.perf_counter() + seconds

    def work(i: int) -> None:
        stmt = text("INSERT INTO bench_raw (v) VALUES (:v)")
        while time.perf_counter() < deadline and counts[i] < MAX_REQUESTS:
            t0 = time.perf_counter_ns()
            with engine.begin() as conn:
                conn.execute(stmt, {"v": i})
            latencies[i].append(time.perf_counter_ns() - t0)
            counts[i] += 1

    started = time.perf_counter()
    cpu0, db0 = time.process_time(), _cpu_seconds(_postgres_pids())
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    cpu1, db1 = time.process_time(), _cpu_seconds(_postgres_pids())
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM bench_raw")).scalar_one() - before
    engine.dispose()
    lat = sorted(x for ls in latencies for x in ls)
    return RunResult(
        name=RAW,
        clients=threads,
        requests=sum(counts),
        ok=sum(counts),
        seconds=elapsed,
        per_second=sum(counts) / elapsed,
        p50_ms=lat[len(lat) // 2] / 1e6,
        p99_ms=lat[int(len(lat) * 0.99) - 1] / 1e6,
        rows_written=rows,
        lost_writes=max(sum(counts) - rows, 0),
        db="postgresql",
        load_average=os.getloadavg()[0],
        # The loop's own process is its "server": SQLAlchemy and psycopg around each commit.
        server_cpu=(cpu1 - cpu0) / elapsed,
        server_ms_per_ok=(cpu1 - cpu0) * 1000 / sum(counts),
        db_cpu=(db1 - db0) / elapsed,
    )


# ---------------------------------------------------------------- the xblock-sdk workbench
WB_SETTINGS = """from workbench.settings import *  # noqa: F403 - the workbench's own settings, DEBUG off

DEBUG = False
TEMPLATES[0]["OPTIONS"]["debug"] = False  # noqa: F405
ALLOWED_HOSTS = ["127.0.0.1"]
"""


def bench_workbench(clients: list[int], seconds: float, tmp: Path) -> list[RunResult]:
    home = tmp / "workbench"
    (home / "var").mkdir(parents=True)
    (home / "bench_wb_settings.py").write_text(WB_SETTINGS)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench_wb_settings",
        "PYTHONPATH": str(home),
        "PYTHONWARNINGS": "ignore",
    }
    admin = shutil.which("django-admin", path=str(Path(sys.executable).parent)) or "django-admin"
    subprocess.run(
        [admin, "migrate", "--noinput"], cwd=home, env=env, check=True, capture_output=True, timeout=300
    )
    port = free_port()
    proc = subprocess.Popen(
        [admin, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/", proc)
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/scenario/lm-quiz.0/?student=seed").read().decode()
        usage = re.search(r"data-usage=[\"']([^\"']+)[\"'][^>]*data-block-type=[\"']lm-quiz", page)
        if usage is None:
            raise SystemExit("workbench: the lm-quiz scenario has no quiz block")
        csrf = next(c.value for c in jar if c.name == "csrftoken")
        _seed_workbench(home / "var" / "workbench.db", usage.group(1))
        for run, n in enumerate(clients, 1):
            makers = []
            for c in range(n):
                # The scenario's quiz allows 3 attempts: each simulated learner moves to a new student
                # name every 3 submissions, so every submission is a graded one (a 200).
                def make(i: int, c: int = c, run: int = run) -> bytes:
                    return (
                        f"POST /handler/{usage.group(1)}/submit/?student=r{run}c{c}s{i // 3} HTTP/1.1\r\n"
                        f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nX-CSRFToken: {csrf}\r\n"
                        f"Cookie: csrftoken={csrf}\r\nContent-Length: {len(ANSWER)}\r\n\r\n"
                    ).encode() + ANSWER

                makers.append(make)
            r = load("workbench quiz submit", port, makers, seconds, [proc.pid])
            r.db, r.state_rows = "sqlite (Django)", _count(home / "var" / "workbench.db")
            results.append(r)
            print(_row(r), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return results


def _seed_workbench(db: Path, usage: str) -> None:
    """WORKBENCH_ROWS rows of other students' state for the same block, like a used installation."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO workbench_xblockstate (scope, scope_id, user_id, scenario, tag, created, state)
            SELECT 'usage', ?, 'seed' || i, 'lm-quiz.0', 'lm-quiz', datetime('now'),
                   '{"attempts_used": 1, "earned": 1.0, "best_earned": 1.0}' FROM n""",
            (WORKBENCH_ROWS - 1, usage),
        )


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM workbench_xblockstate").fetchone()[0])


# ---------------------------------------------------------------- report
def _row(r: RunResult) -> str:
    rows = f"{r.state_rows:>9,}" if r.state_rows is not None else " " * 9
    lost = str(r.lost_writes) if r.lost_writes is not None else "-"
    other = ",".join(f"{k}:{v}" for k, v in sorted(r.other.items())) or "-"
    return (
        f"{r.db:<16} {r.workers:>2}w {r.name:<28} {r.clients:>3} {rows} {r.per_second:>8.0f}/s "
        f"p50 {r.p50_ms:>7.2f} ms p99 {r.p99_ms:>7.2f} ms  lost {lost:<3} non-2xx {other:<12} "
        f"gen {r.generator_cpu * 100:>3.0f}% srv {r.server_cpu * 100:>4.0f}% "
        f"srv/2xx {r.server_ms_per_ok:.3f} ms pg {r.db_cpu * 100:>4.0f}% load {r.load_average:.1f}"
    )


def targets(results: list[RunResult]) -> list[str]:
    """Issue 17's runtime targets, each a ratio within this run: a submission's server CPU in bare GETs of
    the same server (<= 5 on SQLite, 1 worker, 32 learners), PostgreSQL's rate against the raw commit rate
    (>= 80 %), the change from the smallest to the largest state table (within 20 %)."""
    out = []
    groups: dict[tuple[str, int], list[RunResult]] = {}
    for r in results:
        if r.name in ("bare GET /api/health", "quiz submit"):
            groups.setdefault((r.db, r.workers), []).append(r)
    raw = next((r for r in results if r.name == RAW), None)
    beside = {(r.workers, r.state_rows): r for r in results if r.name == RAW_BESIDE}
    for (db, workers), runs in groups.items():
        get = next((r for r in runs if r.name.startswith("bare")), None)
        subs = [r for r in runs if r.name == "quiz submit" and r.clients == max(x.clients for x in runs)]
        if get is None or not subs:
            continue
        for r in subs:
            line = (
                f"{db} {workers}w, {r.clients} learners, {r.state_rows or 0:,} rows: a submission costs "
                f"{r.server_ms_per_ok / get.server_ms_per_ok:.1f} bare GETs of server CPU "
                f"({r.server_ms_per_ok:.3f} / {get.server_ms_per_ok:.3f} ms)"
            )
            peer = beside.get((workers, r.state_rows))
            if db == "postgresql" and peer is not None and peer.clients == r.clients:
                # The rate ratio depends on the CPU share each side wins on a shared machine (the raw loop
                # runs 32 threads and 32 backends, the server two workers): also the ratio of the CPU
                # each spends per transaction (its process and PostgreSQL's), the rate on idle cores.
                ours = r.server_ms_per_ok + r.db_cpu * 1000 / r.per_second
                theirs = peer.server_ms_per_ok + peer.db_cpu * 1000 / peer.per_second
                line += (
                    f"; {r.per_second / peer.per_second * 100:.0f} % of the raw commit rate measured beside it "
                    f"({peer.per_second:,.0f}/s); CPU per transaction with PostgreSQL's {ours:.3f} vs "
                    f"{theirs:.3f} ms ({theirs / ours * 100:.0f} %)"
                )
            elif db == "postgresql" and raw is not None and raw.clients == r.clients:
                line += f"; {r.per_second / raw.per_second * 100:.0f} % of the raw commit rate"
            out.append(line + f"; load {r.load_average:.1f}")
        if len(subs) > 1:
            first, last = subs[0], subs[-1]
            out.append(
                f"{db} {workers}w: {first.state_rows or 0:,} -> {last.state_rows or 0:,} rows: rate "
                f"{(last.per_second / first.per_second - 1) * 100:+.0f} %, CPU per submission "
                f"{(last.server_ms_per_ok / first.server_ms_per_ok - 1) * 100:+.0f} %"
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="per measured run (at most 30)")
    ap.add_argument("--clients", default="1,8,32", help="concurrent simulated learners")
    ap.add_argument("--sizes", default="0,100000,1000000", help="learner_state rows")
    ap.add_argument("--sqlite-workers", default="1,2", help="worker counts to run the SQLite matrix with")
    ap.add_argument("--pg-workers", default="2", help="worker counts to run the PostgreSQL matrix with")
    ap.add_argument("--pg", default=PG_URL, help="a PostgreSQL URL whose user may create databases")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-workbench", action="store_true")
    ap.add_argument("--json", type=Path, default=RESULTS)
    ap.add_argument(
        "--interleave",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="a server per table size, sizes measured in turn ROUNDS times at the largest --clients "
        "(separates the table size from the machine's noise); no raw loop or workbench",
    )
    args = ap.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)
    clients = [int(c) for c in args.clients.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    started = datetime.now(UTC)
    results: list[RunResult] = []
    notes: list[str] = []
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; {seconds:g} s per run",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="lm-bench-") as name:
        tmp = Path(name)
        if args.interleave:
            _interleave(args, sizes, max(clients), seconds, tmp, started)
            return
        for i, w in enumerate(int(x) for x in args.sqlite_workers.split(",") if x):
            db = f"sqlite:///{tmp / f'bench{i}.db'}"
            results += bench_runtime(db, "sqlite", w, sizes, clients, seconds, tmp)
        why = "--no-pg given" if args.no_pg else unreachable(args.pg)
        if why:
            notes.append(f"PostgreSQL skipped: {why}")
            print(notes[-1], flush=True)
        else:
            with throwaway_database(args.pg, "lm_bench") as raw_url:
                raw = raw_commit_rate(raw_url, max(clients), seconds)
                print(_row(raw), flush=True)
                results.append(raw)
                for w in (int(x) for x in args.pg_workers.split(",") if x):
                    with throwaway_database(args.pg, "lm_bench") as url:
                        results += bench_runtime(url, "postgresql", w, sizes, clients, seconds, tmp, raw_url)
        if args.no_workbench:
            notes.append("workbench skipped: --no-workbench given")
        else:
            results += bench_workbench(clients, seconds, tmp)
    _report(args.json, started, seconds, results, targets(results), notes=notes)


def _report(
    out: Path,
    started: datetime,
    seconds: float,
    results: list[RunResult],
    target_lines: list[str],
    **extra: Any,
) -> None:
    """Print the target lines, write the JSON report, and fail the run if any write was lost."""
    report = {
        "date": started.isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average_end": os.getloadavg()[0],
        "python": platform.python_version(),
        "seconds_per_run": seconds,
        **extra,
        "results": [asdict(r) for r in results],
        "targets": target_lines,
    }
    for line in target_lines:
        print(line)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    lost = sum(r.lost_writes or 0 for r in results)
    print(f"lost writes: {lost}; results in {out}")
    if lost:
        raise SystemExit(1)


def _interleave(
    args: argparse.Namespace, sizes: list[int], clients: int, seconds: float, tmp: Path, started: datetime
) -> None:
    results: list[RunResult] = []
    for i, w in enumerate(int(x) for x in args.sqlite_workers.split(",") if x):
        urls = [f"sqlite:///{tmp / f'il{i}-{n}.db'}" for n in sizes]
        results += bench_interleaved(urls, "sqlite", w, sizes, clients, seconds, tmp, args.interleave)
    why = "--no-pg given" if args.no_pg else unreachable(args.pg)
    for w in (int(x) for x in args.pg_workers.split(",") if x and not why):
        with ExitStack() as stack:
            urls = [stack.enter_context(throwaway_database(args.pg, "lm_bench")) for _ in sizes]
            results += bench_interleaved(urls, "postgresql", w, sizes, clients, seconds, tmp, args.interleave)
    _report(
        args.json,
        started,
        seconds,
        results,
        interleaved_targets(results),
        interleave_rounds=args.interleave,
        notes=[f"PostgreSQL skipped: {why}"] if why else [],
    )


if __name__ == "__main__":
    main()
