"""The user manual (manual/): it builds with `mkdocs build --strict`, its generated chapters cover every schema
key and every message code, and a designer's every step in it runs as written.

The steps are the marked fenced blocks (tools/manual_commands.py): they run in order in an empty folder with
this project's venv on PATH, as `. .venv/bin/activate` would put it. The one change made to a command:
servers (`preview`, `serve`) get `--port N` with a free port appended, so that runs on one machine do not
collide; they are fetched over loopback and stopped with SIGINT, as Ctrl+C stops them.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from runtime_support import free_port

from localmooc_packager.api import validate_path

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))

import manual_commands
import manual_reference

MANUAL = ROOT / "manual"
BIN = Path(sys.executable).parent
COMMAND_TIMEOUT = 300  # bounded so a hung command fails the test; not a timing check
GENERATED_DIRS = ("dev",)


def _copy_manual(dest: Path) -> Path:
    """manual/ without its generated pages and built site, with the hook's path made absolute."""
    generated = set(manual_reference.GENERATED)
    shutil.copytree(
        MANUAL,
        dest,
        ignore=lambda d, names: [
            n
            for n in names
            if n in generated or n == "site" or (Path(d).name == "docs" and n in GENERATED_DIRS)
        ],
    )
    config = dest / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    assert "  - ../tools/manual_hooks.py" in text, "mkdocs.yml no longer runs the generator hook"
    config.write_text(
        text.replace("  - ../tools/manual_hooks.py", f"  - {ROOT / 'tools' / 'manual_hooks.py'}"),
        encoding="utf-8",
    )
    return config


