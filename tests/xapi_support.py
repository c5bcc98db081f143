"""A real LRS for the xAPI tests: Ralph (ralph-malph, pinned in run.sh) with its file-system backend.

Ralph lives in its own venv (``.venv-ralph``, made by ``./run.sh test``) because its pins differ from ours.
It runs as a subprocess on a free loopback port with a test user in its auth file; statements land in
``<data>/fs_lrs.jsonl``, one JSON object per line, which the tests read to count what arrived. It is started
by ``ralph_launch.py``, which makes the fs backend append (Ralph 5.1.0's fs LRS accepts only one write).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from localmooc_packager.xapi import statements as xs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from pgtools import PG_URL, throwaway_database, unreachable


@contextmanager
def pg_engine(**kw: object) -> Iterator[sa.Engine]:
    """An engine on a PostgreSQL database of its own (dropped afterwards), or a skip with the reason: the
    shared server may be used by other runs at the same time, so no test works in its default database."""
    why = unreachable(PG_URL)
    if why:
        pytest.skip(why)
    with throwaway_database(PG_URL, "lm_xapi") as url:
        engine = sa.create_engine(url, **kw)  # type: ignore[arg-type]
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(name="engine", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def outbox_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine holding the outbox tables, on SQLite and on PostgreSQL (tests import it as ``engine``)."""
    from localmooc_packager.xapi import outbox

    if request.param == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
        outbox.metadata.create_all(eng)
        yield eng
        eng.dispose()
        return
    with pg_engine() as eng:
        outbox.metadata.create_all(eng)
        yield eng


ROOT = Path(__file__).resolve().parent.parent
RALPH_VENV = Path(os.environ.get("LOCALMOOC_RALPH_VENV", ROOT / ".venv-ralph"))
USER, PASSWORD = "localmooc-test", "s3cret-for-tests"


def ralph_python() -> Path:
    python = RALPH_VENV / "bin" / "python"
    if not python.is_file():
        pytest.skip(f"Ralph LRS not installed at {RALPH_VENV}: './run.sh test' creates it")
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ralph:
    """One Ralph LRS process; ``kill()`` is SIGKILL, ``start()`` again reuses the same port and data."""

    def __init__(self, workdir: Path) -> None:
        self.python = ralph_python()
        self.workdir = workdir
        self.data = workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.auth_file = workdir / "auth.json"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/xAPI"
        self.proc: subprocess.Popen[bytes] | None = None
        self._write_auth()

    def _write_auth(self) -> None:
        # The format 'ralph auth --write-to-disk' writes; bcrypt with few rounds keeps the tests fast.
        script = (
            "import bcrypt, json, sys; "
            "h = bcrypt.hashpw(sys.argv[2].encode(), bcrypt.gensalt(rounds=4)).decode(); "
            "json.dump([{'username': sys.argv[1], 'hash': h, "
            "'scopes': ['statements/write', 'statements/read'], "
            "'agent': {'objectType': 'Agent', 'account': {'homePage': 'http://127.0.0.1', 'name': 'push'}}}], "
            "open(sys.argv[3], 'w'))"
        )
        subprocess.run([self.python, "-c", script, USER, PASSWORD, self.auth_file], check=True)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
        env.update(
            RALPH_APP_DIR=str(self.workdir / "app"),
            RALPH_AUTH_FILE=str(self.auth_file),
            RALPH_RUNSERVER_BACKEND="fs",
            RALPH_RUNSERVER_AUTH_BACKENDS="basic",
            RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH=str(self.data),
        )
        return env

    def start(self, timeout: float = 90.0) -> None:
        log = (self.workdir / "ralph.log").open("ab")
        self.proc = subprocess.Popen(
            [self.python, Path(__file__).with_name("ralph_launch.py"), "127.0.0.1", str(self.port)],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Ralph exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/__heartbeat__", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"Ralph did not answer within {timeout} s: {self.log_tail()}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self) -> str:
        path = self.workdir / "ralph.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stored(self) -> list[dict]:
        path = self.data / "fs_lrs.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def stored_count(self) -> int:
        """Complete lines in the LRS file (safe to call while Ralph is appending)."""
        path = self.data / "fs_lrs.jsonl"
        return path.read_bytes().count(b"\n") if path.exists() else 0

    def stored_id_counts(self) -> Counter[str]:
        return Counter(s["id"] for s in self.stored())

    def post(self, statements: list[dict]) -> httpx.Response:
        return httpx.post(
            self.url + "/statements",
            json=statements,
            auth=(USER, PASSWORD),
            headers={"X-Experience-API-Version": "1.0.3"},
            timeout=30,
        )


def ralph_validate(statements: list[dict]) -> list[dict]:
    """Each statement checked by Ralph's own models (``ralph_validate.py`` in the Ralph venv)."""
    lines = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in statements)
    out = subprocess.run(
        [ralph_python(), Path(__file__).with_name("ralph_validate.py")],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


SITE = xs.Site("https://mooc.example.go.th")
COURSE = xs.Activity(
    "course", "local-budget-basics", {"th-TH": "การจัดทำงบประมาณท้องถิ่น", "en-US": "Local budgeting basics"}
)
UNIT = xs.Activity("unit", "u01-intro", {"th-TH": "บทนำ", "en-US": "Introduction"})
QUESTION = xs.Activity(
    "question",
    "q-budget-year",
    {"th-TH": "ปีงบประมาณเริ่มเดือนใด", "en-US": "When does the fiscal year start?"},
    interaction_type="choice",
    choices=(
        ("oct", {"th-TH": "ตุลาคม", "en-US": "October"}),
        ("jan", {"th-TH": "มกราคม", "en-US": "January"}),
    ),
    correct=("oct",),
)
LEARNER = "Qm9vX2xlYXJuZXJfaWQ"  # the shape of secrets.token_urlsafe(16)
AT = datetime(2026, 12, 5, 9, 30, 0, 123000, tzinfo=UTC)


def one_of_each(learner: str = LEARNER, at: datetime = AT) -> dict[str, dict]:
    """One statement of every kind in the catalogue, as the runtime would build them."""
    t = [at + timedelta(seconds=i) for i in range(9)]
    score = xs.Score(raw=8, max=10)
    return {
        "registered": xs.registered(SITE, learner, COURSE, t[0]),
        "launched": xs.launched(SITE, learner, COURSE, t[1]),
        "experienced": xs.experienced(SITE, learner, COURSE, UNIT, t[2]),
        "answered": xs.answered(SITE, learner, COURSE, UNIT, QUESTION, ["oct"], True, xs.Score(1, 1), t[3]),
        "completed-unit": xs.completed(SITE, learner, COURSE, t[4], of=UNIT),
        "completed": xs.completed(SITE, learner, COURSE, t[5]),
        "passed": xs.graded(SITE, learner, COURSE, score, True, t[6]),
        "failed": xs.graded(SITE, learner, COURSE, xs.Score(raw=3, max=10), False, t[7]),
        "earned": xs.earned(SITE, learner, COURSE, "CERT-2569-000123", t[8]),
    }


def many(n: int, tag: str = "xx") -> list[dict]:
    """``n`` distinct statements (answers by many learners; ``tag`` keeps two sets apart)."""
    out = []
    for i in range(n):
        learner = f"learner{i // 10:06d}{tag}"
        out.append(
            xs.answered(
                SITE,
                learner,
                COURSE,
                UNIT,
                QUESTION,
                ["oct"],
                True,
                xs.Score(1, 1),
                AT + timedelta(seconds=i),
                i,
            )
        )
    return out
