"""Thai fonts for PDFs, found on the system (Debian's fonts-tlwg packages); never downloaded or bundled."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import LocalMoocError

# Preference order: Laksaman is TH Sarabun New (the government letter font) under another name.
FAMILIES: tuple[tuple[str, str], ...] = (
    ("Laksaman", "fonts-tlwg-laksaman-ttf"),
    ("Garuda", "fonts-thai-tlwg-ttf"),
    ("Loma", "fonts-thai-tlwg-ttf"),
)
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/tlwg"),
    Path("/usr/share/fonts/opentype/tlwg"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
)


class FontMissingError(LocalMoocError):
    """No Thai font was found; the message names the Debian package to install."""


@dataclass(frozen=True)
class ThaiFont:
    family: str
    regular: Path
    bold: Path


def _dirs() -> list[Path]:
    extra = os.environ.get("LOCALMOOC_FONT_DIR")
    return [Path(extra), *FONT_DIRS] if extra else list(FONT_DIRS)


def find_thai_font(preferred: str | None = None) -> ThaiFont:
    """The first of ``preferred`` (a family name), Laksaman, Garuda and Loma installed on this machine.

    Looks in ``$LOCALMOOC_FONT_DIR`` then Debian's font folders, for TrueType (.ttf) and OpenType (.otf) files.
    """
    families = list(FAMILIES)
    if preferred:
        families.insert(0, (preferred, next((p for f, p in FAMILIES if f == preferred), "")))
    for family, _package in families:
        for folder in _dirs():
            for ext in ("ttf", "otf"):
                regular = folder / f"{family}.{ext}"
                if regular.is_file():
                    bold = folder / f"{family}-Bold.{ext}"
                    return ThaiFont(family, regular, bold if bold.is_file() else regular)
    if preferred and preferred not in {f for f, _p in FAMILIES}:
        lead = f"font {preferred!r} not found and no Thai fallback either"
    else:
        lead = "no Thai font found"
    looked = ", ".join(str(d) for d in _dirs())
    raise FontMissingError(
        f"{lead}: install the Debian package fonts-tlwg-laksaman-ttf (Laksaman, based on TH Sarabun New) "
        f"or fonts-thai-tlwg-ttf (Garuda, Loma): `apt-get install fonts-tlwg-laksaman-ttf`; "
        f"or set LOCALMOOC_FONT_DIR to a folder holding Laksaman.ttf. Looked in {looked}"
    )