def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manual built with --strict from a copy that has none of the generated pages."""
    base = tmp_path_factory.mktemp("manual")
    config = _copy_manual(base / "manual")
    assert not (base / "manual" / "docs" / "keys.th.md").exists()
    done = _mkdocs(config, base / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    return base / "site"


@pytest.mark.slow
def test_the_manual_builds_in_thai_and_english_with_generated_chapters(site: Path) -> None:
    for lang_dir, lang in ((site, "th"), (site / "en", "en")):
        for chapter in manual_commands.chapters():
            page = (lang_dir / f"{chapter}.html").read_text(encoding="utf-8")
            assert f'<html lang="{lang}"' in page, (chapter, lang)
    assert "ติดตั้ง" in (site / "install.html").read_text(encoding="utf-8")
    assert "Install" in (site / "en" / "install.html").read_text(encoding="utf-8")
    # The developer documents are linked, built from docs/ as they are now (not copied into the manual).
    assert (site / "dev" / "certificates.html").is_file() and (site / "dev" / "reports.html").is_file()
    for image in ("catalogue.png", "preview-course.png", "preview-overlay.png"):
        assert (site / "assets" / "img" / image).stat().st_size > 10_000


@pytest.mark.slow
def test_every_schema_key_is_in_the_keys_chapter(site: Path) -> None:
    keys = manual_reference.schema_keys()
    assert {"id", "units", "certificate", "min_minutes", "answer", "subtitles"} <= keys
    for page in (site / "keys.html", site / "en" / "keys.html"):
        html = page.read_text(encoding="utf-8")
        shown = set(re.findall(r"<code>(?:[a-z_]+\.)*([a-z_]+)</code>", html))
        assert sorted(keys - shown) == [], page


@pytest.mark.slow
def test_the_thai_keys_chapter_explains_keys_in_thai(site: Path) -> None:
    glosses = manual_reference.thai_glosses()
    keys = manual_reference.schema_keys()
    assert sorted(g for g in glosses if g.rsplit(".", 1)[-1] not in keys) == [], "keys.th.yaml: stale keys"
    assert len(glosses) >= 62  # every key (and dotted key) of the schemas when this was written
    html = (site / "keys.html").read_text(encoding="utf-8")
    assert "<strong>ชื่อที่ผู้เรียนเห็น</strong>" in html and "<strong>โจทย์</strong>" in html


@pytest.mark.slow
def test_every_message_code_is_in_the_troubleshooting_chapter(site: Path) -> None:
    codes = {e.code for doc in manual_reference.CATALOGUE for e in manual_reference.catalogue(doc)}
    assert {"yaml-invalid", "quiz-answer-unknown", "asset-missing", "date-buddhist-era"} <= codes
    assert len(codes) > 100
    for page in (site / "troubleshooting.html", site / "en" / "troubleshooting.html"):
        html = page.read_text(encoding="utf-8")
        assert sorted(c for c in codes if f"<code>{c}</code>" not in html) == [], page
    # The examples are the validator's real words.
    html = (site / "en" / "troubleshooting.html").read_text(encoding="utf-8")
    assert "is not one of the choices" in html and "[quiz-answer-unknown]" in html


@pytest.mark.slow
def test_the_thai_troubleshooting_says_how_to_fix_in_thai(site: Path) -> None:
    hints = manual_reference.thai_hints()
    codes = {e.code for doc in manual_reference.CATALOGUE for e in manual_reference.catalogue(doc)}
    assert sorted(set(hints) - codes) == [], "manual/troubleshooting.th.yaml names codes that no longer exist"
    source_codes = {e.code for e in manual_reference.catalogue("validation.md")}
    assert len(source_codes & set(hints)) >= 53  # every source code when this was written
    html = (site / "troubleshooting.html").read_text(encoding="utf-8")
    assert html.count("วิธีแก้:") == len(hints)
    assert "วิธีแก้:" not in (site / "en" / "troubleshooting.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    config = _copy_manual(tmp_path / "manual")
    page = tmp_path / "manual" / "docs" / "install.en.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n[gone](no-such-chapter.md)\n", encoding="utf-8")
    done = _mkdocs(config, tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-chapter.md" in done.stderr


def test_mkdocs_is_pinned_in_the_test_extra() -> None:
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    pins = {re.split(r"[=<>]", r)[0]: r for r in extra["test"]}
    for name in ("mkdocs", "mkdocs-material", "mkdocs-static-i18n"):
        assert "==" in pins[name], pins.get(name)


# ---------------------------------------------------------------------------------------------------------
# The commands


def test_every_shell_block_is_marked() -> None:
    for lang in manual_commands.LANGS:
        for chapter in manual_commands.chapters():
            for block in manual_commands.blocks(chapter, lang):
                where = f"manual/docs/{chapter}.{lang}.md:{block.line}"
                if block.lang in ("sh", "bash", "console", "shell"):
                    assert block.marker in ("run", "shown"), (
                        f"{where}: a shell block needs <!-- run --> or <!-- shown: why -->"
                    )
                if block.marker == "shown":
                    assert block.arg, f"{where}: say why the block is not run"
                if block.marker == "run":
                    assert block.lang == "sh" and block.arg in ("", "exit 1", "password", "background"), where
                if block.marker == "file":
                    assert block.arg and not block.arg.startswith(("/", "..")), where


def test_every_fence_is_seen_by_the_step_reader() -> None:
    """A fence the reader missed (indented in a list or a note) would be a command nobody runs."""
    for lang in manual_commands.LANGS:
        for chapter in manual_commands.chapters():
            text = (manual_commands.DOCS / f"{chapter}.{lang}.md").read_text(encoding="utf-8")
            fences = re.findall(r"^\s*```", text, re.M)
            assert len(fences) == 2 * len(manual_commands.blocks(chapter, lang)), f"{chapter}.{lang}.md"


def test_developer_links_outside_docs_become_paths() -> None:
    text = (
        "See [runtime.md](runtime.md#preview), [deploy/](../deploy/README.md), [the tests](../tests/x.py), "
        "![shot](img/a.png) and `[text](url)` in code.\n```\n[a](../b.md)\n```\n"
    )
    assert manual_reference._dev_links(text) == (
        "See [runtime.md](runtime.md#preview), `deploy/`, the tests (`tests/x.py`), "
        "![shot](img/a.png) and `[text](url)` in code.\n```\n[a](../b.md)\n```\n"
    )


def test_thai_and_english_carry_the_same_steps() -> None:
    th, en = manual_commands.steps("th"), manual_commands.steps("en")
    assert [(s.page, *s.key) for s in th] == [(s.page, *s.key) for s in en]
    assert sum(s.marker == "run" for s in th) >= 15


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}


def _run(
    step: manual_commands.Step, work: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step.body],
        cwd=work,
        env=_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        start_new_session=True,  # no terminal: a password prompt reads the typed lines from stdin
    )


class Server:
    """A marked background command on a free port, its output collected, stopped with SIGINT (Ctrl+C)."""

    def __init__(self, step: manual_commands.Step, work: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["bash", "-c", f"exec {step.body.strip()} --port {self.port}"],
            cwd=work,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True).start()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def wait_for(self, found: object, what: str) -> None:
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while time.monotonic() < deadline:
            if callable(found) and found():
                return
            assert self.proc.poll() is None, f"{what}: the server stopped:\n" + "".join(self.lines)
            time.sleep(0.2)
        raise AssertionError(f"{what} never came:\n" + "".join(self.lines))

    def get(self, path_or_url: str) -> tuple[int, str]:
        url = path_or_url if path_or_url.startswith("http") else f"http://127.0.0.1:{self.port}{path_or_url}"
        assert url.startswith(f"http://127.0.0.1:{self.port}/")
        with self.opener.open(url, timeout=30) as r:
            return r.status, r.read().decode("utf-8")

    def answers(self) -> bool:
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


def _serve_and_check(step: manual_commands.Step, work: Path) -> None:
    server = Server(step, work)
    try:
        if " preview " in f" {step.body} ":
            # The manual says: open the printed link once. It signs the learner in and leads to the catalogue.
            server.wait_for(
                lambda: any("/preview/login?token=" in ln for ln in server.lines), "the sign-in link"
            )
            link = next(ln.strip() for ln in server.lines if "/preview/login?token=" in ln)
            status, page = server.get(link)  # printed once the server listens: opened at once, no wait
            assert status == 200 and "my-course" in page, page[:2000]
            me = json.loads(server.get("/api/me")[1])
            assert me["username"] == "preview"
            status, unit = server.get("/courses/my-course/units/lesson1")
            assert status == 200 and "ขยะมูลฝอยแบ่งเป็นสี่ประเภท" in unit
        else:
            server.wait_for(server.answers, "/healthz")
            assert server.get("/readyz")[0] == 200
            courses = json.loads(server.get("/api/courses")[1])
            assert "my-course" in json.dumps(courses)
            assert server.get("/")[0] == 200
    finally:
        code = server.stop()
    # Ctrl+C: serve and preview stop normally (exit 0) and say so; never a traceback.
    assert code == 0, "".join(server.lines)
    for _ in range(50):  # the reader thread takes the last lines after the exit
        if any(" stopped" in ln for ln in server.lines):
            break
        time.sleep(0.1)
    assert any(ln.startswith(("server stopped", "preview stopped")) for ln in server.lines), server.lines
    assert "Traceback" not in "".join(server.lines)


@pytest.mark.slow
def test_the_manual_runs_as_written(tmp_path: Path) -> None:
    work = tmp_path / "mooc"
    work.mkdir()
    steps = manual_commands.steps("th")
    expected_output: dict[int, str] = {}
    for i, step in enumerate(steps):
        if step.marker == "output":
            assert i > 0 and steps[i - 1].arg == "exit 1", (
                f"{step.page}:{step.line}: output follows a failing run"
            )
            expected_output[i - 1] = step.body
    ran = []
    for i, step in enumerate(steps):
        where = f"manual/docs/{step.page}.th.md:{step.line}"
        if step.marker == "file":
            (work / step.arg).parent.mkdir(parents=True, exist_ok=True)
            (work / step.arg).write_text(step.body, encoding="utf-8")
        elif step.marker == "run" and step.arg == "background":
            _serve_and_check(step, work)
        elif step.marker == "run":
            password = "manual-Test-2570-pw\n" * 2 if step.arg == "password" else None
            done = _run(step, work, password)
            want = 1 if step.arg == "exit 1" else 0
            assert done.returncode == want, f"{where}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
            for line in expected_output.get(i, "").splitlines():
                assert line in (done.stdout + done.stderr).splitlines(), (
                    f"{where}: no line {line!r} in\n{done.stdout}{done.stderr}"
                )
        else:
            continue
        ran.append(step)
    assert ran

    # What the designer has now: a validated course, packages that validate, an import that validates ...
    assert validate_path(work / "my-course", "source")[1].problems == []
    built = sorted(p.name for p in (work / "build").iterdir())
    assert built == [
        "DLA-my-course-2570_1.olx.tar.gz",
        "DLA-my-course-2570_1.scorm12.zip",
        "DLA-my-course-2570_1.scorm2004.zip",
    ]
    for package in [*(work / "build").iterdir(), *(work / "build-moodle").iterdir()]:
        _kind, report = validate_path(package)
        assert report.problems == [], (package, [str(p) for p in report.problems])
    assert validate_path(work / "my-course-from-studio", "source")[1].problems == []
    # ... and the office's runtime files, certificates' QR and poster, the HR report, an XBlock package.
    assert (work / "office.db").stat().st_size > 0
    assert (work / "register-qr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (work / "poster.pdf").read_bytes()[:5] == b"%PDF-"
    import openpyxl

    book = openpyxl.load_workbook(work / "report-2570-1.xlsx", read_only=True)
    assert book.sheetnames
    book.close()
    assert (work / "wordcard" / "pyproject.toml").is_file()


def test_the_course_the_manual_writes_is_the_one_the_screenshots_show() -> None:
    files = [s.arg for s in manual_commands.steps("th") if s.marker == "file" and s.page == "write"]
    assert files == [
        "my-course/course.yaml",
        "my-course/units/lesson1.md",
        "my-course/quizzes/pre.yaml",
        "my-course/quizzes/post.yaml",
    ]
    course = yaml.safe_load(
        next(s.body for s in manual_commands.steps("th") if s.arg == "my-course/course.yaml")
    )
    assert (course["org"], course["id"], course["run"]) == (
        "DLA",
        "my-course",
        "2570_1",
    )  # the package names above


@pytest.mark.browser
@pytest.mark.slow
def test_the_screenshot_script_takes_every_shot(tmp_path: Path) -> None:
    import screenshots_manual

    shots = screenshots_manual.shoot(tmp_path)
    assert sorted(p.name for p in shots) == ["catalogue.png", "preview-course.png", "preview-overlay.png"]
    for shot in shots:
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (1280, 860)
    # The manual shows the same pictures (committed from this script).
    for shot in shots:
        assert (MANUAL / "docs" / "assets" / "img" / shot.name).is_file()
