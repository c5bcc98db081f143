"""Bounded load test of `localmooc serve`: many learners submit quizzes at once; no 5xx, no lost writes.

    .venv/bin/python benchmarks/load_test.py --db sqlite|postgresql [--learners 200] [--concurrency 50]
        [--seconds 20] [--workers 1] [--max-submissions 200000] [--pg-url URL]

Loopback only, bounded in time and count. Starts the server in a subprocess on a fresh database (a new
SQLite file, or a new PostgreSQL database created on --pg-url's server and dropped afterwards), registers,
logs in and enrols the learners, then ``--concurrency`` keep-alive connections submit the sample course's
practice quiz, each connection acting in turn for its share of the learners (so one learner's
submissions never overlap, as in a browser). Every submission is one transaction writing state, grade,
completion and an ``attempts`` row, so afterwards the attempts rows of each learner are counted and
compared with what the server acknowledged:

* lost writes: submissions answered 2xx whose attempts row is missing (must be 0);
* phantom writes: attempts rows beyond what was sent at all (must be 0);
* 5xx answers (must be 0).

Exits 1 when any of them is not 0. ``run_load`` is the library form the test suite uses
(tests/test_load.py, tests/test_runtime_faults.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pgtools import PG_URL, throwaway_database
from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parents[1]
COURSE = "local-budget-basics"
BLOCK = "revenue-check"
SUBMIT = f"/api/courses/{COURSE}/blocks/{BLOCK}/handler/submit"
PASSWORD = "load test pass phrase 1"  # noqa: S105 - throwaway accounts on a throwaway database
MAX_SECONDS = 300.0  # hard caps whatever the options say
MAX_SUBMISSIONS = 500_000
REQUEST_TIMEOUT = 60.0  # a request slower than this counts as a hang (and fails the run)


@dataclass
class Learner:
    username: str
    learner_id: str
    cookie: str
    csrf: str


@dataclass
class LoadResult:
    learners: int = 0
    seconds: float = 0.0
    sent: Counter[str] = field(default_factory=Counter)  # learner id -> submissions sent
    acked: Counter[str] = field(default_factory=Counter)  # learner id -> 2xx answers
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0  # no answer at all (reset, EOF, timeout): neither acknowledged nor refused
    latencies: list[float] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # learner id -> attempts rows afterwards

    @property
    def submissions(self) -> int:
        return sum(self.sent.values())

    @property
    def acknowledged(self) -> int:
        return sum(self.acked.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def lost_writes(self) -> int:
        return sum(max(0, n - self.rows.get(who, 0)) for who, n in self.acked.items())

    @property
    def phantom_writes(self) -> int:
        return sum(max(0, n - self.sent.get(who, 0)) for who, n in self.rows.items())

    def percentile(self, q: float) -> float:
        """The ``q`` quantile of the latencies in milliseconds (nearest rank)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    def summary(self, label: str) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{label}: learners {self.learners}, submissions {self.submissions} in {self.seconds:.1f} s "
            f"({self.submissions / max(self.seconds, 1e-9):.0f}/s), acknowledged {self.acknowledged}, "
            f"5xx {self.server_errors}, connection errors {self.connection_errors}, "
            f"lost writes {self.lost_writes}, phantom writes {self.phantom_writes}, "
            f"p50 {self.percentile(0.50):.1f} ms, p99 {self.percentile(0.99):.1f} ms [{statuses}]"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fresh_database(kind: str, pg_url: str = PG_URL) -> Iterator[str]:
    """A new, migrated database: a SQLite file in a temporary folder, or a PostgreSQL database that is
    dropped (with its connections) afterwards."""
    from localmooc_packager.runtime.store import Store

    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="lm-load-") as tmp:
            yield f"sqlite:///{tmp}/load.db"  # `serve` migrates SQLite itself
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    with throwaway_database(pg_url, "lm_load") as url:
        store = Store(url)
        store.upgrade()  # `serve` leaves PostgreSQL migrations to `localmooc db upgrade`
        store.dispose()
        yield url


@contextmanager
def running_server(
    db_url: str, workers: int = 1, port: int | None = None
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """`localmooc serve` of the sample course on 127.0.0.1; yields (base URL, port, process)."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="lm-serve-") as tmp:
        env = {
            **os.environ,
            "LOCALMOOC_SECRET_KEY": "load-test-key-at-least-32-characters",
            "LOCALMOOC_KEY_FILE": f"{tmp}/key",
        }
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [
                    *(
                        sys.executable,
                        "-m",
                        "localmooc_packager",
                        "serve",
                        str(ROOT / "sample_courses" / COURSE),
                    ),
                    *("--db", db_url, "--port", str(port), "--workers", str(workers)),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/api/options", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)
            yield base, port, server
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)


async def _one_learner(base: str, i: int, tag: str) -> Learner:
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        await client.get("/api/csrf")
        h = {"X-CSRFToken": client.cookies["lm_csrf"]}
        username = f"{tag}{i}"
        r = await client.post(
            "/api/register",
            headers=h,
            json={
                "username": username,
                "password": PASSWORD,
                "name": f"ผู้เรียนทดสอบ {i}",
                "org_type": "local-admin-org",
                "province": "ขอนแก่น",
            },
        )
        r.raise_for_status()
        r = await client.post("/api/login", headers=h, json={"username": username, "password": PASSWORD})
        r.raise_for_status()
        learner_id = r.json()["id"]
        csrf = client.cookies["lm_csrf"]
        (await client.post(f"/api/courses/{COURSE}/enrol", headers={"X-CSRFToken": csrf})).raise_for_status()
        cookie = f"lm_session={client.cookies['lm_session']}; lm_csrf={csrf}"
        return Learner(username, learner_id, cookie, csrf)


async def register_learners(base: str, count: int, concurrency: int) -> list[Learner]:
    """Register, log in and enrol ``count`` learners, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)
    tag = f"load{secrets.token_hex(3)}n"

    async def one(i: int) -> Learner:
        async with gate:
            return await _one_learner(base, i, tag)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) of one HTTP/1.1 response; the body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    await reader.readexactly(length)
    return status, keep


