"""In headless Chromium (Debian's): a poster's QR address registers a learner with organisation type and
province filled in and lands them in the course; an admin gives the learner a temporary password, and the
learner, logging in with it, must change it before anything else opens."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from runtime_support import CHROMIUM, CHROMIUM_ARGS, COURSE_ID, PASSWORD, Api, LiveServer, make_app

from localmooc_packager.results.poster import registration_url

pytestmark = pytest.mark.browser
NEW_PASSWORD = "my own new phrase 9"


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run ./run.sh test (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 390, "height": 844},
            locale="th-TH",
        )
        foreign: list[str] = []

        def guard(route: Any) -> None:
            if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
                route.continue_()
            else:
                foreign.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        p = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        p.on("pageerror", lambda e: errors.append(str(e)))
        try:
            yield p
        finally:
            context.close()
        assert not errors and not foreign, (errors, foreign)


def log_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click('[data-lm="login-submit"]')


def test_qr_registration_then_a_temporary_password_that_must_be_changed(page: Any, tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'browser.db'}")
    boss = Api(app)  # the administrator's account, made as `localmooc admin create` does
    boss.learner("boss")
    app.state.store.set_role("boss", "admin")
    with LiveServer(app) as server:
        base = server.url
        # 1. The poster's QR: registration with the place filled in, then straight into the course.
        page.goto(registration_url(base, COURSE_ID, "local-admin-org", "Chiang Mai", "เทศบาลตำบลสุเทพ"))
        assert page.input_value("#org_type") == "local-admin-org"
        assert page.input_value("#province") == "เชียงใหม่"
        assert page.input_value("#organisation") == "เทศบาลตำบลสุเทพ"
        page.fill("#name", "สมปอง สแกนคิวอาร์")
        page.fill("#username", "sompong")
        page.fill("#password", PASSWORD)
        page.click('[data-lm="register-submit"]')
        page.wait_for_url(f"{base}/courses/{COURSE_ID}/units/**")
        assert app.state.store.enrolled_courses(page_learner_id(app, "sompong")) == [COURSE_ID]
        page.click('[data-lm="logout"]')

        # 2. The admin gives sompong a temporary password (the page shows it once).
        log_in(page, base, "boss", PASSWORD)
        page.goto(f"{base}/admin")
        page.locator('[data-lm="admin-learner"]', has_text="สมปอง").click()
        page.fill("#password", "Temporary-4821x")
        page.click('[data-lm="temporary-password-submit"]')
        assert page.locator('[data-lm="temporary-password"]').inner_text() == "Temporary-4821x"
        page.click('[data-lm="logout"]')

        # 3. Logging in with it opens only the change-password page until the password is changed.
        log_in(page, base, "sompong", "Temporary-4821x")
        page.wait_for_url(f"{base}/me/password")
        assert page.locator('[data-lm="password-forced"]').is_visible()
        page.goto(f"{base}/courses/{COURSE_ID}")
        assert page.url == f"{base}/me/password"
        page.fill("#current_password", "Temporary-4821x")
        page.fill("#new_password", NEW_PASSWORD)
        page.click('[data-lm="password-submit"]')
        assert page.locator('[data-lm="password-changed"]').is_visible()
        page.goto(f"{base}/courses/{COURSE_ID}")
        assert page.url == f"{base}/courses/{COURSE_ID}"
        page.click('[data-lm="logout"]')
        log_in(page, base, "sompong", NEW_PASSWORD)
        page.wait_for_url(f"{base}/")
    app.state.store.dispose()


def page_learner_id(app: Any, username: str) -> str:
    from sqlalchemy import select

    from localmooc_packager.runtime.storage.schema import identities

    with app.state.store.read() as conn:
        return str(
            conn.execute(select(identities.c.learner_id).where(identities.c.username == username)).scalar()
        )
