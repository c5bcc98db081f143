"""Every learner page of the runtime at 390 px (phone) and 1366 px (desktop), checked and photographed.

    .venv/bin/python tools/screenshots_learner.py [--out docs/img] [--courses sample_courses]

Runs the real app (the sample courses, a throwaway SQLite database) on 127.0.0.1 and walks a learner through
it in Debian's Chromium: the catalogue, registration, a course page, every unit of local-budget-basics (html,
video and quiz blocks), a failed then a passed post-test, a third-party XBlock (flashcards-demo), progress, my data, login, the privacy notice and an
error page. Each page is checked for layout faults (``LAYOUT_JS``: anything wider than the screen, content
cut off, quiz text outside its fieldset, a select too narrow for an option) and saved as
``learner-<page>-<width>.png``. Exits 1 and names the faults when there are any; requests that leave the
machine are refused. tests/test_runtime_view_browser.py runs it, so the script and docs/runtime.md stay true.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
WIDTHS = (390, 1366)
HEIGHTS = {390: 844, 1366: 768}
COURSE = "local-budget-basics"  # no enrolment window: it can be taken on any date
XBLOCK_COURSE = "flashcards-demo"
CLOCK: Any = None  # the served runtime's clock (runtime/clock.OffsetClock), set by serve()
PASSWORD = "a long pass phrase 1"  # noqa: S105 - a throwaway account in a throwaway database
POST_WRONG = {"q1": "a", "q2": "5", "q3": ["c"], "q4": "false", "q5": "สภาตำบล"}
POST_RIGHT = {"q1": "b", "q2": "2", "q3": ["a", "b"], "q4": "true", "q5": "สภาเทศบาล"}

# Layout faults of the page as the learner sees it, in words. Elements that are meant to sit off screen (the
# skip link until focused) are left out; a box inside a scrolling container counts only if the container
# itself does not fit.
LAYOUT_JS = r"""
() => {
  const vw = document.documentElement.clientWidth;
  const faults = [];
  const label = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (typeof el.className === "string" && el.className.trim()) s += "." + el.className.trim().split(/\s+/).join(".");
    const text = (el.innerText || el.value || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return text ? `${s} "${text}"` : s;
  };
  const hidden = (el) => el.closest(".skip, [hidden], script, style, template, option");
  const scrollBox = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === "auto" || ox === "scroll") return a;
    }
    return null;
  };
  const sw = document.documentElement.scrollWidth;
  if (sw > vw) faults.push(`the page is ${sw} px wide in a ${vw} px window (sideways scrolling)`);
  for (const el of document.body.querySelectorAll("*")) {
    if (hidden(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === "hidden" || cs.display === "none") continue;
    if (r.right > vw + 1 || r.left < -1) {
      const box = scrollBox(el);
      const b = box && box.getBoundingClientRect();
      if (!box || b.right > vw + 1 || b.left < -1)
        faults.push(`${label(el)} reaches ${Math.round(r.left)}..${Math.round(r.right)} px, outside the ${vw} px window`);
    }
    // Content cut off: a box that hides what it cannot hold, or a one-line ellipsis.
    if ((cs.overflowX === "hidden" || cs.overflowX === "clip") && el.scrollWidth > el.clientWidth + 1
        && !el.matches("img, video, iframe, .card"))
      faults.push(`${label(el)} cuts its content (${el.scrollWidth} px in ${el.clientWidth} px)`);
    if (cs.textOverflow === "ellipsis" && el.scrollWidth > el.clientWidth + 1)
      faults.push(`${label(el)} is cut with an ellipsis`);
  }
  // Quiz (and any) fieldsets hold their text: every visible box inside lies within the fieldset.
  for (const fs of document.querySelectorAll("fieldset")) {
    const f = fs.getBoundingClientRect();
    for (const el of fs.querySelectorAll("*")) {
      if (hidden(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) continue;
      if (r.left < f.left - 1 || r.right > f.right + 1)
        faults.push(`${label(el)} sticks out of its fieldset (${Math.round(r.left)}..${Math.round(r.right)} px, fieldset ${Math.round(f.left)}..${Math.round(f.right)} px)`);
    }
  }
  // A closed select shows the chosen option in one line: each option's text must fit the box.
  for (const sel of document.querySelectorAll("select")) {
    const cs = getComputedStyle(sel);
    const probe = document.createElement("span");
    probe.style.cssText = "position:absolute;visibility:hidden;white-space:pre;left:0;top:0";
    probe.style.font = cs.font;
    document.body.appendChild(probe);
    const room = sel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20; // the arrow
    for (const o of sel.options) {
      probe.textContent = o.textContent;
      const w = probe.getBoundingClientRect().width;
      if (w > room) faults.push(`select#${sel.id} cuts option "${o.textContent}" (${Math.round(w)} px in ${Math.round(room)} px)`);
    }
    probe.remove();
  }
  return [...new Set(faults)];
}
"""

# Fonts ready and every image in, including lazy ones below the fold (a full-page shot shows them).
LOADED_JS = """async () => {
  await document.fonts.ready;
  const imgs = [...document.images];
  imgs.forEach((i) => { i.loading = "eager"; });
  await Promise.all(imgs.map((i) => i.complete ? null : new Promise((r) => { i.onload = i.onerror = r; })));
}"""


@dataclass
class Shot:
    name: str
    width: int
    path: Path
    faults: list[str] = field(default_factory=list)


@contextmanager
def serve(courses: Path, db_url: str) -> Iterator[str]:
    """The runtime (create_app, as `localmooc serve` builds it) in uvicorn on a free loopback port."""
    import socket

    import uvicorn

    from localmooc_packager.runtime.app import create_app
    from localmooc_packager.runtime.clock import OffsetClock
    from localmooc_packager.runtime.security import Secrets
    from localmooc_packager.runtime.settings import Settings

    global CLOCK
    CLOCK = OffsetClock()
    # The runtime's clock hook (runtime/clock.py): walk() moves it so the course's 90-minute rule is met.
    settings = Settings(courses=courses, db_url=db_url, clock=CLOCK)
    app = create_app(courses, db_url, secrets=Secrets(secrets.token_bytes(32)), settings=settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("the runtime did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def answer(page: Any, quiz_id: str, responses: dict[str, Any]) -> None:
    """Fill a quiz through its automation hooks and submit it; waits for the result."""
    quiz = page.locator(f'[data-lm-quiz="{quiz_id}"]')
    for qid, value in responses.items():
        q = quiz.locator(f'[data-lm-question="{qid}"]')
        if q.locator("[data-lm-input]").count():
            q.locator("[data-lm-input]").fill(str(value))
            continue
        wanted = value if isinstance(value, list) else [value]
        for choice in q.locator("[data-lm-choice]").all():
            want = choice.get_attribute("value") in wanted
            if want and not choice.is_checked():
                choice.check()
            elif not want and choice.is_checked() and choice.get_attribute("type") == "checkbox":
                choice.uncheck()
    before = quiz.locator("[data-lm-result]").inner_text()
    quiz.locator('[data-lm="submit"]').click()
    page.wait_for_function(
        "([q, b]) => { const r = document.querySelector(`[data-lm-quiz='${q}'] [data-lm-result]`);"
        " return r && r.textContent.trim() && r.textContent !== b; }",
        arg=[quiz_id, before],
    )


def watch_videos(page: Any) -> None:
    """Play every video of the unit to the end (muted), as completion needs; waits for the block's
    "watched" call to be answered."""
    for video in page.locator("video").all():
        # At normal speed: the runtime refuses "watched" before the video could have played through.
        with page.expect_response(lambda r: "watched_handler" in r.url, timeout=120_000) as done:
            video.evaluate("v => { v.muted = true; return v.play(); }")
        if not done.value.ok:
            raise SystemExit(f"the video's watched call was refused: {done.value.status} {done.value.text()}")


def walk(page: Any, base: str, width: int, snap: Callable[[str], None]) -> None:
    """A learner's way through every page; ``snap(name)`` checks and photographs the page shown."""
    page.goto(f"{base}/")
    snap("catalogue")
    page.goto(f"{base}/register")
    snap("register")
    page.click('[data-lm="register-submit"]')  # empty: every error shown
    page.wait_for_selector("[data-lm-error]")
    snap("register-errors")
    page.fill("#name", "สมศรี ทดลองเรียน")
    page.fill("#username", f"learner{width}")
    page.fill("#password", PASSWORD)
    page.select_option("#org_type", "local-admin-org")
    page.fill("#organisation", "องค์การบริหารส่วนตำบลบ้านใหม่")
    page.select_option("#province", "ขอนแก่น")
    page.click('[data-lm="register-submit"]')
    page.wait_for_selector('[data-lm="registered"]')
    snap("registered")
    page.goto(f"{base}/privacy")
    snap("privacy")
    page.goto(f"{base}/courses/{COURSE}")
    snap("about")
    page.click('[data-lm="enrol"]')
    page.wait_for_url(f"**/courses/{COURSE}/units/**")
    answer(page, "pre", {"q1": "true"})
    watch_videos(page)
    snap("unit-pretest-html-video")
    page.click('[data-lm="next"]')
    page.wait_for_url("**/units/revenue")
    answer(page, "revenue-check", {"q1": "a"})
    snap("unit-practice-quiz")
    page.click('[data-lm="next"]')
    page.wait_for_url("**/units/process")
    answer(page, "process-quiz", {"q1": "b"})
    snap("unit-graded-quiz")
    page.click('[data-lm="next"]')
    page.wait_for_url("**/units/final")
    answer(page, "post", POST_WRONG)
    page.wait_for_selector('[data-lm-end] [data-lm-standing="unfinished"] [data-lm-left="mark"]')
    snap("unit-posttest-failed")
    page.goto(f"{base}/courses/{COURSE}/progress")
    snap("progress-not-passed")
    page.goto(f"{base}/courses/{COURSE}/units/final")
    answer(page, "post", POST_RIGHT)
    # Passed, but the course also asks for 90 minutes of study: the end of the course says so. Then 92
    # minutes of real activity on the moved clock (a unit view every 4 minutes, under the idle cap).
    page.wait_for_selector('[data-lm-end] [data-lm-standing="unfinished"] [data-lm-left="min-minutes"]')
    snap("unit-posttest-passed-time-left")
    for i in range(23):
        CLOCK.advance(timedelta(minutes=4))
        page.goto(f"{base}/courses/{COURSE}/units/{('intro', 'revenue', 'process')[i % 3]}")
    page.goto(f"{base}/courses/{COURSE}/units/final")
    page.wait_for_selector('[data-lm-end] [data-lm-standing="finished"]')
    snap("unit-posttest-passed")
    page.goto(f"{base}/courses/{COURSE}/progress")
    snap("progress-finished")
    page.goto(f"{base}/courses/{COURSE}")
    snap("about-finished")
    # A third-party XBlock (examples/flashcards, installed by ./run.sh) when the courses include its demo.
    if page.goto(f"{base}/courses/{XBLOCK_COURSE}").ok:
        page.click('[data-lm="enrol"]')
        page.wait_for_url(f"**/courses/{XBLOCK_COURSE}/units/**")
        page.goto(f"{base}/courses/{XBLOCK_COURSE}/units/abbreviations")
        page.locator("[data-block-type=flashcards]").first.wait_for()
        snap("unit-xblock-flashcards")
    page.goto(f"{base}/me")
    snap("me")
    page.click('[data-lm="logout"]')
    page.goto(f"{base}/login")
    page.fill("#username", f"learner{width}")
    page.fill("#password", "not the password")
    page.click('[data-lm="login-submit"]')
    page.wait_for_selector("[data-lm-error]")
    snap("login-failed")
    page.goto(f"{base}/courses/no-such-course")
    snap("error-404")
    page.goto(f"{base}/?lang=en")
    snap("catalogue-en")
    page.goto(f"{base}/register")
    snap("register-en")


def save_small(png: bytes, path: Path) -> None:
    """A page screenshot as a 256-colour PNG: a quarter of the bytes, and a page of flat UI colours and text
    looks the same (docs/img is in the repository)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        img.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def take(out: Path, courses: Path = ROOT / "sample_courses", widths: tuple[int, ...] = WIDTHS) -> list[Shot]:
    """Walk every learner page at each width; PNGs into ``out``; the shots with their layout faults."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots: list[Shot] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(courses, f"sqlite:///{tmp}/learner.db") as base,
        sync_playwright() as pw,
    ):
        for width in widths:
            shots += _take_at(pw, Path(tmp) / f"profile-{width}", base, width, out)
    return shots


