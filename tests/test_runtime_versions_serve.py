"""Course versions across real nodes: two `localmooc serve` processes on one database (a SQLite file, and a
throwaway PostgreSQL database), each with its own copy of the course folders, as two machines would have.

Node B starts with other content for one course and refuses it (and says why); `localmooc publish` makes
B's content version 2; both nodes serve it within their poll interval without a restart; the learner's state
is kept; the untouched course answers throughout; `db check` and /readyz report the versions."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from runtime_support import COURSE_ID, POST_RIGHT, free_port
from test_runtime_versions import OTHER_ID, edit, node_folders

from localmooc_packager.runtime.services.versions import content_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from pgtools import PG_URL, throwaway_database, unreachable

CLI = Path(sys.executable).with_name("localmooc")
POLL = "0.5"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nodes.db'}"
        return
    why = unreachable(PG_URL)
    if why:
        pytest.skip(why)
    with throwaway_database(PG_URL, "lm_versions") as pg:
        done = subprocess.run([str(CLI), "db", "upgrade", "--db", pg], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        yield pg


@contextmanager
def serving(
    folders: Path, url: str, work: Path, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`localmooc serve FOLDERS` on a free port until /readyz answers; stopped with SIGINT afterwards."""
    port = free_port()
    env = {**os.environ, "LOCALMOOC_VERSION_POLL": POLL, "LOCALMOOC_SECRET_KEY": "k" * 40}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [str(CLI), "serve", str(folders), "--db", url, "--port", str(port), "--workers", str(workers)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out, err = proc.communicate()
                raise AssertionError(f"the node did not start:\n{out}\n{err}")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def courses_of(base: str) -> dict[str, str]:
    courses: dict[str, str] = httpx.get(f"{base}/readyz").json()["checks"]["courses"]
    return courses


class Learner:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base)
        self.http.get("/api/csrf")

    def post(self, path: str, **kw: object) -> httpx.Response:
        return self.http.post(path, headers={"X-CSRFToken": self.http.cookies.get("lm_csrf") or ""}, **kw)  # type: ignore[arg-type]


