"""Quiz submissions per second over HTTP against `localmooc serve` on 127.0.0.1 (bounded in time and count).

    .venv/bin/python benchmarks/bench_runtime.py [--clients 32] [--seconds 10] [--workers 1] [--db URL]

Starts the server in a subprocess with a fresh SQLite file (unless --db is given), registers, logs in and
enrols one learner per client, then each client submits the sample course's practice quiz in a loop:
every submission is one transaction with state, grade, completion and an attempts-log row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
COURSE = "local-budget-basics"
MAX_REQUESTS = 500_000  # hard cap whatever --seconds says


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def setup_learner(base: str, i: int) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    await client.get("/api/csrf")
    h = {"X-CSRFToken": client.cookies["lm_csrf"]}
    user = f"bench{i}"
    password = "bench password 1234"  # noqa: S105 - a throwaway account on a throwaway database
    await client.post(
        "/api/register",
        headers=h,
        json={
            "username": user,
            "password": password,
            "name": f"ผู้ทดสอบ {i}",
            "org_type": "local-admin-org",
            "province": "ขอนแก่น",
        },
    )
    r = await client.post("/api/login", headers=h, json={"username": user, "password": password})
    r.raise_for_status()
    h = {"X-CSRFToken": client.cookies["lm_csrf"]}
    (await client.post(f"/api/courses/{COURSE}/enrol", headers=h)).raise_for_status()
    client.headers["X-CSRFToken"] = client.cookies["lm_csrf"]
    return client


async def raw_submitter(
    port: int, cookie: str, csrf: str, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    """One keep-alive connection sending pre-built requests: httpx itself costs more CPU than the server
    does per request, and client and server share this machine's cores."""
    body = b'{"responses": {"q1": "a"}}'
    request = (
        f"POST /api/courses/{COURSE}/blocks/revenue-check/handler/submit HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nX-CSRFToken: {csrf}\r\n"
        f"Cookie: {cookie}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


async def run(base: str, port: int, clients: int, seconds: float) -> dict[str, float]:
    learners = [await setup_learner(base, i) for i in range(clients)]
    url = f"/api/courses/{COURSE}/blocks/revenue-check/handler/submit"
    # Warm up (first requests fill caches and the connection pools), then measure.
    await asyncio.gather(*(c.post(url, json={"responses": {"q1": "a"}}) for c in learners))
    auth = [
        (f"lm_session={c.cookies['lm_session']}; lm_csrf={c.cookies['lm_csrf']}", c.cookies["lm_csrf"])
        for c in learners
    ]
    for c in learners:
        await c.aclose()
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(raw_submitter(port, ck, cs, deadline, latencies, errors) for ck, cs in auth))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": elapsed,
        "per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--db", default=None)
    args = ap.parse_args()
    seconds = min(args.seconds, 120.0)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or f"sqlite:///{tmp}/bench.db"
        env = {**os.environ, "LOCALMOOC_SECRET_KEY": "benchmark"}
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "localmooc_packager", "serve", str(ROOT / "sample_courses" / COURSE)),
                *("--db", db, "--port", str(port), "--workers", str(args.workers)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(base + "/api/options", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise SystemExit("the server did not start")
            result = asyncio.run(run(base, port, args.clients, seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"{result['requests']} quiz submissions in {result['seconds']:.1f} s with {args.clients} clients, "
        f"{args.workers} worker(s), {db.split(':')[0]}: {result['per_second']:.0f}/s, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, errors {result['errors']}"
    )


if __name__ == "__main__":
    main()