async def _connection(
    port: int, mine: list[Learner], deadline: float, budget: list[int], result: LoadResult
) -> None:
    """One keep-alive connection submitting for its learners in turn; reconnects after a failure.

    Requests are pre-built bytes: httpx costs more CPU per request than the server does, and client and
    server share this machine's cores.
    """
    bodies = [b'{"responses": {"q1": "a"}}', b'{"responses": {"q1": "b"}}']
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    turn = 0
    while time.monotonic() < deadline and budget[0] > 0:
        learner = mine[turn % len(mine)]
        body = bodies[turn % 2]
        turn += 1
        budget[0] -= 1
        request = (
            f"POST {SUBMIT} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-CSRFToken: {learner.csrf}\r\nCookie: {learner.cookie}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), REQUEST_TIMEOUT)
            reader, writer = conn
            result.sent[learner.learner_id] += 1
            writer.write(request)
            status, keep = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            # No answer: the request may or may not have been committed; it is neither acknowledged
            # nor refused. A fresh connection goes on (to another worker when this one died).
            result.connection_errors += 1
            if conn is not None:
                conn[1].close()
            conn = None
            await asyncio.sleep(0.05)
            continue
        result.latencies.append(time.perf_counter() - started)
        result.statuses[status] += 1
        if 200 <= status < 300:
            result.acked[learner.learner_id] += 1
        if not keep:
            writer.close()
            conn = None
    if conn is not None:
        conn[1].close()


async def submit_load(
    port: int,
    learners: list[Learner],
    concurrency: int,
    seconds: float,
    max_submissions: int,
    during: Callable[[], None] | None = None,
    during_at: float = 0.5,
) -> LoadResult:
    """``concurrency`` connections submit for ``learners`` for ``seconds`` (at most ``max_submissions``).

    ``during`` is called once, ``during_at`` of the way through the run (the fault tests kill a worker).
    """
    result = LoadResult(learners=len(learners))
    concurrency = max(1, min(concurrency, len(learners)))
    shares = [learners[i::concurrency] for i in range(concurrency)]
    budget = [min(max_submissions, MAX_SUBMISSIONS)]
    seconds = min(seconds, MAX_SECONDS)
    started = time.monotonic()
    deadline = started + seconds

    async def fault() -> None:
        if during is not None:
            await asyncio.sleep(seconds * during_at)
            await asyncio.to_thread(during)

    await asyncio.gather(*(_connection(port, share, deadline, budget, result) for share in shares), fault())
    result.seconds = time.monotonic() - started
    return result


def count_attempts(db_url: str, learner_ids: list[str]) -> dict[str, int]:
    """attempts rows per learner for the load test's quiz."""
    from localmooc_packager.runtime.store import attempts

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(attempts.c.learner_id, func.count())
                .where(attempts.c.block_id == BLOCK, attempts.c.learner_id.in_(learner_ids))
                .group_by(attempts.c.learner_id)
            )
            return {who: int(n) for who, n in rows}
    finally:
        engine.dispose()


def run_load(
    db_url: str,
    learners: int,
    concurrency: int,
    seconds: float,
    workers: int = 1,
    max_submissions: int = MAX_SUBMISSIONS,
    during: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> LoadResult:
    """Start a server on ``db_url``, register the learners, run the load, count the attempts rows."""
    with running_server(db_url, workers) as (base, port, server):
        people = asyncio.run(register_learners(base, learners, concurrency))
        hook = (lambda: during(server)) if during is not None else None
        result = asyncio.run(submit_load(port, people, concurrency, seconds, max_submissions, hook))
    result.rows = count_attempts(db_url, [p.learner_id for p in people])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql"], required=True)
    ap.add_argument("--learners", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0, help=f"load phase (at most {MAX_SECONDS:.0f})")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-submissions", type=int, default=200_000)
    ap.add_argument("--pg-url", default=PG_URL, help="server to create the PostgreSQL database on")
    args = ap.parse_args()
    started = time.monotonic()
    with fresh_database(args.db, args.pg_url) as url:
        result = run_load(
            url, args.learners, args.concurrency, args.seconds, args.workers, args.max_submissions
        )
    label = f"{args.db}, {args.workers} worker(s), {args.concurrency} concurrent"
    print(result.summary(label))
    print(f"total run (set-up, registration, load, count): {time.monotonic() - started:.1f} s")
    failed = result.server_errors or result.lost_writes or result.phantom_writes or result.connection_errors
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
