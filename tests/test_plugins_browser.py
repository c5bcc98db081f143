"""A third-party block's static rendering in a real SCORM runtime (scorm-again in Debian's Chromium): the
example flashcards open and close without any script of theirs, and a graded static rendering is graded
by the player and reported as interactions, never as part of the course grade."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import (  # noqa: F401 (fixtures)
    Lms,
    LocalServer,
    extract,
    lms,
    scorm_browser,
    scorm_server,
)
from test_plugins import FLASH, GRADED
from test_scorm_browser import interactions, seed

from localmooc_packager.exporters.scorm import Scorm12Exporter, Scorm2004Exporter
from localmooc_packager.source import load_course

pytestmark = pytest.mark.browser

EXPORTERS = {"1.2": Scorm12Exporter(), "2004": Scorm2004Exporter()}


def mount(server: LocalServer, tmp_path: Path, version: str, name: str) -> str:
    archive = EXPORTERS[version].export(load_course(FLASH), tmp_path)
    return server.mount(f"{name}-{version}", extract(archive, tmp_path / f"x-{name}"))


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_flashcards_flip_in_the_scorm_player(
    version: str,
    lms: Lms,  # noqa: F811
    scorm_server: LocalServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    frame = lms.launch(version, mount(scorm_server, tmp_path, version, "flash"), seed(version))
    cards = '[data-lm-block="abbr-cards"] details'
    assert frame.locator(cards).count() == 4
    back = frame.locator(f"{cards} >> nth=2").locator(".flashcards-back")
    assert not back.is_visible()
    frame.locator(f"{cards} >> nth=2").locator("summary").click()
    assert back.is_visible() and back.inner_text() == "องค์การบริหารส่วนตำบล"
    frame.locator(f"{cards} >> nth=2").locator("summary").press("Enter")  # keyboard closes it again
    assert not back.is_visible()
    frame.click('[data-lm="next"]')
    assert frame.evaluate("document.documentElement.dataset.lmCurrentUnit") == "final"
    assert frame.evaluate("LmPlayer.errors") == []
    lms.close_sco()
    lms.assert_no_network()


def test_a_graded_static_rendering_is_graded_by_the_player(
    lms: Lms,  # noqa: F811
    scorm_server: LocalServer,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flashcards_xblock.block import FlashcardsBlock

    monkeypatch.setattr(FlashcardsBlock, "static_view", lambda self, context: GRADED)
    frame = lms.launch("2004", mount(scorm_server, tmp_path, "2004", "graded"), seed("2004"))
    root = '[data-lm-quiz="abbr-cards"]'
    frame.fill(f'{root} [data-lm-input="c1"]', "องค์การบริหารส่วนตำบล")
    frame.click(f'{root} [data-lm="submit"]')
    assert "1/1 (100%)" in frame.inner_text(f"{root} [data-lm-result]")
    assert frame.evaluate("LmPlayer.errors") == []
    lms.close_sco()
    cmi: dict[str, Any] = lms.cmi()
    found = interactions(cmi)
    assert list(found) == ["abbr-cards.c1"]
    assert found["abbr-cards.c1"]["result"] == "correct" and found["abbr-cards.c1"]["type"] == "fill-in"
    # A practice quiz decides nothing: the course has not been passed by it.
    assert cmi["cmi"]["success_status"] != "passed"
    lms.assert_no_network()


def test_flashcards_in_the_reference_runtime_in_a_browser(scorm_browser: Any, tmp_path: Path) -> None:  # noqa: F811
    """The block's own script runs in the runtime's page: it flips cards and posts to its handler (with the
    runtime's CSRF token); what the learner ticked is there after a reload."""
    from browser_support import NetworkGuard
    from runtime_support import PASSWORD, LiveServer, test_secrets

    from localmooc_packager.runtime.app import create_app
    from localmooc_packager.runtime.blocks import load_course_dir

    app = create_app(
        {"flashcards-demo": load_course_dir(FLASH)}, f"sqlite:///{tmp_path / 'rt.db'}", secrets=test_secrets()
    )
    page = scorm_browser.new_page()  # the module's Chromium (one Playwright per process)
    guard = NetworkGuard()
    guard.attach(page)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        with LiveServer(app) as server:
            base = server.url
            page.goto(f"{base}/register")
            page.fill("#name", "สมศรี ทดลองเรียน")
            page.fill("#username", "somsri")
            page.fill("#password", PASSWORD)
            page.select_option("#org_type", "public")
            page.select_option("#province", "ขอนแก่น")
            page.check("#consent")
            page.click('[data-lm="register-submit"]')
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/courses/flashcards-demo")
            page.click('[data-lm="enrol"]')
            page.wait_for_url(f"{base}/courses/flashcards-demo/units/abbreviations")
            card = page.locator('.flashcards-card[data-card="2"]')
            back = card.locator(".flashcards-back")
            assert not back.is_visible()
            card.locator(".flashcards-flip").click()
            assert back.is_visible() and back.inner_text() == "องค์การบริหารส่วนตำบล"
            with page.expect_response("**/handler/mark") as answer:
                card.locator("[data-card-known]").check()
            assert answer.value.status == 200, answer.value.text()
            page.locator(".flashcards-progress").filter(has_text="จำได้ 1 จาก 4 บัตร").wait_for()
            page.reload()
            assert page.locator('[data-card-known="2"]').is_checked()
            assert not page.locator('[data-card-known="0"]').is_checked()
    finally:
        page.close()
    assert errors == [] and guard.blocked == []
