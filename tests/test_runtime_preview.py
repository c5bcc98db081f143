"""``localmooc preview`` without a browser: the sign-in link, the version pages poll, reloading a course in
place (learner state kept), and a broken course's problems shown in its pages while the others work."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from runtime_support import ROOT, free_port, make_app

from localmooc_packager.errors import UsageError
from localmooc_packager.runtime.app import create_app
from localmooc_packager.runtime.preview import Preview, course_folders, sign_in

BUDGET = "local-budget-basics"
OTHER = "about-dla"


@pytest.fixture
def courses(tmp_path: Path) -> Path:
    """A folder holding copies of two sample courses, free to edit."""
    root = tmp_path / "courses"
    for name in (BUDGET, OTHER):
        shutil.copytree(ROOT / "sample_courses" / name, root / name)
    return root


@pytest.fixture
def preview_app(courses: Path, tmp_path: Path) -> Iterator[tuple[Preview, TestClient]]:
    preview = Preview(course_folders([courses]))
    app: Any = create_app(preview.courses, f"sqlite:///{tmp_path / 'preview.db'}", preview=preview)
    sign_in(app, preview)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield preview, client
    app.state.store.dispose()


def _signed_in(preview: Preview, client: TestClient) -> None:
    r = client.get(f"/preview/login?token={preview.login_token}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "Content-Security-Policy" in r.headers and r.headers["X-Frame-Options"] == "DENY"


def test_the_one_time_link_signs_the_learner_in_once(preview_app: tuple[Preview, TestClient]) -> None:
    preview, client = preview_app
    token = preview.login_token
    assert client.get("/api/me").status_code == 401
    _signed_in(preview, client)
    assert client.get("/api/me").json()["username"] == "preview"
    page = client.get("/").text
    assert '<script src="/assets/app/preview.js" data-version="1"' in page
    assert "preview-banner" not in page  # both courses are valid
    other = TestClient(client.app, base_url="http://127.0.0.1")
    assert other.get(f"/preview/login?token={token}", follow_redirects=False).status_code == 403
    assert other.get("/preview/login?token=", follow_redirects=False).status_code == 403
    # CSRF still guards the signed-in learner: a POST without the token is refused.
    assert client.post(f"/api/courses/{BUDGET}/enrol").status_code == 403


def test_an_edit_reloads_only_that_course_and_keeps_learner_state(
    preview_app: tuple[Preview, TestClient], courses: Path
) -> None:
    preview, client = preview_app
    _signed_in(preview, client)
    csrf = client.cookies.get("lm_csrf")
    assert client.post(f"/api/courses/{BUDGET}/enrol", headers={"X-CSRFToken": csrf}).status_code == 200
    unit = preview.courses[BUDGET].units[0].id
    before_other = preview.courses[OTHER]
    assert client.get("/preview/version").json() == {"version": 1}
    assert client.get("/preview/version").headers["cache-control"] == "no-store"

    md = courses / BUDGET / "units" / "intro.md"
    md.write_text(md.read_text(encoding="utf-8").replace("ปีงบประมาณคืออะไร", "ข้อความใหม่จากผู้เขียน"), "utf-8")
    assert [s.course_id for s in preview.reload([md])] == [BUDGET]
    assert client.get("/preview/version").json() == {"version": 2}
    assert preview.courses[OTHER] is before_other  # the other course was not touched
    page = client.get(f"/courses/{BUDGET}/units/{unit}")
    assert page.status_code == 200 and "ข้อความใหม่จากผู้เขียน" in page.text
    assert 'data-version="2"' in page.text
    # Same ids, same learner state: still enrolled, no new enrolment needed.
    assert client.get(f"/api/courses/{BUDGET}/resume").json()["enrolled"] is True
    # A change outside every course folder reloads nothing and keeps the version.
    assert preview.reload([courses / "README.txt"]) == []
    assert client.get("/preview/version").json() == {"version": 2}


def test_a_broken_course_shows_its_problems_and_the_others_keep_working(
    preview_app: tuple[Preview, TestClient], courses: Path
) -> None:
    preview, client = preview_app
    _signed_in(preview, client)
    unit = preview.courses[BUDGET].units[0].id
    yaml = courses / BUDGET / "units" / "process.yaml"
    good = yaml.read_text(encoding="utf-8")
    # An unclosed flow list whose text would be markup if it were not escaped.
    yaml.write_text(good + "title: [<script>alert(1)</script>\n", "utf-8")
    preview.reload([yaml])

    r = client.get(f"/courses/{BUDGET}/units/{unit}")
    assert r.status_code == 503
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    problems = re.findall(r"<li data-lm-problem>(.*?)</li>", r.text, re.S)
    assert len(problems) == 1
    assert re.search(r"process\.yaml:\d+:\d+</code>: .*\[yaml-invalid\]", problems[0])
    assert "<script>alert" not in r.text
    for path in (f"/courses/{BUDGET}", f"/courses/{BUDGET}/learn", f"/courses/{BUDGET}/progress"):
        assert client.get(path, follow_redirects=False).status_code == 503, path
    # The API and the catalogue no longer offer it; the banner names it; the other course works.
    assert client.get(f"/api/courses/{BUDGET}").status_code == 404
    home = client.get("/").text
    assert 'data-lm-preview="banner"' in home and f'href="/courses/{BUDGET}"' in home
    assert client.get(f"/courses/{OTHER}").status_code == 200
    assert client.get(f"/api/courses/{OTHER}").status_code == 200

    yaml.write_text(good, "utf-8")
    preview.reload([yaml])
    assert client.get(f"/courses/{BUDGET}/units/{unit}").status_code == 200
    assert "preview-banner" not in client.get("/").text
    assert client.get("/preview/version").json() == {"version": 3}


def test_a_course_broken_at_start_does_not_stop_preview(courses: Path, tmp_path: Path) -> None:
    (courses / OTHER / "course.yaml").write_text("id: about-dla\ntitle: [\n", "utf-8")
    preview = Preview(course_folders([courses]))
    assert sorted(preview.courses) == [BUDGET]
    [slot] = preview.broken()
    where = slot.problems[0].location
    assert slot.course_id == OTHER and slot.problems[0].code == "yaml-invalid"
    assert where.file.endswith("course.yaml") and where.line >= 2
    app: Any = create_app(preview.courses, f"sqlite:///{tmp_path / 'p.db'}", preview=preview)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get(f"/courses/{OTHER}").status_code == 503
        assert client.get(f"/courses/{BUDGET}").status_code == 200
    app.state.store.dispose()


def test_course_folders_takes_folders_and_folders_of_folders(courses: Path, tmp_path: Path) -> None:
    found = course_folders([courses / BUDGET, courses / OTHER])
    assert [p.name for p in found] == [BUDGET, OTHER]
    assert [p.name for p in course_folders([courses])] == [OTHER, BUDGET]
    with pytest.raises(UsageError, match="no course folder"):
        course_folders([tmp_path / "nothing"])
    with pytest.raises(UsageError, match="twice"):
        course_folders([courses, courses / BUDGET])


def test_serve_has_no_preview(tmp_path: Path) -> None:
    """Without a Preview the app is the served one: no preview routes, no polling script."""
    app = make_app(f"sqlite:///{tmp_path / 's.db'}")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/preview/version").status_code == 404
        assert client.get("/preview/login?token=x").status_code == 404
        assert "preview.js" not in client.get("/").text


def test_serve_takes_several_folders_and_skips_an_invalid_course(courses: Path, tmp_path: Path) -> None:
    """`serve A B C`: the valid courses are served; the invalid one is reported with its problems, skipped."""
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / "sample_courses" / "flashcards-demo", broken)
    (broken / "course.yaml").write_text("id: broken\ntitle: [\n", "utf-8")
    port = free_port()
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "LOCALMOOC_KEY_FILE": str(tmp_path / "key"), "TMPDIR": str(tmp_path / "tmp")}
    args = [str(courses / BUDGET), str(courses / OTHER), str(broken), "--port", str(port)]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localmooc_packager",
            "serve",
            *args,
            "--db",
            f"sqlite:///{tmp_path / 's.db'}",
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
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    ids = {c["id"] for cat in json.loads(body) for c in cat["courses"]} if body else set()
    assert ids == {BUDGET, OTHER}, output
    assert re.search(r"broken/course\.yaml:\d+:\d+: invalid YAML.*\[yaml-invalid\]", output), output
    assert "skipped broken: 1 error(s), not served" in output
    assert f"courses: {OTHER}, {BUDGET}" in output
    assert "Traceback" not in output
    assert list((tmp_path / "tmp").iterdir()) == []  # the folders of links went with the server


def test_serve_with_only_invalid_courses_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "course.yaml").write_text("id: bad\ntitle: [\n", "utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "localmooc_packager",
            "serve",
            str(bad),
            "--db",
            f"sqlite:///{tmp_path / 's.db'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "yaml-invalid" in proc.stderr and "Traceback" not in proc.stderr


def test_preview_on_a_taken_port_is_a_usage_error(courses: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "localmooc_packager", "preview", str(courses), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2, proc.stderr
    assert f"127.0.0.1:{port}: Address already in use; choose another --port" in proc.stderr
    assert "token=" not in proc.stdout  # nothing half-started


def test_a_changed_course_id_moves_the_course_and_a_taken_id_is_a_problem(
    preview_app: tuple[Preview, TestClient], courses: Path
) -> None:
    preview, client = preview_app
    _signed_in(preview, client)
    yaml = courses / OTHER / "course.yaml"
    good = yaml.read_text(encoding="utf-8")
    yaml.write_text(good.replace(f"id: {OTHER}\n", f"id: {BUDGET}\n", 1), "utf-8")
    preview.reload([yaml])
    [slot] = preview.broken()
    assert slot.problems[0].code == "id-twice" and BUDGET in slot.problems[0].message
    assert sorted(preview.courses) == [BUDGET]
    assert client.get(f"/courses/{BUDGET}").status_code == 200  # the course that holds the id keeps it
    assert client.get(f"/courses/{OTHER}").status_code == 503

    yaml.write_text(good.replace(f"id: {OTHER}\n", "id: about-dla-new\n", 1), "utf-8")
    preview.reload([yaml])
    assert sorted(preview.courses) == ["about-dla-new", BUDGET] and preview.broken() == []
    assert client.get("/courses/about-dla-new").status_code == 200
    assert client.get(f"/courses/{OTHER}").status_code == 404
    # The preview learner is enrolled in a course that appears while preview runs.
    assert client.get("/api/courses/about-dla-new/resume").json()["enrolled"] is True


# ---- start and stop as a person does it: the link works once printed, Ctrl-C is a normal stop


def _start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "localmooc_packager", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop_with_ctrl_c(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_preview_link_works_as_soon_as_it_is_printed_and_ctrl_c_exits_0(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = _start(["preview", str(ROOT / "sample_courses" / BUDGET), "--port", str(port)], tmp_path, env)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # read as printed: the link line comes only once the server listens
            seen.append(line)
            if "/preview/login?token=" in line:
                break
        link = seen[-1].strip()
        assert link.startswith(f"http://127.0.0.1:{port}/preview/login?token="), seen
        # Opened the instant it appears (no retry, no wait): the server answers.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as r:
            assert r.status == 200
        assert proc.stdout.readline().strip() == "Ctrl-C to stop"
    finally:
        code, out, err = _stop_with_ctrl_c(proc)
    assert code == 0, err
    assert (
        out.strip().splitlines()[-1] == "preview stopped, its throwaway database deleted (ปิดการแสดงตัวอย่างแล้ว)"
    )
    assert "Traceback" not in err and "interrupted" not in err
    assert not any(p.name.startswith("localmooc-preview-") for p in tmp_path.iterdir())


def test_serve_stops_on_ctrl_c_with_exit_0_and_says_so(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LOCALMOOC_KEY_FILE": str(tmp_path / "key")}
    args = ["serve", str(ROOT / "sample_courses" / BUDGET), "--port", str(port)]
    proc = _start([*args, "--db", f"sqlite:///{tmp_path / 's.db'}"], tmp_path, env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
    finally:
        code, out, err = _stop_with_ctrl_c(proc)
    assert code == 0, err
    assert out.strip().splitlines()[-1] == "server stopped (หยุดให้บริการแล้ว)"
    assert "Traceback" not in err and "interrupted" not in err
