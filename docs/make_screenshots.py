"""Screenshots for the docs, taken in Debian's headless Chromium with the test suite's browser set-up.

    .venv/bin/python docs/make_screenshots.py --scorm     # docs/img/scorm-{unit,quiz}-{phone,desktop}.png

The SCORM package of the sample course runs in the test LMS (scorm-again), exactly as in
tests/test_scorm_browser.py; every non-loopback request is aborted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import (  # noqa: E402 (needs the path above)
    Lms,
    LocalServer,
    NetworkGuard,
    chromium_context,
    extract,
    missing_tools,
)

from localmooc_packager.exporters.scorm import Scorm12Exporter  # noqa: E402
from localmooc_packager.source import load_course  # noqa: E402

SAMPLE = ROOT / "sample_courses" / "local-budget-basics"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 860}}


def scorm_screenshots(out_dir: Path) -> list[Path]:
    """Unit and quiz pages of the sample course's SCORM 1.2 package, on a phone and on a desktop."""
    problems = missing_tools()
    if problems:
        raise SystemExit("; ".join(problems) + ". Run ./run.sh test first.")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        package = Scorm12Exporter().export(load_course(SAMPLE), Path(tmp))
        server = LocalServer()
        try:
            url = server.mount("sample", extract(package, Path(tmp) / "x"))
            for device, viewport in VIEWPORTS.items():
                scale = 2 if device == "phone" else 1
                with chromium_context(viewport=viewport, device_scale_factor=scale) as context:
                    page = context.new_page()
                    guard = NetworkGuard()
                    guard.attach(page)
                    lms = Lms(page, server, guard)
                    frame = lms.launch("1.2", url, {"cmi": {"student_data": {"mastery_score": "70"}}})
                    frame.click('[data-lm="next"]')  # the revenue unit: text and a practice question
                    page.wait_for_timeout(300)
                    written.append(out_dir / f"scorm-unit-{device}.png")
                    page.screenshot(path=str(written[-1]))

                    frame.evaluate("LmPlayer.goTo(LmPlayer.data.units.length - 1)")
                    post = '[data-lm-quiz="post"]'
                    frame.check(f'{post} [data-lm-question="q1"] [data-lm-choice="b"]')
                    frame.fill(f'{post} [data-lm-input="q2"]', "๒")
                    frame.check(f'{post} [data-lm-question="q3"] [data-lm-choice="c"]')
                    frame.check(f'{post} [data-lm-question="q4"] [data-lm-choice="true"]')
                    frame.fill(f'{post} [data-lm-input="q5"]', "สภาเทศบาล")
                    frame.click(f'{post} [data-lm="submit"]')
                    # Show the graded questions with their feedback, starting at the first question.
                    frame.evaluate(
                        "document.querySelector('[data-lm-quiz=\"post\"] [data-lm-question]').scrollIntoView()"
                    )
                    page.wait_for_timeout(300)
                    written.append(out_dir / f"scorm-quiz-{device}.png")
                    page.screenshot(path=str(written[-1]))
                    if guard.blocked:
                        raise SystemExit(f"the package tried to reach the network: {guard.blocked}")
        finally:
            server.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scorm", action="store_true", help="the SCORM player screenshots")
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    if not args.scorm:
        parser.error("choose what to shoot: --scorm")
    for path in scorm_screenshots(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
