"""What the certificate and the poster share: an fpdf2 document that shapes Thai, line breaks between Thai
words, and QR codes drawn as vector squares."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .fonts import ThaiFont, find_thai_font

ZWSP = "\u200b"
FAMILY = "thai"  # the name fonts are registered under in each document


class _ZwspIsNotMissing(logging.Filter):
    """fpdf2 warns that Thai fonts have no glyph for U+200B; it is a line-break hint HarfBuzz drops, not text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "missing the following glyphs" in str(record.msg) and record.args:
            return str(record.args[-1]) != "'\u200b' (\\u200b)"
        return True


logging.getLogger("fpdf.output").addFilter(_ZwspIsNotMissing())


def new_pdf(font: ThaiFont | None = None, *, orientation: str = "portrait", shaping: bool = True) -> Any:
    """An A4 fpdf2 document with the Thai font registered (``thai`` regular and bold) and HarfBuzz shaping on.

    ``shaping=False`` exists for the tests that prove shaping matters: without it fpdf2 places every glyph at
    its advance, and tone marks collide with upper vowels and tall consonants.
    """
    from fpdf import FPDF

    font = font or find_thai_font()
    pdf = FPDF(orientation=orientation, unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font(FAMILY, "", str(font.regular))
    pdf.add_font(FAMILY, "B", str(font.bold))
    if shaping:
        pdf.set_text_shaping(use_shaping_engine=True, script="thai", language="tha")
    pdf.set_creator("localmooc-packager")
    return pdf


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    from pythainlp.tokenize import word_tokenize

    return tuple(word_tokenize(text, engine="newmm", keep_whitespace=True))


def wrap_thai(text: str) -> str:
    """``text`` with a zero-width space between Thai words, where fpdf2 may break a line (it would otherwise
    break inside a word, or not at all in a line without spaces)."""
    if not any("\u0e00" <= ch <= "\u0e7f" for ch in text):
        return text
    out: list[str] = []
    for word in _words(text):
        if out and not word.isspace() and not out[-1].isspace():
            out.append(ZWSP)
        out.append(word)
    return "".join(out)


def draw_qr(pdf: Any, data: str, x: float, y: float, size: float, *, error: str = "m") -> None:
    """A QR code for ``data`` as filled squares at (x, y), ``size`` mm wide including the 4-module quiet zone."""
    import segno

    qr = segno.make_qr(data, error=error)
    matrix = [list(row) for row in qr.matrix]
    n = len(matrix)
    module = size / (n + 8)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < n:  # one rectangle per horizontal run of dark modules
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                pdf.rect(
                    x + (start + 4) * module, y + (r + 4) * module, (c - start) * module, module, style="F"
                )
            else:
                c += 1


def check_image(path: Path | None, what: str) -> Path | None:
    """A logo or signature image given by the user: it must exist and be PNG, JPEG or SVG."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{what} {path}: no such file")
    if path.suffix.lower() not in {".png", ".jpg", ".jpeg", ".svg"}:
        raise UsageError(f"{what} {path}: use a PNG, JPEG or SVG file")
    return path