def _take_at(pw: Any, profile: Path, base: str, width: int, out: Path) -> list[Shot]:
    context = pw.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": width, "height": HEIGHTS.get(width, 900)},
        device_scale_factor=1,
        locale="th-TH",
    )
    refused: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if urlparse(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    shots: list[Shot] = []

    def snap(name: str) -> None:
        page.wait_for_load_state("load")
        page.evaluate(LOADED_JS)
        faults = list(page.evaluate(LAYOUT_JS)) + [f"JavaScript error: {e}" for e in errors]
        errors.clear()
        path = out / f"learner-{name}-{width}.png"
        save_small(page.screenshot(full_page=True), path)
        shots.append(Shot(name, width, path, faults))

    try:
        walk(page, base, width, snap)
    finally:
        context.close()
    if refused:
        shots.append(Shot("network", width, out, [f"requests left the machine: {refused}"]))
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--courses", type=Path, default=ROOT / "sample_courses")
    args = parser.parse_args(argv)
    shots = take(args.out, args.courses)
    bad = 0
    for s in shots:
        for fault in s.faults:
            print(f"{s.name} @ {s.width} px: {fault}", file=sys.stderr)
            bad += 1
        if s.path.is_file():
            print(f"wrote {s.path.relative_to(ROOT) if s.path.is_relative_to(ROOT) else s.path}")
    if bad:
        print(f"{bad} layout fault(s)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