def test_two_serve_processes_refuse_then_follow_a_published_version(url: str, tmp_path: Path) -> None:
    a_dir = node_folders(tmp_path / "a")
    b_dir = node_folders(tmp_path / "b")
    edit(b_dir / COURSE_ID, "", "ฉบับที่สอง: ", "units/intro.md")
    v1, v2 = content_hash(a_dir / COURSE_ID), content_hash(b_dir / COURSE_ID)

    with (  # node A runs two workers: each follows the database on its own
        serving(a_dir, url, tmp_path / "run-a", workers=2) as (a, proc_a),
        serving(b_dir, url, tmp_path / "run-b") as (b, proc_b),
    ):
        assert courses_of(a)[COURSE_ID] == f"version 1 ({v1[:12]})"
        assert courses_of(b)[COURSE_ID].startswith(f"refused: this node's content {v2[:12]}")
        assert courses_of(b)[OTHER_ID] == courses_of(a)[OTHER_ID]

        learner = Learner(a)
        reg = learner.post(
            "/api/register",
            json={
                "username": "somsri",
                "password": "a long pass phrase 1",
                "name": "สมศรี",
                "org_type": "public",
                "organisation": "",
                "province": "น่าน",
                "consent": True,
            },
        )
        assert reg.status_code == 201, reg.text
        assert (
            learner.post(
                "/api/login", json={"username": "somsri", "password": "a long pass phrase 1"}
            ).status_code
            == 200
        )
        assert learner.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
        r = learner.post(
            f"/api/courses/{COURSE_ID}/blocks/post/handler/submit", json={"responses": POST_RIGHT}
        )
        assert r.status_code == 200, r.text
        on_b = Learner(b)  # the same learner through the other node (stateless nodes: any node will do)
        on_b.http.cookies = learner.http.cookies
        refused = on_b.http.get(f"/api/courses/{COURSE_ID}/progress")
        assert refused.status_code == 503 and refused.json()["detail"] == "course_refused"
        assert on_b.http.get(f"/courses/{COURSE_ID}").status_code == 503
        assert on_b.http.get(f"/api/courses/{OTHER_ID}").status_code == 200

        # A learner keeps reading the course on node A while the new version is taken up: every answer
        # is whole (the old version or the new one), none an error.
        answers: list[tuple[int, bool]] = []
        stop_reading = threading.Event()

        def keep_reading() -> None:
            with httpx.Client(base_url=a, cookies=learner.http.cookies, timeout=30) as reader:
                while not stop_reading.is_set() and len(answers) < 5000:
                    r = reader.get(f"/api/courses/{COURSE_ID}/units/intro")
                    answers.append((r.status_code, "ฉบับที่สอง" in r.text))
                    time.sleep(0.02)  # a learner's pace, not a load test

        reading = threading.Thread(target=keep_reading, daemon=True)  # stopped below, or with the test
        reading.start()
        published = subprocess.run(
            [str(CLI), "publish", str(b_dir / COURSE_ID), "--db", url],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert published.returncode == 0, published.stderr
        assert f"published {COURSE_ID} version 2 ({v2[:12]})" in published.stdout
        published_at = time.monotonic()

        # Both nodes take it up on their own, without a restart; the other course answers all along.
        deadline = time.monotonic() + 60
        want = {a: f"version 2 ({v2[:12]}, from the database)", b: f"version 2 ({v2[:12]})"}
        while {n: courses_of(n)[COURSE_ID] for n in (a, b)} != want:
            for n in (a, b):
                assert httpx.get(f"{n}/api/courses/{OTHER_ID}").status_code == 200
            assert time.monotonic() < deadline, {n: courses_of(n) for n in (a, b)}
            time.sleep(0.1)
        print(
            f"\n[{url.split(':')[0]}] both nodes serve version 2 {time.monotonic() - published_at:.2f} s after publish (poll {POLL} s)"
        )
        assert proc_a.poll() is None and proc_b.poll() is None  # the same processes: no restart
        while True:  # both of A's workers (new connections land on either)
            seen = {
                httpx.get(f"{a}/readyz", headers={"Connection": "close"}).json()["checks"]["courses"][
                    COURSE_ID
                ]
                for _ in range(12)
            }
            if seen == {want[a]}:
                break
            assert time.monotonic() < deadline, seen
            time.sleep(0.1)

        time.sleep(0.3)
        stop_reading.set()
        reading.join()
        assert {status for status, _ in answers} == {200}, answers
        new_seen = [fresh for _, fresh in answers]
        assert new_seen[-1] and not new_seen[0]  # it started on version 1 and ended on version 2
        print(f"[{url.split(':')[0]}] {len(answers)} unit reads on node A during the take-up, all 200")

        for client in (learner, on_b):
            unit = client.http.get(f"/api/courses/{COURSE_ID}/units/intro")
            assert unit.status_code == 200 and "ฉบับที่สอง" in unit.json()["html"]
            progress = client.http.get(f"/api/courses/{COURSE_ID}/progress").json()
            assert {q["id"]: q["score"] for q in progress["quizzes"]}[
                "post"
            ] == 1.0  # kept: same id, same type
            assert client.http.get(f"/api/courses/{OTHER_ID}").status_code == 200

    _out_b, err_b = proc_b.communicate()
    assert f"REFUSED course {COURSE_ID}: not served by this node" in err_b
    assert f"published version 1 is {v1[:12]}" in err_b and "localmooc publish" in err_b
    check = subprocess.run(
        [str(CLI), "db", "check", "--db", url], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stderr
    assert f"course {COURSE_ID}: version 2 ({v2[:12]}), published " in check.stdout
    assert f"course {OTHER_ID}: version 1 (" in check.stdout
    shutil.rmtree(tmp_path / "a", ignore_errors=True)
