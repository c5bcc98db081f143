"""Screenshots of certificates in the runtime for docs/img: the certificate (pdftoppm's PNG of the PDF the
browser downloaded), the verification page (valid and revoked) and the "my courses" page.

    .venv/bin/python tools/screenshots_results.py [OUT_DIR]     # default docs/img

They are real program output: this runs the browser test tests/test_runtime_certificates_browser.py (on
SQLite) with LOCALMOOC_SCREENSHOTS=OUT_DIR, and the test saves each page as it passes it (``shoot``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 1100  # the browser test's viewport


def shoot(page: Any, out: Path) -> None:
    """The whole page as PNG; refuses a page wider than the viewport (sideways scrolling)."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > WIDTH:
        raise SystemExit(f"{page.url}: the page is {scroll_width} px wide, wider than the {WIDTH} px window")
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=True)


def main(argv: list[str]) -> int:
    out = Path(argv[0]).resolve() if argv else ROOT / "docs" / "img"
    env = {**os.environ, "LOCALMOOC_SCREENSHOTS": str(out)}
    test = "tests/test_runtime_certificates_browser.py"
    cmd = [sys.executable, "-m", "pytest", test, "-k", "sqlite", "-q", "-p", "no:cacheprovider"]
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
