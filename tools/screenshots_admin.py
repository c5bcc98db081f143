"""Screenshots for docs/reports.md and docs/security.md, taken from the real program: the admin's round report
on seeded results, a learner's record with the account actions, the forced password change, and the A4
registration poster that ``localmooc poster`` writes (as PNG through pdftoppm).

    .venv/bin/python tools/screenshots_admin.py

Runs the app on 127.0.0.1 with a throwaway SQLite database and Debian's Chromium; refuses any other host.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from runtime_support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    COURSE_ID,
    PASSWORD,
    SAMPLE,
    Api,
    LiveServer,
    make_app,
)

OUT = ROOT / "docs" / "img"
# username, name, organisation type, organisation, province, Bangkok day certified in round 2564/2
LEARNERS = [
    ("somchai", "สมชาย ใจดี", "local-admin-org", "เทศบาลนครเชียงใหม่", "เชียงใหม่", (2021, 4, 1)),
    ("somying", "สมหญิง รักเรียน", "local-admin-org", "เทศบาลนครเชียงใหม่", "เชียงใหม่", (2021, 5, 12)),
    ("wichai", "วิชัย ขยันยิ่ง", "local-admin-org", "องค์การบริหารส่วนตำบลบ้านใหม่", "ขอนแก่น", (2021, 6, 3)),
    (
        "prasert",
        "ประเสริฐ มั่นคง",
        "dla-provincial",
        "สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัดลำพูน",
        "ลำพูน",
        (2021, 7, 20),
    ),
    ("ekachai", "เอกชัย กลางกรม", "dla-central", "กองการเจ้าหน้าที่", "กรุงเทพมหานคร", (2021, 9, 30)),
    ("malee", "มาลี ศรีสุข", "public", "", "ขอนแก่น", (2021, 8, 8)),
]


def bkk(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC) - timedelta(hours=7)


def seed(app: Any) -> str:
    """Learners registered through the API, results as the runtime's completion rules record them; one
    learner erased (still counted). Returns the learner id shown on the learner page."""
    from sqlalchemy import select

    from localmooc_packager.results.schema import anonymise_learner, course_results
    from localmooc_packager.runtime.storage.schema import identities

    store = app.state.store
    shown = ""
    for n, (username, name, org_type, organisation, province, day) in enumerate(LEARNERS, start=1):
        api = Api(app)
        consent = {"consent": True} if org_type == "public" else {}
        r = api.register(
            username, name=name, org_type=org_type, organisation=organisation, province=province, **consent
        )
        assert r.status_code == 201, r.text
        api.login(username)
        api.post(f"/api/courses/{COURSE_ID}/enrol")
        with store.write() as conn:
            lid = conn.execute(
                select(identities.c.learner_id).where(identities.c.username == username)
            ).scalar()
            conn.execute(
                course_results.insert().values(
                    learner_id=lid,
                    course_id=COURSE_ID,
                    enrolled_at=bkk(*day) - timedelta(days=3),
                    certified_at=bkk(*day),
                    study_seconds=5400 + 60 * n,
                    post_test_score=70.0 + 4 * n,
                    grade=72.5 + 3 * n,
                    credited_hours=3.0,
                    certificate_no=f"LM-2564-{n:04d}-0000-0001",
                    erased=False,
                )
            )
        if username == "wichai":
            shown = str(lid)
        if username == "malee":  # erased: the runtime keeps the grouping fields on the results first
            with store.write() as conn:
                anonymise_learner(conn, str(lid))
            api.post("/me/erase", data={"csrf_token": api.client.cookies.get("lm_csrf") or ""})
    return shown


def shoot(page: Any, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(ROOT)}")


def poster(tmp: Path) -> None:
    """The registration poster exactly as an operator makes it, first page as PNG."""
    pdf = tmp / "poster.pdf"
    subprocess.run(
        [sys.executable, "-m", "localmooc_packager", "poster", str(SAMPLE), "--base-url", "https://mooc.example.go.th",
         "--org-type", "local-admin-org", "--province", "เชียงใหม่", "--organisation", "เทศบาลนครเชียงใหม่",
         "-o", str(pdf)],
        check=True, cwd=ROOT,
    )  # fmt: skip
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf), str(OUT / "registration-poster")],
        check=True,
    )
    print("wrote docs/img/registration-poster.png")


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        poster(tmp)
        app = make_app(f"sqlite:///{tmp}/shots.db")
        boss = Api(app)
        boss.register("boss", name="ผู้ดูแล ระบบ", org_type="dla-central", province="กรุงเทพมหานคร")
        app.state.store.set_role("boss", "admin")
        learner_id = seed(app)
        with LiveServer(app) as server, sync_playwright() as pw:
            base = server.url
            context = pw.chromium.launch_persistent_context(
                str(tmp / "profile"),
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1280, "height": 860},
                device_scale_factor=1,
                locale="th-TH",
            )
            context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if urlparse(route.request.url).hostname == "127.0.0.1"
                    else route.abort()
                ),
            )
            page = context.pages[0]
            page.goto(f"{base}/login")
            page.fill("#username", "boss")
            page.fill("#password", PASSWORD)
            page.click('[data-lm="login-submit"]')
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/admin/report?round=2564/2")
            shoot(page, "admin-report")
            page.goto(f"{base}/admin/learners/{learner_id}")
            page.fill("#password", "Temporary-4821x")
            page.click('[data-lm="temporary-password-submit"]')
            shoot(page, "admin-learner")
            page.click('[data-lm="logout"]')
            page.goto(f"{base}/login")
            page.fill("#username", "wichai")
            page.fill("#password", "Temporary-4821x")
            page.click('[data-lm="login-submit"]')
            page.wait_for_url(f"{base}/me/password")
            shoot(page, "password-change-forced")
            context.close()
        app.state.store.dispose()


if __name__ == "__main__":
    main()
