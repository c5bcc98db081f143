"""Several runtime nodes on one PostgreSQL: throughput and server CPU per submission, 1 node against 3.

    .venv/bin/python benchmarks/bench_multinode.py [--learners 64] [--seconds 15] [--workers 2]
        [--no-pgbouncer] [--json benchmarks/results-multinode.json]

Loopback only, bounded in time and count. Starts a deployment of its own (tests/cluster_support.py):
a PostgreSQL cluster initdb'd into a temporary folder, PgBouncer in transaction mode in front of it,
3 nodes of ``localmooc serve`` × ``--workers`` and two haproxy instances, one with node 1 only and one
with all three. The same learners then load each proxy for ``--seconds``: every learner on its own
keep-alive connection views a unit, submits the unlimited practice quiz and now and then the graded
quiz that allows 2 attempts. Server CPU is the user + system time of the nodes' processes (from /proc)
over the phase, divided by the acknowledged submissions. Afterwards the attempts rows are counted in the
database: every acknowledged submission must be there, and no learner may have more than 2 attempts of
the graded quiz. Exits 1 when anything was lost or a limit exceeded.

``run_learners`` (the load of one phase, with per-request timestamps) and ``check_database`` are the
library the multi-node fault test uses (tests/test_multinode.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import load_test  # noqa: E402
from load_test import COURSE, Learner, _read_response  # noqa: E402

PRACTICE = "revenue-check"  # unlimited attempts
GRADED = "process-quiz"  # attempts: 2
GRADED_LIMIT = 2
UNIT = "revenue"
BODIES = {PRACTICE: b'{"responses": {"q1": "a"}}', GRADED: b'{"responses": {"q1": "b"}}'}
MAX_SECONDS = 120.0
MAX_REQUESTS = 400_000
REQUEST_TIMEOUT = 30.0


@dataclass
class Run:
    """Every request of a phase: (seconds from the start to its answer or failure, kind, status; -1 = no
    answer at all: reset, EOF or timeout)."""

    started: float = 0.0
    seconds: float = 0.0
    events: list[tuple[float, str, int]] = field(default_factory=list)
    sent: Counter[tuple[str, str]] = field(default_factory=Counter)  # (learner, block) -> submissions
    acked: Counter[tuple[str, str]] = field(default_factory=Counter)  # (learner, block) -> 2xx
    refused: Counter[str] = field(default_factory=Counter)  # block -> 409 "no attempts left"
    faults_pending: int = 0  # fault actions not finished yet: the load goes on until they are

    def count(self, ok: bool | None = None, kinds: tuple[str, ...] = (PRACTICE, GRADED, "unit")) -> int:
        return sum(1 for _t, k, s in self.events if k in kinds and (ok is None or (200 <= s < 300) is ok))

    @property
    def submissions_acked(self) -> int:
        return sum(self.acked.values())

    def errors(self) -> list[tuple[float, str, int]]:
        """5xx answers and connection errors."""
        return [e for e in self.events if e[2] >= 500 or e[2] < 0]

    def rate_per_second(self, start: float, end: float) -> list[int]:
        """2xx answers in each whole second of [start, end) (per-second buckets)."""
        buckets = [0] * max(0, int(end - start))
        for t, _k, s in self.events:
            if 200 <= s < 300 and start <= t < start + len(buckets):
                buckets[int(t - start)] += 1
        return buckets

    def recovery(self, at: float, baseline: float, share: float = 0.5, limit: float = 30.0) -> float | None:
        """Seconds from ``at`` until a one-second window (sliding by 0.1 s) holds ``share`` of the
        ``baseline`` per-second rate again; None if it never does within ``limit``."""
        ok = sorted(t for t, _k, s in self.events if 200 <= s < 300 and t >= at)
        lo = 0
        step = 0.0
        while step <= limit:
            start = at + step
            while lo < len(ok) and ok[lo] < start:
                lo += 1
            hi = lo
            while hi < len(ok) and ok[hi] < start + 1.0:
                hi += 1
            if start + 1.0 > self.seconds:
                return None
            if hi - lo >= share * baseline:
                return round(step + 1.0, 1)
            step += 0.1
        return None


async def _learner_loop(
    port: int, learner: Learner, deadline: list[float], budget: list[int], run: Run, pace: float
) -> None:
    """One learner on one keep-alive connection: unit views, practice quiz, now and then the graded quiz
    (its 3rd and later submissions are refused with 409), a request every ``pace`` seconds at most (0:
    as fast as answers come). Reconnects after a failure, as a browser does."""
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    turn = 0
    next_at = time.monotonic()
    hard_end = run.started + MAX_SECONDS
    while (
        (time.monotonic() < deadline[0] or run.faults_pending)
        and time.monotonic() < hard_end
        and budget[0] > 0
    ):
        if pace:
            next_at += pace
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        budget[0] -= 1
        turn += 1
        if turn % 5 == 0:
            kind = "unit"
            head = f"GET /api/courses/{COURSE}/units/{UNIT} HTTP/1.1\r\n"
            body = b""
        else:
            kind = GRADED if turn % 10 == 3 else PRACTICE
            body = BODIES[kind]
            head = (
                f"POST /api/courses/{COURSE}/blocks/{kind}/handler/submit HTTP/1.1\r\n"
                f"Content-Type: application/json\r\nX-CSRFToken: {learner.csrf}\r\n"
            )
        request = (
            f"{head}Host: 127.0.0.1:{port}\r\nCookie: {learner.cookie}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        if kind != "unit":
            run.sent[(learner.learner_id, kind)] += 1
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), REQUEST_TIMEOUT)
            reader, writer = conn
            writer.write(request)
            status, keep = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            run.events.append((time.monotonic() - run.started, kind, -1))
            if conn is not None:
                conn[1].close()
            conn = None
            await asyncio.sleep(0.05)
            continue
        run.events.append((time.monotonic() - run.started, kind, status))  # when the answer came
        if 200 <= status < 300 and kind != "unit":
            run.acked[(learner.learner_id, kind)] += 1
        elif status == 409:
            run.refused[kind] += 1
        elif status >= 500:
            await asyncio.sleep(0.05)  # as a browser's retry would wait a little
        if not keep:
            writer.close()
            conn = None
    if conn is not None:
        conn[1].close()


async def _phase(
    port: int,
    learners: list[Learner],
    seconds: float,
    faults: list[tuple[float, Callable[[], None]]],
    pace: float,
) -> Run:
    run = Run(started=time.monotonic())
    deadline = [run.started + min(seconds, MAX_SECONDS)]
    budget = [MAX_REQUESTS]
    run.faults_pending = len(faults)

    async def fault(at: float, action: Callable[[], None]) -> None:
        await asyncio.sleep(max(0.0, run.started + at - time.monotonic()))
        try:
            await asyncio.to_thread(action)
        finally:
            run.faults_pending -= 1
        # The load goes on for 6 s after every fault action (a slow restart must not end the run
        # before recovery can be seen), within the hard cap.
        deadline[0] = min(max(deadline[0], time.monotonic() + 6.0), run.started + MAX_SECONDS)

    await asyncio.gather(
        *(_learner_loop(port, p, deadline, budget, run, pace) for p in learners),
        *(fault(at, action) for at, action in faults),
    )
    run.seconds = time.monotonic() - run.started
    return run


def run_learners(
    port: int,
    learners: list[Learner],
    seconds: float,
    faults: list[tuple[float, Callable[[], None]]] | None = None,
    pace: float = 0.0,
) -> Run:
    """Load the proxy at ``port`` with ``learners`` for ``seconds``; ``faults``: (seconds in, callable)."""
    return asyncio.run(_phase(port, learners, seconds, faults or [], pace))


def register(base: str, count: int) -> list[Learner]:
    """Register, log in and enrol ``count`` learners through ``base`` (16 at a time)."""
    return asyncio.run(load_test.register_learners(base, count, 16))


@dataclass
class DbCheck:
    lost: int  # acknowledged submissions without their attempts row
    over_limit: int  # learners with more than GRADED_LIMIT attempts of the graded quiz
    phantom: int  # rows beyond what was sent (a proxy retry of a request that had committed)
    rows: int


def check_database(db_url: str, runs: list[Run]) -> DbCheck:
    from sqlalchemy import create_engine, func, select

    from localmooc_packager.runtime.store import attempts

    sent: Counter[tuple[str, str]] = Counter()
    acked: Counter[tuple[str, str]] = Counter()
    for r in runs:
        sent.update(r.sent)
        acked.update(r.acked)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = {
                (who, block): int(n)
                for who, block, n in conn.execute(
                    select(attempts.c.learner_id, attempts.c.block_id, func.count()).group_by(
                        attempts.c.learner_id, attempts.c.block_id
                    )
                )
            }
    finally:
        engine.dispose()
    learners = {who for who, _b in sent}
    rows = {k: n for k, n in rows.items() if k[0] in learners}  # this run's learners only
    return DbCheck(
        lost=sum(max(0, n - rows.get(k, 0)) for k, n in acked.items()),
        over_limit=sum(1 for (_w, b), n in rows.items() if b == GRADED and n > GRADED_LIMIT),
        phantom=sum(max(0, n - sent.get(k, 0)) for k, n in rows.items()),
        rows=sum(rows.values()),
    )


def fault_run(dep: Any, learners: list[Learner], seconds: float = 20.0, pace: float = 0.4) -> dict[str, Any]:
    """The fault scenario on a 3-node deployment (``cluster_support.deployment``): SIGKILL node 2 at
    5 s and start it again at 8 s; restart PostgreSQL (immediate mode: as after a crash, recovery from
    its WAL) at 13 s. Each learner sends a request every ``pace`` s (an offered load below the
    machine's capacity, so that "recovered" means "serves the offered load again"). Returns the
    figures; ``run`` and ``check`` for the test's assertions."""
    marks: dict[str, float] = {}

    def kill() -> None:
        marks["kill"] = time.monotonic()
        dep.nodes[1].kill()

    def restart_node() -> None:
        marks["node_restart"] = time.monotonic()
        dep.nodes[1].start()
        dep.nodes[1].wait_ready()
        marks["node_back"] = time.monotonic()

    def restart_pg() -> None:
        marks["pg_down"] = time.monotonic()
        dep.pg.restart("immediate")
        marks["pg_back"] = time.monotonic()

    run = run_learners(
        dep.proxy.port, learners, seconds, [(5.0, kill), (8.0, restart_node), (13.0, restart_pg)], pace
    )
    at = {k: round(v - run.started, 2) for k, v in marks.items()}
    windows = {"node": (at["kill"], at["node_back"]), "postgresql": (at["pg_down"], at["pg_back"])}
    pre = run.rate_per_second(1.0, at["kill"])
    baseline = statistics.median(pre) if pre else 0.0
    errors = run.errors()

    def inside(t: float, grace: float) -> str | None:
        for name, (a, b) in sorted(windows.items(), reverse=True):  # postgresql's first: it is shorter
            if a <= t <= b + grace:
                return name
        return None

    return {
        "run": run,
        "check": check_database(dep.direct_url, [run]),
        "marks_s": at,
        "baseline_2xx_per_s": baseline,
        "per_second_2xx": run.rate_per_second(0, run.seconds),
        "recovery_s": {
            "node_kill": run.recovery(at["kill"], baseline),
            "postgresql_restart": run.recovery(at["pg_back"], baseline),
        },
        "errors_total": len(errors),
        "errors_by_window": dict(Counter(inside(t, 0.0) or "after the window" for t, _k, _s in errors)),
        "errors_outside_windows_plus_5s": sum(1 for t, _k, _s in errors if inside(t, 5.0) is None),
        "errors_by_status": dict(Counter(s for _t, _k, s in errors)),
        "error_times_s": sorted({round(t, 1) for t, _k, _s in errors}),
        "requests": len(run.events),
        "node_log_problems": node_log_problems(dep),
        "submissions_acked": run.submissions_acked,
        "refused_409": dict(run.refused),
    }


def node_log_problems(dep: Any) -> dict[str, int]:
    """What the nodes logged about failures: each distinct 503 reason or error line (without times and
    ids), with its count."""
    import re

    seen: Counter[str] = Counter()
    for node in dep.nodes:
        path = node.work / f"{node.name}.log"
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if "503 for" in line or "Error" in line or "Traceback" in line or "ERROR" in line:
                text = re.sub(r"[0-9a-f]{8,}|\d+", "N", line.split("database unavailable: ")[-1])
                seen[text[:160]] += 1
    return dict(seen.most_common(12))


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    from cluster_support import Haproxy, deployment, missing_tools

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=15.0, help=f"each phase (at most {MAX_SECONDS:.0f})")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="1-node and 3-node phases, interleaved")
    ap.add_argument("--faults", action="store_true", help="then the fault run of tests/test_multinode.py")
    ap.add_argument("--pace", type=float, default=0.4, help="seconds between a learner's requests (faults)")
    ap.add_argument("--no-pgbouncer", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    why = missing_tools(pgbouncer=not args.no_pgbouncer)
    if why:
        sys.exit(f"bench_multinode: {why}")
    import tempfile

    results: dict[str, object] = {"load_average_before": loadavg()}
    with (
        tempfile.TemporaryDirectory(prefix="lm-bench-multinode-") as tmp,
        deployment(Path(tmp), nodes=3, workers=args.workers, pgbouncer=not args.no_pgbouncer) as dep,
    ):
        one = Haproxy(Path(tmp) / "one", dep.nodes[:1])
        one.start()
        try:
            people = register(dep.base, args.learners)
            phases: list[Run] = []
            configs = [("1 node", one.port), ("3 nodes", dep.proxy.port if dep.proxy else 0)]
            for r in range(args.rounds):  # interleaved, the order alternating: drift hits both alike
                for label, port in configs if r % 2 == 0 else configs[::-1]:
                    cpu0 = dep.cpu_seconds()
                    run = run_learners(port, people, args.seconds)
                    cpu = dep.cpu_seconds() - cpu0
                    phases.append(run)
                    subs = run.submissions_acked
                    buckets = run.rate_per_second(0, run.seconds)
                    figures = {
                        "round": r + 1,
                        "requests_2xx_per_s": round(run.count(ok=True) / run.seconds, 1),
                        "submissions_acked_per_s": round(subs / run.seconds, 1),
                        "median_per_second_bucket": statistics.median(buckets) if buckets else 0,
                        "server_cpu_ms_per_submission": round(1000 * cpu / max(subs, 1), 3),
                        "server_cpu_s": round(cpu, 2),
                        "errors_5xx_or_connection": len(run.errors()),
                        "load_average_after": loadavg(),
                    }
                    results.setdefault(label, []).append(figures)  # type: ignore[attr-defined]
                    print(label, json.dumps(figures), flush=True)
            if args.faults:
                fresh = register(dep.base, args.learners)  # no rows yet: "lost" is exact for them
                out = fault_run(dep, fresh, pace=args.pace)
                run, fcheck = out.pop("run"), out.pop("check")
                phases.append(run)
                out["database"] = fcheck.__dict__
                out["load_average_after"] = loadavg()
                results["faults"] = out
                print("faults", json.dumps(out), flush=True)
        finally:
            one.stop()
        check = check_database(dep.direct_url, phases)
    results["database"] = check.__dict__
    results["setup"] = (
        f"3 nodes x {args.workers} workers, {'direct' if args.no_pgbouncer else 'PgBouncer (transaction)'}, "
        f"{args.learners} learners, {args.seconds:.0f} s per phase, {args.rounds} rounds, {os.cpu_count()} cores"
    )
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    sys.exit(1 if check.lost or check.over_limit else 0)


if __name__ == "__main__":
    main()
