"""The blocks in the xblock-sdk workbench: a real XBlock runtime that this project did not write."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("workbench")
    (home / "var").mkdir()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "workbench.settings", "PYTHONWARNINGS": "ignore"}
    admin = [sys.executable, "-m", "django"]
    subprocess.run(
        [*admin, "migrate", "--noinput"], cwd=home, env=env, check=True, capture_output=True, timeout=300
    )
    port = _free_port()
    # --nothreading: the workbench fills its scenario list on the first request, without a lock. When a slow
    # first request timed out and the probe asked again, two threads filled it at once and the loser's
    # error left a partial list (our scenarios missing) for the rest of the run.
    proc = subprocess.Popen(
        [*admin, "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to 60 s: a busy machine starts Django slowly
            try:
                urllib.request.urlopen(base + "/", timeout=60)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(
                        proc.stdout.read().decode() if proc.stdout else "workbench died"
                    ) from None
                time.sleep(0.2)
        else:
            raise RuntimeError("the workbench did not answer within 60 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(home, ignore_errors=True)


def _opener() -> tuple[urllib.request.OpenerDirector, CookieJar]:
    jar = CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def test_index_lists_our_scenarios(workbench: str) -> None:
    opener, _ = _opener()
    html = opener.open(workbench + "/").read().decode()
    for name in ("lm-quiz", "lm-html", "lm-course", "lm-video"):
        assert f"/scenario/{name}.0/" in html


def test_quiz_renders_and_grades_in_the_workbench(workbench: str) -> None:
    opener, jar = _opener()
    page = opener.open(workbench + "/scenario/lm-quiz.0/?student=somchai").read().decode()
    assert 'data-lm="submit"' in page and 'data-lm-choice="b"' in page
    assert "ปีงบประมาณ พ.ศ. 2564 เริ่มวันใด" in page
    usage = re.search(r"data-usage=[\"']([^\"']+)[\"'][^>]*data-block-type=[\"']lm-quiz", page)
    assert usage, "quiz wrapper not found"
    token = next(c.value for c in jar if c.name == "csrftoken")

    def submit(responses: dict) -> tuple[int, dict]:
        req = urllib.request.Request(
            f"{workbench}/handler/{usage.group(1)}/submit/?student=somchai",
            data=json.dumps({"responses": responses}).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": token, "Referer": workbench + "/"},
            method="POST",
        )
        try:
            with opener.open(req) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    status, body = submit({"q1": "a", "q2": "3"})
    assert status == 200 and body["earned"] == 0 and body["attempts_left"] == 2
    status, body = submit({"q1": "b", "q2": "2"})
    assert status == 200 and body["earned"] == 2 and body["passed"] is True
    # The workbench stored the learner's state: a new page load shows the attempts used.
    page = opener.open(workbench + "/scenario/lm-quiz.0/?student=somchai").read().decode()
    assert '"attempts_used": 2' in page


def test_the_example_third_party_block_runs_in_the_workbench(workbench: str) -> None:
    """examples/flashcards (installed like any XBlock package) in the workbench: scenario, view, handler."""
    opener, jar = _opener()
    assert "/scenario/flashcards.0/" in opener.open(workbench + "/").read().decode()
    page = opener.open(workbench + "/scenario/flashcards.0/?student=somsri").read().decode()
    assert "อบต." in page and "องค์การบริหารส่วนตำบล" in page and page.count('type="checkbox"') == 2
    usage = re.search(r"data-usage=[\"']([^\"']+)[\"'][^>]*data-block-type=[\"']flashcards", page)
    assert usage, "flashcards wrapper not found"
    token = next(c.value for c in jar if c.name == "csrftoken")

    def mark(card: int) -> dict:
        req = urllib.request.Request(
            f"{workbench}/handler/{usage.group(1)}/mark/?student=somsri",
            data=json.dumps({"card": card, "known": True}).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": token, "Referer": workbench + "/"},
            method="POST",
        )
        with opener.open(req) as resp:
            return json.loads(resp.read())

    assert mark(1) == {"known": [1], "total": 2}
    assert mark(0) == {"known": [0, 1], "total": 2}
    page = opener.open(workbench + "/scenario/flashcards.0/?student=somsri").read().decode()
    assert page.count(" checked") == 2 and "จำได้ 2 จาก 2 บัตร" in page
