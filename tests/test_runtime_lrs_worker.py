"""`localmooc serve`'s own xAPI delivery worker (issue 14 item 4, optional part), against a real Ralph LRS:
the outbox drains while the node serves, an LRS killed and started again loses and duplicates nothing, and
a half-configured worker stops `serve` with a message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from runtime_support import SAMPLE, free_port
from xapi_support import PASSWORD, USER, Ralph, many

from localmooc_packager.runtime.lrs_worker import LrsTarget
from localmooc_packager.runtime.server import upgrade
from localmooc_packager.xapi import outbox

CLI = Path(sys.executable).with_name("localmooc")


def enqueue(url: str, statements: list[dict]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        outbox.enqueue(conn, statements)
    engine.dispose()


def depth(url: str) -> outbox.Depth:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        d = outbox.depth(conn)
    engine.dispose()
    return d


def wait_for(what: str, ok: object, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not ok():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def test_serve_delivers_the_outbox_to_a_real_lrs_and_survives_its_restart(tmp_path: Path) -> None:
    ralph = Ralph(tmp_path / "ralph")
    ralph.start()
    url = f"sqlite:///{tmp_path / 'node.db'}"
    upgrade(url)
    first, second = many(40, tag="sv1"), many(30, tag="sv2")
    enqueue(url, first)
    secret = tmp_path / "lrs-password"
    secret.write_text(PASSWORD + "\n")
    port = free_port()
    env = {
        **os.environ,
        "LOCALMOOC_LRS_URL": ralph.url,
        "LOCALMOOC_LRS_USER": USER,
        "LOCALMOOC_LRS_PASSWORD_FILE": str(secret),
        "LOCALMOOC_SECRET_KEY": "k" * 40,
    }
    proc = subprocess.Popen(
        [str(CLI), "serve", str(SAMPLE), "--db", url, "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ids = {s["id"] for s in first}
        wait_for("the first statements reach the LRS", lambda: ids <= set(ralph.stored_id_counts()))
        wait_for("the node serves meanwhile", lambda: healthy(port))
        ralph.kill()  # the LRS goes away; statements written meanwhile wait in the outbox
        enqueue(url, second)
        time.sleep(1.5)  # a few failed rounds (backoff) while it is down
        assert depth(url).pending >= len(second)
        ralph.start()
        ids |= {s["id"] for s in second}
        wait_for("the rest arrive after the restart", lambda: ids <= set(ralph.stored_id_counts()))
        wait_for("the outbox is empty", lambda: depth(url).pending == 0)
        counts = ralph.stored_id_counts()
        assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)  # nothing lost, nothing twice
        assert depth(url).dead == 0
        assert healthy(port)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        ralph.kill()
    assert f"xAPI delivery: outbox -> {ralph.url} as {USER} (in this process)" in out
    assert "Traceback" not in err


def test_a_half_configured_worker_stops_serve_with_a_message(tmp_path: Path) -> None:
    env = {**os.environ, "LOCALMOOC_LRS_URL": "http://127.0.0.1:9/xAPI", "LOCALMOOC_SECRET_KEY": "k" * 40}
    env.pop("LOCALMOOC_LRS_USER", None)
    env.pop("LOCALMOOC_LRS_PASSWORD_FILE", None)
    done = subprocess.run(
        [
            str(CLI),
            "serve",
            str(SAMPLE),
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--port",
            str(free_port()),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "missing: LOCALMOOC_LRS_USER, LOCALMOOC_LRS_PASSWORD_FILE" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_target_comes_from_all_three_variables_or_none() -> None:
    from localmooc_packager.errors import UsageError

    assert LrsTarget.from_env({}) is None
    full = {
        "LOCALMOOC_LRS_URL": "https://lrs/xAPI",
        "LOCALMOOC_LRS_USER": "u",
        "LOCALMOOC_LRS_PASSWORD_FILE": "/p",
    }
    assert LrsTarget.from_env(full) == LrsTarget("https://lrs/xAPI", "u", Path("/p"))
    with pytest.raises(UsageError, match="must be the LRS's xAPI endpoint"):
        LrsTarget.from_env({**full, "LOCALMOOC_LRS_URL": "lrs.example"})
