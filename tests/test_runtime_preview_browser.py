"""``localmooc preview`` as a designer uses it: the CLI in a subprocess, a unit open in Debian's Chromium,
files edited on disk. The page follows each save by itself (no reload from the test); waits are bounded,
never timed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from runtime_support import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BUDGET = "local-budget-basics"
OTHER = "about-dla"
WAIT_MS = 15_000  # bounded: a save shows within a second on a quiet machine, this allows a busy one


class PreviewProcess:
    """``python -m localmooc_packager preview`` on a free loopback port; its output collected."""

    def __init__(self, courses: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "localmooc_packager", "preview", str(courses), "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def login_url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = [ln.strip() for ln in self.lines if "/preview/login?token=" in ln]
            if found:
                return found[0]
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("preview did not print its sign-in link:\n" + "".join(self.lines))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture
def courses(tmp_path: Path) -> Path:
    root = tmp_path / "courses"
    for name in (BUDGET, OTHER):
        shutil.copytree(ROOT / "sample_courses" / name, root / name)
    return root


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run ./run.sh test (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )

        def guard(route: Any) -> None:
            if urlparse(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                route.abort()

        ctx.route("**/*", guard)
        try:
            yield ctx
        finally:
            ctx.close()


def test_preview_follows_saves_and_shows_problems(courses: Path, context: Any) -> None:
    from playwright.sync_api import expect

    server = PreviewProcess(courses)
    try:
        url = server.login_url()
        base = url.split("/preview/")[0]
        page = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        assert page.url == base + "/"  # the link set the session and led to the catalogue
        expect(page.locator('[data-lm="logout"]')).to_be_visible()
        page.goto(f"{base}/courses/{BUDGET}/units/intro")
        expect(page.get_by_role("heading", name="ปีงบประมาณคืออะไร")).to_be_visible()
        expect(page.locator('[data-lm="next"]')).to_be_visible()
        other = context.new_page()

        def other_course_works() -> None:
            assert other.goto(f"{base}/courses/{OTHER}").status == 200

        other_course_works()

        # 1. Edit the Markdown: the open page shows the new text by itself.
        md = courses / BUDGET / "units" / "intro.md"
        text = md.read_text(encoding="utf-8")
        md.write_text(text.replace("ปีงบประมาณคืออะไร", "รอบปีงบประมาณของท้องถิ่น"), "utf-8")
        expect(page.get_by_role("heading", name="รอบปีงบประมาณของท้องถิ่น")).to_be_visible(timeout=WAIT_MS)
        other_course_works()

        # 2. Break a YAML file: the page shows the problem with file:line:col instead of the unit.
        yaml = courses / BUDGET / "units" / "process.yaml"
        good = yaml.read_text(encoding="utf-8")
        yaml.write_text(good + "title: [unclosed\n", "utf-8")
        problem = page.locator("[data-lm-problem]").first
        expect(problem).to_be_visible(timeout=WAIT_MS)
        expect(problem).to_have_text(re.compile(r"units/process\.yaml:\d+:\d+: .+\[yaml-invalid\]"))
        expect(page.locator('[data-lm="next"]')).to_have_count(0)  # the player is not shown
        other_course_works()

        # 3. Fix it: the content is back, the overlay gone.
        yaml.write_text(good, "utf-8")
        expect(page.get_by_role("heading", name="รอบปีงบประมาณของท้องถิ่น")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("[data-lm-problem]")).to_have_count(0)
        other_course_works()
        assert not errors, errors
    finally:
        code = server.stop()
    output = "".join(server.lines)
    assert "Traceback" not in output, output
    assert (
        "course local-budget-basics: 1 error(s)" in output
        and "course local-budget-basics: reloaded" in output
    )
    assert code in (0, 130), output
