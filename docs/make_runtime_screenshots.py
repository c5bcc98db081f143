"""Screenshots of the runtime for docs/runtime.md: catalogue, player, quiz feedback; phone and desktop.

    .venv/bin/python docs/make_runtime_screenshots.py

Runs the app on 127.0.0.1 with a throwaway database and Debian's Chromium; refuses any other host.
Fails when a phone page is wider than the 390 px screen (sideways scrolling).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from runtime_support import CHROMIUM, CHROMIUM_ARGS, COURSE_ID, PASSWORD, LiveServer, make_app  # noqa: E402

OUT = ROOT / "docs" / "img"
SIZES = {"phone": (390, 844), "desktop": (1280, 860)}


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, LiveServer(make_app(f"sqlite:///{tmp}/shots.db")) as server:
        base = server.url
        with sync_playwright() as pw:
            for kind, (w, h) in SIZES.items():
                context = pw.chromium.launch_persistent_context(
                    f"{tmp}/profile-{kind}",
                    executable_path=CHROMIUM,
                    args=CHROMIUM_ARGS,
                    headless=True,
                    viewport={"width": w, "height": h},
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
                page.goto(f"{base}/register")
                page.fill("#name", "สมศรี ทดลองเรียน")
                page.fill("#username", f"shots.{kind}")
                page.fill("#password", PASSWORD)
                page.select_option("#org_type", "local-admin-org")
                page.fill("#organisation", "องค์การบริหารส่วนตำบลบ้านใหม่")
                page.select_option("#province", "ขอนแก่น")
                page.click('[data-lm="register-submit"]')
                page.wait_for_url(f"{base}/")
                shoot(page, f"runtime-catalogue-{kind}", w)
                page.goto(f"{base}/courses/{COURSE_ID}")
                page.click('[data-lm="enrol"]')
                page.wait_for_url("**/units/intro")
                shoot(page, f"runtime-player-{kind}", w)
                page.goto(f"{base}/courses/{COURSE_ID}/units/final")
                quiz = page.locator('[data-lm-quiz="post"]')
                quiz.locator('[data-lm-question="q1"] [data-lm-choice="b"]').check()
                quiz.locator('[data-lm-question="q2"] [data-lm-input]').fill("2")
                quiz.locator('[data-lm-question="q3"] [data-lm-choice="c"]').check()
                quiz.locator('[data-lm-question="q4"] [data-lm-choice="true"]').check()
                quiz.locator('[data-lm="submit"]').click()
                quiz.locator(".lm-incorrect").first.wait_for()
                quiz.locator('[data-lm-question="q3"]').scroll_into_view_if_needed()
                shoot(page, f"runtime-quiz-feedback-{kind}", w, full=False)
                context.close()


def shoot(page: object, name: str, width: int, full: bool = True) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    if scroll_width > width:
        raise SystemExit(f"{name}: the page is {scroll_width} px wide on a {width} px screen")
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)  # type: ignore[attr-defined]
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
