"""Browser test support: Debian's Chromium through Playwright, a loopback web server, a scorm-again "LMS".

Imported by the browser tests (and docs/make_screenshots.py); not a conftest, so the fixtures are imported
explicitly. Missing tools FAIL with a message naming the fix: a skipped browser test would hide a broken
SCORM package.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCORM_AGAIN = ROOT / "node_modules" / "scorm-again" / "dist"
LMS_DIR = Path(__file__).resolve().parent / "scorm_lms"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def missing_tools() -> list[str]:
    """What the browser tests need and this machine lacks, each with how to get it."""
    problems = []
    if not CHROMIUM.is_file():
        problems.append(f"{CHROMIUM} not found (Debian package 'chromium')")
    for name in ("scorm12.js", "scorm2004.js"):
        if not (SCORM_AGAIN / name).is_file():
            problems.append(f"{SCORM_AGAIN / name} not found (npm package scorm-again, package-lock.json)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("Python package playwright not installed (pip install -e '.[test]')")
    return problems


def require_tools() -> None:
    problems = missing_tools()
    if problems:
        pytest.fail(
            "browser test tools missing: " + "; ".join(problems) + ". Run ./run.sh test to install them "
            "(it never downloads a browser: it uses Debian's chromium).",
            pytrace=False,
        )


# ----------------------------------------------------------------------------------------------------------
# A loopback HTTP server: /lms/ (the test LMS page), /scorm-again/ (node_modules), /sco/<name>/ (packages)


class _Handler(SimpleHTTPRequestHandler):
    mounts: ClassVar[dict[str, Path]] = {}

    def translate_path(self, path: str) -> str:
        clean = unquote(urlparse(path).path)
        for prefix, folder in sorted(self.mounts.items(), key=lambda kv: -len(kv[0])):
            if clean.startswith(prefix):
                target = (folder / clean[len(prefix) :]).resolve()
                if target.is_relative_to(folder.resolve()):
                    return str(target)
        return str(Path(tempfile.gettempdir()) / "lm-no-such-file")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalServer:
    def __init__(self) -> None:
        self.mounts: dict[str, Path] = {"/lms/": LMS_DIR, "/scorm-again/": SCORM_AGAIN}
        handler = type("Handler", (_Handler,), {"mounts": self.mounts})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def mount(self, name: str, folder: Path) -> str:
        """Serve ``folder`` under /sco/<name>/; returns its URL."""
        self.mounts[f"/sco/{name}/"] = folder
        return f"{self.base}/sco/{name}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def extract(package: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(package) as zf:
        zf.extractall(target)
    return target


# ----------------------------------------------------------------------------------------------------------
# Chromium


@contextmanager
def chromium_context(**context_options: Any) -> Iterator[Any]:
    """A fresh headless Chromium (Debian's, never a downloaded one) with its own throwaway profile."""
    from playwright.sync_api import sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="lm-chromium-"))
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                **context_options,
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class NetworkGuard:
    """Aborts every request that is not to the loopback server, and remembers it."""

    blocked: list[str] = field(default_factory=list)

    def handle(self, route: Any) -> None:
        url = route.request.url
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about") or (
            parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname in LOOPBACK
        ):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def attach(self, page: Any) -> None:
        page.route("**/*", self.handle)


# ----------------------------------------------------------------------------------------------------------
# The test LMS


@dataclass
class Lms:
    """One page holding the scorm-again LMS; ``launch`` loads a SCO into its frame."""

    page: Any
    server: LocalServer
    guard: NetworkGuard

    def launch(self, version: str, sco_url: str, initial: dict[str, Any] | None = None) -> Any:
        """Open the LMS page, create the API (seeded with ``initial``), load the SCO; returns its frame."""
        self.page.goto(f"{self.server.base}/lms/lms.html")
        self.page.evaluate(
            "([v, init, url]) => startLms(v, init, url)", [version, initial, sco_url + "index.html"]
        )
        frame = self.sco_frame()
        frame.wait_for_function("() => window.LmPlayer !== undefined")
        return frame

    def sco_frame(self) -> Any:
        handle = self.page.wait_for_selector("#sco")
        frame = handle.content_frame()
        assert frame is not None
        frame.wait_for_load_state("load")
        return frame

    def close_sco(self) -> None:
        self.page.evaluate("closeSco()")

    def cmi(self) -> dict[str, Any]:
        return self.page.evaluate("cmi()")

    def events(self) -> list[str]:
        return self.page.evaluate("lmsEvents")

    def assert_no_network(self) -> None:
        assert not self.guard.blocked, f"the package tried to reach the network: {self.guard.blocked}"


