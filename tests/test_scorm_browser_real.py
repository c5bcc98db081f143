"""A real third-party package plays in the test LMS: Rustici's golf example (SCORM 1.2, basic run-time calls)
in scorm-again, in Debian's headless Chromium, with every non-loopback request aborted (and failing the test).

The validator calls this package valid; this test shows the verdict is right: it finds the API, initialises,
bookmarks, suspends and finishes, and loads nothing from the network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_support import (  # noqa: F401 (fixtures)
    Lms,
    LocalServer,
    NetworkGuard,
    extract,
    lms,
    scorm_browser,
    scorm_server,
)

from localmooc_packager.validators.scorm import validate_scorm

pytestmark = pytest.mark.browser

GOLF = Path(__file__).parent / "fixtures" / "scorm" / "real" / "golf" / "singlescobasic.zip"


@pytest.fixture(scope="module")
def golf_url(scorm_server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    assert validate_scorm(GOLF, offline=True).errors == []
    folder = extract(GOLF, tmp_path_factory.mktemp("golf"))
    return scorm_server.mount("golf12", folder)


def _launch(lms: Lms, url: str, initial: dict[str, Any] | None = None) -> Any:  # noqa: F811
    """Start the SCORM 1.2 API and load the manifest's launch page (shared/launchpage.html)."""
    lms.page.goto(f"{lms.server.base}/lms/lms.html")
    lms.page.evaluate(
        "([v, init, url]) => startLms(v, init, url)", ["1.2", initial, url + "shared/launchpage.html"]
    )
    frame = lms.sco_frame()
    frame.wait_for_function("() => document.getElementById('contentFrame').src !== ''")
    return frame


def _page(frame: Any) -> str:
    return frame.evaluate("document.getElementById('contentFrame').src").rsplit("/", 2)[-2:]


def test_golf_example_plays_bookmarks_and_resumes(lms: Lms, golf_url: str) -> None:  # noqa: F811
    frame = _launch(lms, golf_url)
    lms.page.wait_for_function("() => lmsEvents.includes('LMSInitialize')")
    core = lms.cmi()["cmi"]["core"]
    assert core["lesson_status"] == "incomplete"
    assert core["lesson_location"] == "0"
    for _ in range(3):
        frame.click("#butNext")
    assert _page(frame) == ["Playing", "OtherScoring.html"]
    assert lms.cmi()["cmi"]["core"]["lesson_location"] == "3"

    lms.close_sco()  # the learner leaves half-way: the page unloads and finishes
    lms.page.wait_for_function("() => lmsEvents.includes('LMSFinish')")
    core = lms.cmi()["cmi"]["core"]
    assert (core["lesson_status"], core["lesson_location"]) == ("incomplete", "3")
    assert re.fullmatch(r"\d{2,4}:\d{2}:\d{2}(\.\d{1,2})?", core["session_time"])
    assert lms.events()[0] == "LMSInitialize"

    # Next session: the LMS hands back the bookmark, the package asks to resume, the learner says yes.
    lms.page.on("dialog", lambda dialog: dialog.accept())
    again = {"cmi": {"core": {"lesson_location": "3", "entry": "resume", "lesson_status": "incomplete"}}}
    frame = _launch(lms, golf_url, again)
    frame.wait_for_function("() => document.getElementById('contentFrame').src.endsWith('OtherScoring.html')")
    assert _page(frame) == ["Playing", "OtherScoring.html"]
    lms.assert_no_network()


GOLF4 = GOLF.parent / "SequencingPostTestRollup4thEd_SCORM20044thEdition.zip"


def test_what_offline_reports_is_what_the_browser_fetches(
    scorm_browser: Any,  # noqa: F811
    scorm_server: LocalServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The 4th edition golf example loads jQuery from a CDN: --offline calls exactly those URLs errors, and
    in the browser (network cut off) exactly those requests fail, and the course never starts."""
    flagged = {
        p.message.split(" loads ")[1].split(" ")[0]
        for p in validate_scorm(GOLF4, offline=True).errors
        if p.code == "scorm-network-url"
    }
    assert len(flagged) == 2
    url = scorm_server.mount("golf2004-4th", extract(GOLF4, tmp_path_factory.mktemp("golf4")))
    page = scorm_browser.new_page()
    guard = NetworkGuard()
    guard.attach(page)
    try:
        lms = Lms(page, scorm_server, guard)
        page.goto(f"{scorm_server.base}/lms/lms.html")
        page.evaluate(
            "([v, init, url]) => startLms(v, init, url)", ["2004", None, url + "shared/launchpage.html"]
        )
        frame = lms.sco_frame()  # waits for the load event: both script requests have been settled by then
        assert set(guard.blocked) == flagged
        # Without its jQuery the launch page never starts the SCO: offline, the package does not work.
        frame.wait_for_timeout(500)
        assert page.evaluate("lmsEvents") == []
    finally:
        page.close()
