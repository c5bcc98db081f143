"""`localmooc serve` on OLX: an imported Studio course and the toolkit's own OLX archive, through the
runtime's public way of loading courses (load_courses -> create_app) and its HTTP API."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from runtime_support import Api, free_port, test_secrets

from localmooc_packager.errors import UsageError
from localmooc_packager.exporters.olx import OlxExporter
from localmooc_packager.importers.runtime import is_olx, runtime_courses
from localmooc_packager.runtime.app import create_app
from localmooc_packager.runtime.blocks import load_courses
from localmooc_packager.source import load_course

from conftest import SAMPLES, sample_courses

FIXTURES = Path(__file__).parent / "fixtures" / "studio"
DEMO = FIXTURES / "corpus" / "openedx-demo-course"


def _all_units(api: Api, course: str, first: str) -> list[dict[str, Any]]:
    """Every unit from ``first`` on, following each page's ``next``."""
    assert api.post(f"/api/courses/{course}/enrol").status_code == 200
    unit = first
    seen = []
    while unit:
        r = api.get(f"/api/courses/{course}/units/{unit}")
        assert r.status_code == 200, (unit, r.text)
        seen.append(r.json())
        unit = r.json()["next"]
    return seen


def test_serves_studio_exports_and_own_archives(tmp_path: Path) -> None:
    courses = tmp_path / "courses"
    courses.mkdir()
    shutil.copytree(FIXTURES / "issue11", courses / "issue11")  # a Studio export, unpacked
    shutil.copytree(DEMO, courses / "demo")  # the Open edX demo course (313 components)
    OlxExporter().export(load_course(SAMPLES / "local-budget-basics"), courses)  # an archive of ours
    assert sorted(is_olx(p) for p in courses.iterdir()) == [True, True, True]

    loaded = load_courses(runtime_courses(courses, tmp_path / "work"))
    assert set(loaded) == {"LM900", "DemoX", "local-budget-basics"}
    app = create_app(loaded, f"sqlite:///{tmp_path / 'rt.db'}", secrets=test_secrets())
    api = Api(app)
    api.learner("learner.olx")

    # Every unit of every course renders; raw blocks as a card naming their Open edX type.
    for course_id in loaded:
        units = _all_units(api, course_id, loaded[course_id].units[0].id)
        assert len(units) == len(loaded[course_id].units)
    [v1] = _all_units(api, "LM900", "v1")
    html = v1["html"]
    assert 'data-olx-tag="staffgradedxblock"' in html and "งานที่ส่งนอกระบบ" in html
    assert "Not available here: Open edX block type <code>staffgradedxblock</code>" in html
    assert "ไม่พร้อมใช้งานที่นี่" in html
    assert 'data-olx-tag="discussion"' in html
    assert "/static/a_photo.png" in html  # the page's link, and the file under that name:
    assert api.get("/courses/LM900/static/a_photo.png").status_code == 200
    demo = _all_units(api, "DemoX", loaded["DemoX"].units[0].id)
    cards = sum(u["html"].count('class="lm-raw"') for u in demo)
    assert cards == 37  # every block the import kept verbatim (openedx-demo-course), none crashed


def test_course_sources_are_served_where_they_are(tmp_path: Path) -> None:
    course = sample_courses()[0]
    assert runtime_courses(course, tmp_path / "work") == course
    assert not (tmp_path / "work").exists()
    with pytest.raises(UsageError, match="no course"):
        runtime_courses(tmp_path, tmp_path / "work")


def test_cli_serves_an_olx_archive(tmp_path: Path) -> None:
    """`localmooc serve COURSE.olx.tar.gz` imports it into a folder that lives as long as the server."""
    studio = tmp_path / "studio.tar.gz"
    with tarfile.open(studio, "w:gz") as tar:
        tar.add(FIXTURES / "issue11" / "course", arcname="course")
    port = free_port()
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "LOCALMOOC_KEY_FILE": str(tmp_path / "key"), "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localmooc_packager",
            "serve",
            str(studio),
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path / 'serve.db'}",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = ""
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/courses", timeout=2) as r:
                    body = r.read().decode()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.5)
        assert "LM900" in body, proc.stdout.read().decode() if proc.poll() is not None else body
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as an operator stops it
        proc.wait(timeout=30)
    assert list((tmp_path / "tmp").iterdir()) == []  # the imported course went with the server
