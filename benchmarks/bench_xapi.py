"""xAPI outbox benchmark: enqueue rate, and the drain rate into a real LRS, in one bounded run.

    .venv/bin/python benchmarks/bench_xapi.py [--statements 5000] [--batch 100] [--pg URL] [--json PATH]

For each database (SQLite; PostgreSQL too when --pg or LOCALMOOC_TEST_PG_URL answers):
  1. enqueue: the statements are built with the catalogue and enqueued 10 per transaction (the size of one
     runtime event's worth, generously), timed;
  2. outbox only: the worker drains into an in-process LRS stand-in that answers 200 at once (httpx's
     MockTransport), so the figure is the outbox's own ceiling (claim, serialise, mark);
  3. Ralph: the same rows are reset and drained into Ralph (tests/xapi_support.py: ralph-malph 5.1.0, fs
     backend, started here on a free loopback port). Ralph's fs backend reads its whole file to look for
     duplicate ids on every POST, so this figure falls as the file grows; it is the figure for this test
     LRS, not for Ralph on ClickHouse.
Then a fault run (SQLite, default backoff): the LRS is SIGKILLed a quarter into a drain and restarted 2 s
later; it reports how long after the LRS answered again delivery resumed, and checks that every statement
arrived exactly once.
Writes a table to stdout and the figures as JSON (default benchmarks/results-xapi.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from xapi_support import PASSWORD, USER, Ralph, many  # noqa: E402

from localmooc_packager.xapi import outbox  # noqa: E402
from localmooc_packager.xapi.delivery import Pusher  # noqa: E402


def _reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(outbox.outbox).values(
                delivered_at=None, attempts=0, next_attempt_at=outbox.outbox.c.created_at
            )
        )


def _drain(pusher: Pusher, n: int) -> float:
    start = time.perf_counter()
    stats = pusher.drain()
    seconds = time.perf_counter() - start
    if stats.delivered != n:
        raise SystemExit(f"drain delivered {stats.delivered} of {n}: {stats.errors[:3]}")
    return n / seconds


def bench(url: str, n: int, batch: int, ralph: Ralph) -> dict[str, float]:
    engine = sa.create_engine(url)
    outbox.metadata.drop_all(engine)
    outbox.metadata.create_all(engine)
    statements = many(n, tag=f"b{int(time.time()) % 100000}")
    start = time.perf_counter()
    for i in range(0, n, 10):
        with engine.begin() as conn:
            outbox.enqueue(conn, statements[i : i + 10])
    enqueue_rate = n / (time.perf_counter() - start)

    ok = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[])))
    local_rate = _drain(Pusher(engine, "http://lrs.invalid/xAPI", ("u", "p"), batch_size=batch, client=ok), n)

    _reset(engine)
    pusher = Pusher(engine, ralph.url, (USER, PASSWORD), batch_size=batch)
    ralph_rate = _drain(pusher, n)
    pusher.close()
    stored = len(ralph.stored())
    outbox.metadata.drop_all(engine)
    engine.dispose()
    return {
        "statements": n,
        "batch": batch,
        "enqueue_per_s": round(enqueue_rate),
        "drain_outbox_only_per_s": round(local_rate),
        "drain_ralph_fs_per_s": round(ralph_rate),
        "ralph_file_statements_after": stored,
    }


def fault(url: str, n: int, batch: int, ralph: Ralph) -> dict[str, float]:
    """SIGKILL the LRS a quarter into a drain, restart it, time the recovery (default backoff settings)."""
    engine = sa.create_engine(url)
    outbox.metadata.drop_all(engine)
    outbox.metadata.create_all(engine)
    with engine.begin() as conn:
        outbox.enqueue(conn, many(n, tag=f"f{int(time.time()) % 100000}"))
    pusher = Pusher(engine, ralph.url, (USER, PASSWORD), batch_size=batch)
    stop = threading.Event()
    worker = threading.Thread(target=pusher.loop, args=(stop, 0.2))
    start = time.perf_counter()
    worker.start()
    try:
        while ralph.stored_count() < n // 4:
            time.sleep(0.02)
        ralph.kill()
        at_kill = ralph.stored_count()
        killed = time.perf_counter()
        time.sleep(2.0)
        ralph.start()
        back = time.perf_counter()
        while ralph.stored_count() <= at_kill:
            time.sleep(0.02)
        resumed = time.perf_counter()
        while True:
            with engine.connect() as conn:
                if outbox.depth(conn).pending == 0:
                    break
            time.sleep(0.05)
        done = time.perf_counter()
    finally:
        stop.set()
        worker.join(60)
        pusher.close()
    counts = ralph.stored_id_counts()
    outbox.metadata.drop_all(engine)
    engine.dispose()
    if len(counts) != n or max(counts.values()) != 1:
        raise SystemExit(f"fault run: {len(counts)} distinct of {n}, max copies {max(counts.values())}")
    return {
        "statements": n,
        "lrs_down_s": round(back - killed, 2),
        "resumed_after_lrs_up_s": round(resumed - back, 2),
        "total_s": round(done - start, 2),
        "overall_per_s": round(n / (done - start)),
        "retried_rows": pusher.stats.retried,
        "lost": 0,
        "duplicated": 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--pg", default=os.environ.get("LOCALMOOC_TEST_PG_URL"))
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results-xapi.json")
    args = parser.parse_args()
    n = min(max(args.statements, 100), 50_000)

    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"sqlite": f"sqlite:///{tmp}/bench.db"}
        if args.pg:
            try:
                with sa.create_engine(args.pg).connect():
                    targets["postgresql"] = args.pg
            except sa.exc.OperationalError as exc:
                print(f"PostgreSQL skipped: {exc.orig}")
        for name, url in targets.items():
            ralph = Ralph(Path(tmp) / f"ralph-{name}")  # a fresh LRS file per database
            ralph.start()
            try:
                results["runs"][name] = bench(url, n, args.batch, ralph)  # type: ignore[index]
            finally:
                ralph.kill()
        ralph = Ralph(Path(tmp) / "ralph-fault")
        ralph.start()
        try:
            results["fault"] = fault(targets["sqlite"], min(n, 3000), args.batch, ralph)
        finally:
            ralph.kill()
    print(f"{'database':<11} {'enqueue/s':>10} {'outbox-only drain/s':>20} {'Ralph fs drain/s':>17}")
    for name, r in results["runs"].items():  # type: ignore[union-attr]
        print(
            f"{name:<11} {r['enqueue_per_s']:>10,} {r['drain_outbox_only_per_s']:>20,} "
            f"{r['drain_ralph_fs_per_s']:>17,}"
        )
    f = results["fault"]
    print(
        f"LRS SIGKILLed mid-drain ({f['statements']:,} statements, SQLite): down {f['lrs_down_s']} s, "
        f"delivery resumed {f['resumed_after_lrs_up_s']} s after it answered again, "
        f"{f['overall_per_s']:,}/s overall; 0 lost, 0 duplicated"
    )
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
