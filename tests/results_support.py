"""Helpers of the results tests: PDF -> PNG with poppler's pdftoppm, ink analysis, and where PNGs are kept."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("LOCALMOOC_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))


def artifact(name: str) -> Path:
    """Where a test keeps a file for people to look at after the run (tests/artifacts/, git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def pdftoppm(pdf: Path, out_png: Path, dpi: int = 60, page: int = 1) -> Image.Image:
    """Page ``page`` of ``pdf`` rasterised by poppler, saved as ``out_png`` and returned (greyscale)."""
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is missing: install the Debian package poppler-utils (./run.sh test does)")
    stem = out_png.with_suffix("")
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            str(dpi),
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(pdf),
            str(stem),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Image.open(out_png).convert("L")


def pdftotext(pdf: Path) -> str:
    proc = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], check=True, capture_output=True, timeout=60)
    return proc.stdout.decode("utf-8")


def ink_components(img: Image.Image, threshold: int = 128) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (left, top, right, bottom) of the 8-connected blobs of dark pixels, left to right."""
    w, h = img.size
    px = img.load()
    seen = [[False] * w for _ in range(h)]
    boxes = []
    for y0 in range(h):
        for x0 in range(w):
            if seen[y0][x0] or px[x0, y0] >= threshold:
                continue
            seen[y0][x0] = True
            queue = deque([(x0, y0)])
            box = [x0, y0, x0, y0]
            while queue:
                x, y = queue.popleft()
                box = [min(box[0], x), min(box[1], y), max(box[2], x), max(box[3], y)]
                for dx in (-1, 0, 1):
                    for dy in (-1, 0, 1):
                        nx, ny = x + dx, y + dy
                        if 0 <= nx < w and 0 <= ny < h and not seen[ny][nx] and px[nx, ny] < threshold:
                            seen[ny][nx] = True
                            queue.append((nx, ny))
            boxes.append((box[0], box[1], box[2], box[3]))
    return sorted(boxes)


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
