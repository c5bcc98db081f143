"""Text files of a course must be UTF-8; Thai files saved by older Windows programs are TIS-620/windows-874.

`read_course_text` reads like ``safe.read_text`` and, when a file is not UTF-8 but reads as Thai in
windows-874 (TIS-620 plus a few punctuation marks), says so and names the command that converts it.
`fix_encoding` is that command: a backup first, then the UTF-8 text replaces the file atomically.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import InvalidInputError, LazyDisplayPath, UsageError, display_path
from ..safe import read_text
from .thai import thai_problems

LEGACY = "cp874"  # windows-874, a superset of TIS-620 (Python's tis-620 codec lacks € … ‘ ’ “ ” – —)
BACKUP_SUFFIX = ".bak"


def looks_legacy_thai(data: bytes) -> bool:
    """True when ``data`` is not UTF-8 but decodes as windows-874 into text that reads as Thai.

    Latin-1 text also decodes (é is a tone mark there): Thai needs most non-ASCII letters to be Thai and
    its marks to sit on Thai consonants, which Latin-1 accents read as Thai never do.
    """
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode(LEGACY)
    except UnicodeDecodeError:
        return False
    non_ascii = [c for c in text if ord(c) > 0x7F]
    thai = [c for c in non_ascii if "\u0e00" <= c <= "\u0e7f"]
    if len(thai) < 0.9 * len(non_ascii) or not thai:
        return False

    alone = sum(1 for p in thai_problems(text) if p.code == "thai-mark-alone")
    return alone <= len(thai) // 50


def _first_bad(data: bytes) -> tuple[int, int, int]:
    """(line, column in characters, byte) of the first byte that is not UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
    else:  # pragma: no cover - only called for undecodable data
        return 0, 0, 0
    line_start = data.rfind(b"\n", 0, start) + 1
    column = len(data[line_start:start].decode("utf-8")) + 1
    return data.count(b"\n", 0, start) + 1, column, data[start]


def read_course_text(path: Path, shown: str | None = None) -> str:
    """``safe.read_text`` with a suggestion for Thai files in a legacy encoding."""
    # The path is shown only in a message: resolving it for every file read cost more than the reading.
    shown_later = shown or LazyDisplayPath(path)
    try:
        return read_text(path, shown_later)  # type: ignore[arg-type]  # turned into text by f-strings only
    except InvalidInputError as exc:
        if "not valid UTF-8" not in str(exc):
            raise
        data = path.read_bytes()
        if not looks_legacy_thai(data):
            raise
    shown = str(shown_later)
    line, column, byte = _first_bad(data)
    raise InvalidInputError(
        f"{shown}:{line}:{column}: not valid UTF-8 (byte 0x{byte:02x}): the file looks like Thai saved as "
        f"TIS-620 / windows-874 by an older program; convert it with: localmooc fix-encoding {shown}"
    ) from None


def fix_encoding(path: Path) -> str:
    """Convert ``path`` from windows-874 to UTF-8 in place, after copying it to ``path.bak``.

    Returns what was done, for the user. Raises ``InvalidInputError`` for a file that is not such Thai
    text and ``UsageError`` when it is missing or its backup exists already; the file is then unchanged.
    """
    shown = display_path(path)
    if not path.is_file():
        raise UsageError(f"{shown}: no such file")
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        return f"{shown}: already UTF-8, left as it is"
    except UnicodeDecodeError:
        pass
    if not looks_legacy_thai(data):
        line, column, byte = _first_bad(data)
        raise InvalidInputError(
            f"{shown}:{line}:{column}: not valid UTF-8 (byte 0x{byte:02x}), and not Thai in TIS-620 / "
            "windows-874 either; left as it is"
        )
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    try:
        with backup.open("xb") as out:  # never overwrite an earlier backup: it may be the only original
            out.write(data)
    except FileExistsError:
        raise UsageError(
            f"{shown}: the backup {display_path(backup)} exists already; move it away first"
        ) from None
    text = data.decode(LEGACY)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return (
        f"{shown}: converted from windows-874 (TIS-620) to UTF-8; the original is in {display_path(backup)}"
    )
