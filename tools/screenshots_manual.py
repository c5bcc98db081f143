"""The manual's screenshots, from the real program: `localmooc preview` in Debian's Chromium.

    .venv/bin/python tools/screenshots_manual.py [OUT_DIR]   (default manual/docs/assets/img)

The course is the manual's own: `localmooc new my-course` and the files the chapter "write a course" gives,
next to every sample course. Shots: the catalogue, a unit of the course, and the problems overlay after a
mistake is saved. Only 127.0.0.1 is reached; any other request is refused.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import manual_commands  # noqa: E402

OUT = manual_commands.DOCS / "assets" / "img"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
SIZE = {"width": 1280, "height": 860}
WAIT_MS = 30_000  # bounded wait for a reload on a busy machine; not a timing check
# A mistake the chapter "validate" explains: an answer that names no choice.
BROKEN_ANSWER = ("    answer: c\n", "    answer: e\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_course(courses: Path) -> Path:
    """The manual's course, made as the manual says (its `localmooc new` and its file blocks)."""
    localmooc = [sys.executable, "-m", "localmooc_packager"]
    subprocess.run(
        [*localmooc, "new", "my-course", "--title", "การคัดแยกขยะมูลฝอยในชุมชน"], cwd=courses, check=True
    )
    for step in manual_commands.steps():
        if step.page == "write" and step.marker == "file":
            (courses / step.arg).write_text(step.body, encoding="utf-8")
    return courses / "my-course"


def shoot(out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="manual-shots-") as tmp:
        courses = Path(tmp) / "courses"
        shutil.copytree(ROOT / "sample_courses", courses)
        course = write_course(courses)
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "localmooc_packager", "preview", str(courses), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        lines: list[str] = []
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: lines.extend(stdout), daemon=True).start()
        try:
            url = _login_url(proc, lines)
            base = url.split("/preview/")[0]
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport=SIZE, device_scale_factor=1, locale="th-TH")

                def local_only(route: Any) -> None:
                    if urlparse(route.request.url).hostname == "127.0.0.1":
                        route.continue_()
                    else:
                        route.abort()

                page.route("**/*", local_only)
                page.goto(url)
                written.append(_save(page, out / "catalogue.png"))
                page.goto(f"{base}/courses/my-course/units/lesson1")
                expect(page.get_by_role("heading", name="ขยะมูลฝอยแบ่งเป็นสี่ประเภท")).to_be_visible()
                written.append(_save(page, out / "preview-course.png"))
                quiz = course / "quizzes" / "post.yaml"
                quiz.write_text(quiz.read_text(encoding="utf-8").replace(*BROKEN_ANSWER, 1), encoding="utf-8")
                expect(page.locator("[data-lm-problem]").first).to_be_visible(timeout=WAIT_MS)
                written.append(_save(page, out / "preview-overlay.png"))
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    return written


def _login_url(proc: subprocess.Popen[str], lines: list[str]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for line in lines:
            if "/preview/login?token=" in line:
                return line.strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit("localmooc preview printed no sign-in link:\n" + "".join(lines))


def _save(page: Any, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=False)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    shoot(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
