"""Certificates end to end in Debian's Chromium, on SQLite and PostgreSQL. Two learners pass the sample
course and meet its 90-minute rule (the runtime's injectable clock moves on); the runtime certifies them.
One downloads the certificate: its PNG (pdftoppm) is checked for shaped Thai and its QR code, decoded with
zbarimg, is opened and verifies. The round report (`localmooc report`) counts both; an admin revokes one
certificate in the admin UI and verification says so; the other learner erases their account: the report
keeps the count and verification says "issued, holder erased".

The PNGs and PDFs stay under pytest's basetemp (``certificates-browser-*``). With LOCALMOOC_SCREENSHOTS=DIR
the pages and the certificate are also written to DIR (tools/screenshots_results.py does that for docs/img).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from PIL import ImageChops
from results_support import ROOT, pdftoppm, pdftotext
from runtime_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    COURSE_ID,
    PASSWORD,
    LiveServer,
    db_url,
    free_port,
    pg_database,
    sample_courses,
    test_secrets,
)

from localmooc_packager.results.certificate import Certificate, render
from localmooc_packager.results.pdf import ZWSP
from localmooc_packager.results.rounds import round_of
from localmooc_packager.runtime.clock import OffsetClock

__all__ = ["db_url", "pg_database"]  # fixtures used by name
pytestmark = pytest.mark.browser

sys.path.insert(0, str(ROOT / "tools"))
import screenshots_results  # noqa: E402

SHOTS = Path(os.environ["LOCALMOOC_SCREENSHOTS"]) if os.environ.get("LOCALMOOC_SCREENSHOTS") else None
LEARNERS = {"sunee": "นางสาวสุนีย์ ปิ่นทองคำ", "prasit": "นายประสิทธิ์ ใจดี"}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[tuple[Any, list[str]]]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run ./run.sh test (it installs Debian's chromium)")
    if shutil.which("zbarimg") is None:
        pytest.fail("zbarimg is missing: install the Debian package zbar-tools (./run.sh test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1100, "height": 900},
            locale="th-TH",
            accept_downloads=True,
        )
        foreign: list[str] = []

        def guard(route: Any) -> None:
            if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
                route.continue_()
            else:
                foreign.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            yield page, foreign
        finally:
            context.close()
        assert not errors, errors


def register_and_pass(page: Any, base: str, username: str, clock: Any) -> None:
    """Register through the form, enrol, watch the video, answer every quiz, pass the post-test, then study
    on until the course's 90 minutes are met: the injectable clock moves 5 minutes (the idle cap) before each
    activity, as a learner reading at their pace would."""
    step = timedelta(minutes=5)
    page.goto(f"{base}/register")
    page.fill("#name", LEARNERS[username])
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.select_option("#org_type", "local-admin-org")
    page.fill("#organisation", "องค์การบริหารส่วนตำบลบ้านใหม่")
    page.select_option("#province", "ขอนแก่น")
    page.click('[data-lm="register-submit"]')
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/courses/{COURSE_ID}")
    clock.advance(step)
    page.click('[data-lm="enrol"]')
    page.wait_for_url(f"**/courses/{COURSE_ID}/units/intro")
    # The video, played to its end: its own script reports "watched" at 90 %.
    clock.advance(step)
    with page.expect_response(lambda r: r.url.endswith("/handler/watched_handler")) as watched:
        page.evaluate(
            """() => new Promise((done) => {
                const v = document.querySelector('[data-lm-block="intro-video"] video');
                const seek = () => { v.currentTime = v.duration; done(); };
                if (v.readyState >= 1) seek(); else v.addEventListener('loadedmetadata', seek);
            })"""
        )
    assert watched.value.ok
    quizzes = {
        "intro": ("pre", {"q1": "false", "q2": "b"}),
        "revenue": ("revenue-check", {"q1": "a"}),
        "process": ("process-quiz", {"q1": "b"}),
        "final": ("post", {"q1": "b", "q2": "2", "q3": ["a", "b"], "q4": "true", "q5": "สภาเทศบาล"}),
    }
    for unit, (quiz_id, answers) in quizzes.items():
        if unit != "intro":
            clock.advance(step)
            page.click('[data-lm="next"]')
            page.wait_for_url(f"**/units/{unit}")
        quiz = page.locator(f'[data-lm-quiz="{quiz_id}"]')
        for qid, value in answers.items():
            q = quiz.locator(f'[data-lm-question="{qid}"]')
            if q.locator("[data-lm-input]").count():
                q.locator("[data-lm-input]").fill(str(value))
                continue
            for v in value if isinstance(value, list) else [value]:
                q.locator(f'[data-lm-choice="{v}"]').check()
        clock.advance(step)
        quiz.locator('[data-lm="submit"]').click()
        quiz.locator("[data-lm-result]").wait_for()
    page.locator('[data-lm-quiz="post"] [data-lm-result]').filter(has_text="5/5").wait_for()
    # Content done and post-test passed, not 90 minutes yet: my courses says what is missing.
    page.goto(f"{base}/me/courses")
    course = page.locator(f'[data-lm-my-course="{COURSE_ID}"]')
    assert course.get_attribute("data-lm-status") == "completed"
    assert "ใช้เวลาเรียนให้ครบ" in course.locator("[data-lm-missing]").inner_text()
    if username == "sunee" and SHOTS:
        screenshots_results.shoot(page, SHOTS / "runtime-my-courses-missing.png")
    for i in range(12):  # study on: reading the units again
        clock.advance(step)
        page.goto(f"{base}/courses/{COURSE_ID}/units/{list(quizzes)[i % 4]}")


def log_in(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click('[data-lm="login-submit"]')
    page.wait_for_url(f"{base}/")


def log_out(page: Any) -> None:
    page.click('[data-lm="logout"]')
    page.wait_for_load_state()


def report(url: str, rnd: str, out: Path) -> dict[str, Any]:
    """`localmooc report --round RND --format json` against the server's database."""
    cmd = [sys.executable, "-m", "localmooc_packager", "report", "--round", rnd, "--db", url]
    cmd += ["--format", "json", "-o", str(out), "--courses-dir", str(ROOT / "sample_courses")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def download_certificate(page: Any, base: str, out: Path) -> Path:
    page.goto(f"{base}/me/courses")
    with page.expect_download() as info:
        page.click('[data-lm="certificate"]')
    info.value.save_as(out)
    return out


def check_shaped(pdf: Path, png_dir: Path, verify: dict[str, Any], name: str, template: Any) -> None:
    """The downloaded certificate is the shaped rendering of its data, pixel for pixel, and not the unshaped
    one; the two differ in the text only (the QR square is the same picture) - the comparison of
    tests/test_results_certificate.py, here on what the browser downloaded."""
    from datetime import datetime

    cert = Certificate(
        number=verify["certificate_no"],
        learner_name=name,
        course_title=verify["course_title"],
        credited_hours=verify["credited_hours"],
        certified_at=datetime.fromisoformat(verify["certified_at"]),
    )
    downloaded = pdftoppm(pdf, png_dir / "certificate.png", dpi=60)
    shaped_pdf, flat_pdf = png_dir / "shaped.pdf", png_dir / "unshaped.pdf"
    shaped_pdf.write_bytes(render(cert, template))
    flat_pdf.write_bytes(render(cert, template, shaping=False))
    shaped = pdftoppm(shaped_pdf, png_dir / "shaped.png", dpi=60)
    flat = pdftoppm(flat_pdf, png_dir / "unshaped.png", dpi=60)
    assert ImageChops.difference(downloaded, shaped).getbbox() is None, "not the shaped rendering"
    assert ImageChops.difference(downloaded, flat).getbbox() is not None, "shaping changed nothing"
    qr_box = (40, 370, 125, 455)  # A4 landscape at 60 dpi: 20 mm from the left, 50 mm above the bottom
    assert ImageChops.difference(downloaded.crop(qr_box), flat.crop(qr_box)).getbbox() is None
    text = re.sub(r"\s", "", pdftotext(pdf).replace(ZWSP, ""))
    assert re.sub(r"\s", "", name) in text and verify["certificate_no"] in text


def zbar(png: Path) -> str:
    proc = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"zbarimg found no QR code in {png}: {proc.stderr}"
    return proc.stdout.strip()


def test_certificate_verified_revoked_erased_counted(
    browser: tuple[Any, list[str]], db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from localmooc_packager.runtime.app import create_app
    from localmooc_packager.runtime.server import create_admin
    from localmooc_packager.runtime.settings import Settings

    page, foreign = browser
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    keep = tmp_path_factory.mktemp(f"certificates-browser-{backend}")  # kept under basetemp
    shots = SHOTS
    clock = OffsetClock()
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    template = ROOT / "tests" / "fixtures" / "results" / "template.yaml"
    cfg = Settings(
        courses=Path("."), db_url=db_url, certificate_template=template, public_url=public, clock=clock
    )
    app = create_app(sample_courses(), db_url, secrets=test_secrets(), settings=cfg)
    create_admin(db_url, "boss", "ผู้ดูแลระบบ", PASSWORD)
    server = LiveServer(app)
    server.port, server.url, server.server.config.port = port, public, port
    with server:
        base = server.url
        # 1. Two learners pass the course; the runtime certifies them (time rule met).
        for username in LEARNERS:
            register_and_pass(page, base, username, clock)
            page.goto(f"{base}/me/courses")
            course = page.locator(f'[data-lm-my-course="{COURSE_ID}"]')
            assert course.get_attribute("data-lm-status") == "certified"
            if username == "sunee":
                if shots:
                    screenshots_results.shoot(page, shots / "runtime-my-courses.png")
                # 2. Download, rasterise, check the shaping, decode the QR.
                pdf = download_certificate(page, base, keep / "sunee.pdf")
                big = pdftoppm(pdf, keep / "sunee-300dpi.png", dpi=200)
                assert big.size[0] > 2000
                url = zbar(keep / "sunee-300dpi.png")
                assert url.startswith(f"{public}/verify/LM-")
                again = download_certificate(page, base, keep / "sunee-again.pdf")
                assert again.read_bytes() == pdf.read_bytes()
                if shots:
                    shutil.copy(keep / "sunee-300dpi.png", shots / "runtime-certificate.png")
            log_out(page)
        sunee_url = url

        # 3. The QR's address verifies, in the browser, without logging in.
        page.goto(sunee_url)
        assert page.locator("[data-lm-verify]").get_attribute("data-lm-verify") == "valid"
        assert page.locator("[data-lm-verify-holder]").inner_text() == LEARNERS["sunee"]
        if shots:
            screenshots_results.shoot(page, shots / "runtime-verify-valid.png")
        verify = json.loads(
            page.evaluate("u => fetch(u).then(r => r.text())", "/api" + urlparse(sunee_url).path)
        )
        from localmooc_packager.runtime.services.certificates import template_for

        check_shaped(keep / "sunee.pdf", keep, verify, LEARNERS["sunee"], template_for(cfg))

        # 4. The round report counts both completions.
        from datetime import datetime

        rnd = str(round_of(datetime.fromisoformat(verify["certified_at"])))
        before = report(db_url, rnd, keep / "report-before.json")
        assert before["grand_total"]["completions"] == 2 and before["grand_total"]["learners"] == 2
        numbers = {r["certificate_no"] for r in before["rows"]}
        assert verify["certificate_no"] in numbers
        assert {r["name"] for r in before["rows"]} == set(LEARNERS.values())

        # 5. The admin revokes sunee's certificate in the admin UI; verification says so.
        log_in(page, base, "boss")
        page.goto(f"{base}/admin")
        page.fill("#cert-username", "sunee")
        page.click('[data-lm="certificates-search"]')
        page.wait_for_url("**/admin/certificates?**")
        row = page.locator(f'[data-lm-certificate="{verify["certificate_no"]}"]')
        row.locator('[data-lm="revoke-reason"]').fill("ออกให้ผิดคน ตรวจสอบแล้ว")
        row.locator('[data-lm="revoke"]').click()
        page.wait_for_url("**revoked=**")
        assert page.locator("[data-lm-revoked]").get_attribute("data-lm-revoked") == verify["certificate_no"]
        log_out(page)
        page.goto(sunee_url)
        assert page.locator("[data-lm-verify]").get_attribute("data-lm-verify") == "revoked"
        assert "ถูกเพิกถอน" in page.locator("[data-lm-verify-message]").inner_text()
        assert page.locator("[data-lm-verify-revoked]").count() == 1
        assert LEARNERS["sunee"] not in page.content()
        if shots:
            screenshots_results.shoot(page, shots / "runtime-verify-revoked.png")
        after_revoke = report(db_url, rnd, keep / "report-revoked.json")
        assert after_revoke["grand_total"]["completions"] == 1  # a revoked certificate no longer counts

        # 6. prasit erases his account: the report keeps his completion, anonymous; verification answers
        # "issued, holder erased".
        log_in(page, base, "prasit")
        page.goto(f"{base}/me/courses")
        prasit_no = page.locator(f'[data-lm-my-course="{COURSE_ID}"] a[href^="/verify/"]').get_attribute(
            "href"
        )
        page.goto(f"{base}/me")
        page.click("form[action='/me/erase'] button")
        page.wait_for_url(f"{base}/")
        after_erase = report(db_url, rnd, keep / "report-erased.json")
        assert after_erase["grand_total"]["completions"] == 1
        assert after_erase["grand_total"]["erased_completions"] == 1
        (row,) = after_erase["rows"]
        assert row["erased"] and row["name"] != LEARNERS["prasit"] and row["certificate_no"] is None
        page.goto(f"{base}{prasit_no}")
        assert page.locator("[data-lm-verify]").get_attribute("data-lm-verify") == "issued-holder-erased"
        assert LEARNERS["prasit"] not in page.content()
    assert not foreign, f"requests left the machine: {foreign}"