# ----------------------------------------------------------------------------------------------------------
# A long generated course: the worst case for SCORM 1.2's 4096-character suspend_data


def write_long_course(folder: Path, units: int = 200, quizzes: int = 50, questions: int = 20) -> Path:
    """A valid course source of ``units`` units, ``quizzes`` of them ending with a graded quiz (the last a
    post-test) of ``questions`` questions cycling through all five types, with Thai text."""
    import yaml

    every = max(units // quizzes, 1)
    unit_list: list[dict[str, Any]] = []
    n_quiz = 0
    for u in range(units):
        blocks: list[dict[str, Any]] = [
            {"type": "html", "body": f"## บทที่ {u + 1}\n\nเนื้อหาเรื่องงบประมาณท้องถิ่น ตอนที่ {u + 1}"}
        ]
        if (u + 1) % every == 0 and n_quiz < quizzes:
            n_quiz += 1
            qs: list[dict[str, Any]] = []
            for k in range(questions):
                kind = k % 5
                if kind == 0:
                    qs.append(
                        {
                            "type": "single-choice",
                            "prompt": f"ข้อ {k}",
                            "choices": {"a": "ก", "b": "ข", "c": "ค"},
                            "answer": "b",
                        }
                    )
                elif kind == 1:
                    choices = {c: f"ตัวเลือก {c}" for c in "abcdefgh"}  # 8 choices: a two-character mask
                    qs.append(
                        {
                            "type": "multiple-choice",
                            "prompt": f"ข้อ {k}",
                            "choices": choices,
                            "answer": ["a", "c", "h"],
                        }
                    )
                elif kind == 2:
                    qs.append({"type": "true-false", "prompt": f"ข้อ {k}", "answer": True})
                elif kind == 3:
                    qs.append({"type": "numeric", "prompt": f"ข้อ {k}", "answer": 1234.5, "tolerance": "1%"})
                else:
                    qs.append(
                        {"type": "short-text", "prompt": f"ข้อ {k}", "answer": ["องค์การบริหารส่วนตำบล", "อบต."]}
                    )
            role = "post-test" if n_quiz == quizzes else "graded"
            blocks.append(
                {
                    "type": "quiz",
                    "id": f"quiz{n_quiz:02d}",
                    "title": f"แบบทดสอบ {n_quiz}",
                    "role": role,
                    "attempts": 3,
                    "questions": qs,
                }
            )
        unit_list.append({"id": f"u{u + 1:03d}", "title": f"หน่วยที่ {u + 1}", "blocks": blocks})
    course = {
        "id": "long-course",
        "org": "DLA",
        "run": "2567_1",
        "title": "หลักสูตรยาวสำหรับทดสอบ",
        "language": "th",
        "pass_threshold": 0.6,
        "units": unit_list,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yaml").write_text(yaml.safe_dump(course, allow_unicode=True, sort_keys=False), "utf-8")
    return folder


# ----------------------------------------------------------------------------------------------------------
# Fixtures (import them into a test module; they are not in conftest.py)


@pytest.fixture(scope="module")
def scorm_server() -> Iterator[LocalServer]:
    require_tools()
    server = LocalServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def scorm_browser(scorm_server: LocalServer) -> Iterator[Any]:
    with chromium_context(viewport={"width": 1280, "height": 900}) as context:
        yield context


@pytest.fixture
def lms(scorm_browser: Any, scorm_server: LocalServer) -> Iterator[Lms]:
    page = scorm_browser.new_page()
    guard = NetworkGuard()
    guard.attach(page)
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    yield Lms(page, scorm_server, guard)
    page.close()
    assert not page_errors, f"JavaScript errors: {page_errors}"
    assert not guard.blocked, f"the package tried to reach the network: {guard.blocked}"
