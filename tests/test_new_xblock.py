"""`localmooc new-xblock flashcards` -> pip install -e -> a course using `type: flashcards` that validates,
builds to OLX and SCORM, and is taken in the reference runtime and in the xblock-sdk workbench.

The package is installed into a fresh virtual environment of its own, which sees this environment's
packages through a .pth file (installing nothing from the network). The scaffold's distribution is named
like the example's (flashcards-xblock) and that environment's own site-packages come first, so it is the
new package, not examples/flashcards, that answers to `flashcards` there.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import textwrap
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

FILES = [
    "README.md",
    "flashcards_xblock/__init__.py",
    "flashcards_xblock/block.py",
    "flashcards_xblock/schema.json",
    "flashcards_xblock/static/flashcards.css",
    "flashcards_xblock/static/flashcards.js",
    "flashcards_xblock/templates/flashcards.html",
    "pyproject.toml",
    "tests/test_block.py",
]


def test_new_xblock_refuses_bad_names_and_full_folders(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "localmooc_packager", "new-xblock", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    done = run("Flash_Cards", "-o", str(tmp_path))
    assert done.returncode == 2 and "block name 'Flash_Cards': use lower-case ASCII letters" in done.stderr
    done = run("video", "-o", str(tmp_path))
    assert done.returncode == 2 and "'video' is a built-in block type" in done.stderr
    (tmp_path / "cards" / "x").mkdir(parents=True)
    done = run("cards", "-o", str(tmp_path))
    assert done.returncode == 2 and "exists and is not empty" in done.stderr
    assert list((tmp_path / "cards").iterdir()) == [tmp_path / "cards" / "x"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The scaffolded package, installed (editable) into a new venv layered over this one."""
    base = tmp_path_factory.mktemp("new-xblock")
    done = subprocess.run(
        [sys.executable, "-m", "localmooc_packager", "new-xblock", "flashcards", "-o", str(base)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"created {base / 'flashcards'}; install it with: pip install -e ")
    package = base / "flashcards"
    venv = base / "venv"
    python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "zz_localmooc_parent.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(package)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    return {"base": base, "package": package, "python": py}


def run_in(env: dict[str, Path], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(env["python"]), *args], capture_output=True, text=True, timeout=300, cwd=cwd or env["base"]
    )


