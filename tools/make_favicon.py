"""Draw the runtime's favicon (localmooc_packager/runtime/static/favicon.ico): an open book in white on the
brand blue (#0b5394) of app.css, 16, 32 and 48 px. Run it again only to change the icon:

    .venv/bin/python tools/make_favicon.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "localmooc_packager" / "runtime" / "static" / "favicon.ico"
BLUE, WHITE = (11, 83, 148, 255), (255, 255, 255, 255)


def draw(size: int = 256) -> Image.Image:
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 6, fill=BLUE)
    s = size / 32
    # Two pages of an open book, a spine between them.
    d.polygon([(5 * s, 9 * s), (15 * s, 11 * s), (15 * s, 25 * s), (5 * s, 23 * s)], fill=WHITE)
    d.polygon([(17 * s, 11 * s), (27 * s, 9 * s), (27 * s, 23 * s), (17 * s, 25 * s)], fill=WHITE)
    return img


def main() -> None:
    draw().save(OUT, format="ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