def test_the_scaffold_has_every_piece_and_its_tests_pass(env: dict[str, Path]) -> None:
    package = env["package"]
    assert (
        sorted(
            p.relative_to(package).as_posix()
            for p in package.rglob("*")
            if p.is_file() and "egg-info" not in p.as_posix() and "__pycache__" not in p.as_posix()
        )
        == FILES
    )
    pyproject = (package / "pyproject.toml").read_text()
    assert (
        '[project.entry-points."xblock.v1"]\nflashcards = "flashcards_xblock.block:FlashcardsBlock"'
        in pyproject
    )
    schema = json.loads((package / "flashcards_xblock" / "schema.json").read_text())
    assert schema["required"] == ["prompt"] and schema["additionalProperties"] is False
    done = run_in(env, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout


def test_blocks_lists_the_new_block(env: dict[str, Path]) -> None:
    done = run_in(env, "-m", "localmooc_packager", "blocks", "--format", "json")
    assert done.returncode == 0, done.stderr
    (block,) = [b for b in json.loads(done.stdout) if b["type"] == "flashcards"]
    assert block["package"] == "flashcards-xblock 0.1.0" and block["static"] is True
    assert {
        f["name"]: f["scope"] for f in block["fields"] if f["name"] in ("prompt", "done", "display_name")
    } == {
        "display_name": "settings",
        "done": "user_state",
        "prompt": "content",
    }


COURSE = """\
id: cards
org: DLA
run: r1
title: ทดลองบล็อกใหม่
start: 2025-10-01
end: 2026-03-31
units:
  - id: u1
    title: บทที่ 1
    blocks:
      - type: flashcards
        id: fc
        title: อ่านแล้วกด
        prompt: {prompt}
"""


def test_a_course_using_the_new_block_validates_and_builds(env: dict[str, Path]) -> None:
    course = env["base"] / "course"
    course.mkdir(exist_ok=True)
    (course / "course.yaml").write_text(COURSE.format(prompt="อ่านข้อความนี้"), encoding="utf-8")
    done = run_in(env, "-m", "localmooc_packager", "validate", str(course))
    assert done.returncode == 0, done.stderr
    out = env["base"] / "out"
    done = run_in(env, "-m", "localmooc_packager", "build", str(course), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "DLA-cards-r1.olx.tar.gz",
        "DLA-cards-r1.scorm12.zip",
        "DLA-cards-r1.scorm2004.zip",
    ]
    code = textwrap.dedent(f"""
        import json, tarfile, zipfile
        import localmooc_packager as lm
        out = {str(out)!r}
        for p in sorted(__import__("pathlib").Path(out).iterdir()):
            kind, report = lm.validate_path(p)
            assert report.ok(strict=True), [str(x) for x in report]
        with tarfile.open(out + "/DLA-cards-r1.olx.tar.gz") as t:
            name = next(n for n in t.getnames() if n.endswith("vertical/u1.xml"))
            print(t.extractfile(name).read().decode())
        with zipfile.ZipFile(out + "/DLA-cards-r1.scorm12.zip") as z:
            print(z.read("index.html").decode())
    """)
    done = run_in(env, "-c", code)
    assert done.returncode == 0, done.stderr
    assert '<flashcards display_name="อ่านแล้วกด" prompt="อ่านข้อความนี้" url_name="fc"/>' in done.stdout
    assert '<div class="flashcards-block"><p class="flashcards-prompt">อ่านข้อความนี้</p></div>' in done.stdout
    # The block's schema is what validate checks the course against.
    (course / "course.yaml").write_text(COURSE.format(prompt='""'), encoding="utf-8")
    done = run_in(env, "-m", "localmooc_packager", "validate", str(course))
    assert done.returncode == 1
    assert "units[1].blocks[1].prompt: flashcards: '' should be non-empty [xblock-schema]" in done.stderr


def test_the_new_block_is_taken_in_the_reference_runtime(env: dict[str, Path]) -> None:
    course = env["base"] / "course-rt"
    course.mkdir(exist_ok=True)
    (course / "course.yaml").write_text(COURSE.format(prompt="อ่านข้อความนี้"), encoding="utf-8")
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from runtime_support import Api, test_secrets
        from localmooc_packager.runtime.app import create_app
        from localmooc_packager.runtime.blocks import load_course_dir
        app = create_app({{"cards": load_course_dir(__import__("pathlib").Path({str(course)!r}))}},
                         "sqlite:///{env["base"]}/rt.db", secrets=test_secrets())
        api = Api(app)
        api.learner("somchai")
        assert api.post("/api/courses/cards/enrol").status_code == 200
        html = api.get("/api/courses/cards/units/u1").json()["html"]
        assert "อ่านข้อความนี้" in html and "flashcards-done" in html, html
        r = api.post("/api/courses/cards/blocks/fc/handler/mark_done", json={{"done": True}})
        assert r.status_code == 200 and r.json() == {{"done": True}}, r.text
        bad = api.post("/api/courses/cards/blocks/fc/handler/mark_done", json={{"done": "yes"}})
        assert bad.status_code == 400, bad.text
        html = api.get("/api/courses/cards/units/u1").json()["html"]
        assert 'aria-pressed="true"' in html
        print("runtime ok")
    """)
    done = run_in(env, "-c", code, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("runtime ok")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_new_block_runs_in_the_workbench(env: dict[str, Path]) -> None:
    home = env["base"] / "workbench"
    home.mkdir(exist_ok=True)
    (home / "var").mkdir(exist_ok=True)
    wenv = {**os.environ, "DJANGO_SETTINGS_MODULE": "workbench.settings", "PYTHONWARNINGS": "ignore"}
    admin = [str(env["python"]), "-m", "django"]
    subprocess.run(
        [*admin, "migrate", "--noinput"], cwd=home, env=wenv, check=True, capture_output=True, timeout=300
    )
    port = _free_port()
    proc = subprocess.Popen(
        [*admin, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=home,
        env=wenv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        for _ in range(300):
            try:
                index = opener.open(base + "/", timeout=2).read().decode()
                break
            except OSError:
                assert proc.poll() is None, "the workbench exited"
                time.sleep(0.2)
        else:
            raise AssertionError("the workbench did not answer within 60 s")
        assert "/scenario/flashcards.0/" in index
        page = opener.open(base + "/scenario/flashcards.0/?student=somchai").read().decode()
        assert "อ่านข้อความนี้แล้วกดปุ่ม เสร็จแล้ว" in page and "flashcards-done" in page
        import re

        usage = re.search(r"data-usage=[\"']([^\"']+)[\"'][^>]*data-block-type=[\"']flashcards", page)
        assert usage
        token = next(c.value for c in jar if c.name == "csrftoken")
        req = urllib.request.Request(
            f"{base}/handler/{usage.group(1)}/mark_done/?student=somchai",
            data=b'{"done": true}',
            headers={"Content-Type": "application/json", "X-CSRFToken": token, "Referer": base + "/"},
            method="POST",
        )
        with opener.open(req) as resp:
            assert json.loads(resp.read()) == {"done": True}
        page = opener.open(base + "/scenario/flashcards.0/?student=somchai").read().decode()
        assert 'aria-pressed="true"' in page
    finally:
        proc.terminate()
        proc.wait(timeout=20)
