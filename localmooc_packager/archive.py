"""Safe extraction of untrusted course archives (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz and .zip).

Course packages come from outside (designers' laptops, other platforms' exports), so an archive is treated
as hostile: every member name is checked before anything is written, links and special files are refused,
and decompressed bytes are counted while streaming so that a bomb is stopped as soon as a limit is passed,
whatever the headers claim. Nothing is ever written outside ``dest``; on refusal ``dest`` is emptied again.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from .errors import InvalidInputError, UnsafeInputError, UsageError, display_path

CHUNK = 1024 * 1024
MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits applied while extracting; every one is checked against bytes actually produced."""

    max_total_bytes: int = 2 * GiB
    max_members: int = 100_000
    # Expanded/compressed ratio allowed once a member (zip) or the stream (tar) has produced ratio_min_bytes.
    max_ratio: float = 200.0
    ratio_min_bytes: int = MiB
    max_member_bytes: int = 1 * GiB


class _Refused(Exception):
    """Internal: carries a refusal message up to the function that knows the archive's name."""

    def __init__(self, member: str, reason: str) -> None:
        super().__init__(reason)
        self.member = member
        self.reason = reason


_KIND_ZIP = "zip"
_KIND_TAR = "tar"


def _sniff(path: Path) -> str | None:
    """The archive kind from its first bytes; extensions are not trusted."""
    try:
        with path.open("rb") as f:
            head = f.read(512)
    except OSError:
        return None
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        return _KIND_TAR  # a compressed stream; only tar is accepted inside it
    if len(head) >= 262 and head[257:262] == b"ustar":
        return _KIND_TAR
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _KIND_ZIP
    if len(head) == 512 and tarfile.is_tarfile(path):  # old v7 tar without the ustar magic
        return _KIND_TAR
    return None


def is_archive(path: Path) -> bool:
    """True when ``path`` is a regular file that looks like a tar (optionally compressed) or zip archive."""
    path = Path(path)
    return path.is_file() and _sniff(path) is not None


class _CountingReader:
    """Wraps a file object and counts the bytes read from it (the compressed side of a stream)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return data


class _BombGuard:
    """Wraps the decompressed tar stream: refuses once it expands too far, whatever the tar headers say."""

    def __init__(self, stream: IO[bytes], compressed: _CountingReader | None, limits: ArchiveLimits) -> None:
        self.stream = stream
        self.compressed = compressed
        self.limits = limits
        self.count = 0
        self.member = ""

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        limits = self.limits
        # Tar headers and padding add a little to the member bytes; allow for them without trusting them.
        if self.count > limits.max_total_bytes + 64 * MiB:
            raise _Refused(self.member, f"expands to more than {limits.max_total_bytes} bytes (archive bomb)")
        if self.compressed is not None and self.count > limits.ratio_min_bytes:
            ratio = self.count / max(self.compressed.count, 1)
            if ratio > limits.max_ratio:
                raise _Refused(
                    self.member,
                    f"compression ratio above {limits.max_ratio:g}:1 (gzip/compression bomb)",
                )
        return data


class _Namer:
    """Checks member names: relative, no '..', UTF-8, no duplicates and no names that differ only in case."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        self.folded: dict[str, str] = {}
        self.members = 0

    def check(self, name: str, is_dir: bool) -> str:
        self.members += 1
        if self.members > self.limits.max_members:
            raise _Refused(name, f"more than {self.limits.max_members} members")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused(_printable(name), "member name is not valid UTF-8") from None
        if not name or "\x00" in name or any(ord(c) < 32 for c in name):
            raise _Refused(_printable(name), "member name is empty or contains control characters")
        if "\\" in name:
            raise _Refused(name, "member name contains a backslash (a Windows path separator)")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise _Refused(name, "absolute member name")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise _Refused(name, "member name contains '..' (path traversal)")
        if not parts:
            if is_dir:
                return ""
            raise _Refused(name, "member name is empty")
        rel = "/".join(parts)
        # Every ancestor is a directory: a file may not sit where a directory is, nor the other way round.
        for i in range(1, len(parts) + (1 if is_dir else 0)):
            ancestor = "/".join(parts[:i])
            if ancestor in self.files:
                raise _Refused(name, f"'{ancestor}' is both a file and a directory (duplicate member)")
            self._fold(ancestor, name)
            self.dirs.add(ancestor)
        if not is_dir:
            if rel in self.files or rel in self.dirs:
                raise _Refused(name, "duplicate member (a second copy would silently replace the first)")
            self._fold(rel, name)
            self.files.add(rel)
        return rel

    def _fold(self, rel: str, name: str) -> None:
        # Case-insensitive file systems (macOS, Windows) would merge these; NFC folds composed forms.
        key = unicodedata.normalize("NFC", rel).casefold()
        seen = self.folded.setdefault(key, rel)
        if seen != rel:
            raise _Refused(name, f"name differs from '{seen}' only in letter case or Unicode normalisation")


def _printable(name: str) -> str:
    """A name fit for a message: undecodable bytes (kept by tarfile as surrogates) shown as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _open_new(dest: Path, rel: str) -> BinaryIO:
    """Create ``dest/rel`` for writing, refusing anything that would resolve outside ``dest``."""
    target = dest.joinpath(*rel.split("/"))
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    # Defence in depth: links are refused, but check the resolved parent anyway before creating the file.
    real_dest = os.path.realpath(dest)
    real_parent = os.path.realpath(parent)
    if real_parent != real_dest and not real_parent.startswith(real_dest + os.sep):
        raise _Refused(rel, "would be written outside the destination")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    return os.fdopen(fd, "wb")


def _copy(
    src: IO[bytes], dst: BinaryIO, name: str, limits: ArchiveLimits, total: list[int], packed: int
) -> None:
    """Stream one member in chunks, checking the limits after every chunk (never trusting header sizes)."""
    written = 0
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            return
        written += len(chunk)
        total[0] += len(chunk)
        if written > limits.max_member_bytes:
            raise _Refused(name, f"member expands past {limits.max_member_bytes} bytes (archive bomb)")
        if total[0] > limits.max_total_bytes:
            raise _Refused(name, f"archive expands past {limits.max_total_bytes} bytes (archive bomb)")
        if packed >= 0 and written > limits.ratio_min_bytes and written / max(packed, 1) > limits.max_ratio:
            raise _Refused(name, f"compression ratio above {limits.max_ratio:g}:1 (zip bomb)")
        dst.write(chunk)


def _zip_name(info: zipfile.ZipInfo) -> str:
    """The member name as UTF-8; names without the UTF-8 flag are accepted only if their bytes are UTF-8."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.orig_filename.encode("cp437")  # zipfile decoded the raw bytes as cp437
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(raw.decode("utf-8", "backslashreplace"), "member name is not valid UTF-8") from None


def _extract_zip(archive: Path, dest: Path, limits: ArchiveLimits) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise _Refused("", f"more than {limits.max_members} members")
        namer = _Namer(limits)
        plan: list[tuple[zipfile.ZipInfo, str]] = []
        declared = 0
        # Check every name and type from the central directory before writing a single byte.
        for info in infos:
            name = _zip_name(info)
            mode = info.external_attr >> 16
            is_dir = name.endswith("/")
            if info.create_system == 3 and stat.S_IFMT(mode):  # a Unix file type is recorded
                if stat.S_ISLNK(mode):
                    raise _Refused(name, "symbolic link (links are never extracted)")
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    raise _Refused(name, "device file, FIFO or other special file")
                is_dir = is_dir or stat.S_ISDIR(mode)
            if info.flag_bits & 0x1:
                raise _Refused(name, "encrypted member")
            rel = namer.check(name, is_dir)
            if not is_dir:
                if info.file_size > limits.max_member_bytes:
                    raise _Refused(name, f"declares {info.file_size} bytes, over the member limit (zip bomb)")
                declared += info.file_size
                if declared > limits.max_total_bytes:
                    raise _Refused(name, "declared sizes exceed the total limit (zip bomb)")
            plan.append((info, "" if is_dir else rel))
            if is_dir and rel:
                dest.joinpath(*rel.split("/")).mkdir(parents=True, exist_ok=True)
        total = [0]
        for info, rel in plan:
            if not rel:
                continue
            with zf.open(info) as src, _open_new(dest, rel) as dst:
                _copy(src, dst, rel, limits, total, info.compress_size)


def _tar_stream(archive: Path, raw: BinaryIO, limits: ArchiveLimits) -> _BombGuard:
    head = raw.read(6)
    raw.seek(0)
    counted = _CountingReader(raw)
    stream: IO[bytes]
    if head.startswith(b"\x1f\x8b"):
        stream = gzip.GzipFile(fileobj=counted, mode="rb")  # type: ignore[arg-type]
    elif head.startswith(b"BZh"):
        stream = bz2.BZ2File(counted, mode="rb")  # type: ignore[arg-type]
    elif head.startswith(b"\xfd7zXZ\x00"):
        stream = lzma.LZMAFile(counted, mode="rb")  # type: ignore[arg-type]  # noqa: SIM115 - closed with raw
    else:
        return _BombGuard(raw, None, limits)
    return _BombGuard(stream, counted, limits)


def _extract_tar(archive: Path, dest: Path, limits: ArchiveLimits) -> None:
    with archive.open("rb") as raw:
        guard = _tar_stream(archive, raw, limits)
        # Stream mode ("r|"): one pass, no seeking, so the guard sees every decompressed byte in order.
        with tarfile.open(fileobj=guard, mode="r|", encoding="utf-8", errors="surrogateescape") as tf:  # type: ignore[call-overload]
            namer = _Namer(limits)
            total = [0]
            for member in _iter_tar(tf):
                name = member.name
                guard.member = name
                if member.issym() or member.islnk():
                    raise _Refused(
                        _printable(name),
                        f"{'symbolic' if member.issym() else 'hard'} link to '{_printable(member.linkname)}'"
                        " (links are never extracted)",
                    )
                if member.ischr() or member.isblk() or member.isfifo():
                    raise _Refused(_printable(name), "device file or FIFO")
                if not (member.isreg() or member.isdir()):
                    raise _Refused(_printable(name), f"unsupported member type {member.type!r}")
                rel = namer.check(name, member.isdir())
                if member.isdir():
                    if rel:
                        dest.joinpath(*rel.split("/")).mkdir(parents=True, exist_ok=True)
                    continue
                if member.size > limits.max_member_bytes:
                    raise _Refused(name, f"declares {member.size} bytes, over the member limit")
                src = tf.extractfile(member)
                if src is None:  # pragma: no cover - isreg() members always have data
                    raise _Refused(name, "member has no data")
                with src, _open_new(dest, rel) as dst:
                    _copy(src, dst, rel, limits, total, -1)


def _iter_tar(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while True:
        member = tf.next()
        if member is None:
            return
        yield member


def _empty(dest: Path) -> None:
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


_CORRUPT = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, gzip.BadGzipFile, lzma.LZMAError)


def extract_archive(archive: Path, dest: Path, limits: ArchiveLimits | None = None) -> Path:
    """Extract ``archive`` into the existing empty directory ``dest`` and return ``dest``.

    Raises UnsafeInputError when the archive is refused (the message names the archive and the member),
    InvalidInputError when it is corrupt, truncated or not an archive, and UsageError when ``dest`` is not
    an existing empty directory. On any error ``dest`` is left empty.
    """
    archive, dest = Path(archive), Path(dest)
    limits = limits or ArchiveLimits()
    shown = display_path(archive)
    if not dest.is_dir() or dest.is_symlink():
        raise UsageError(f"{dest}: extraction target must be an existing directory")
    if any(dest.iterdir()):
        raise UsageError(f"{dest}: extraction target must be empty")
    if not archive.is_file():
        raise InvalidInputError(f"{shown}: archive not found")
    kind = _sniff(archive)
    if kind is None:
        raise InvalidInputError(f"{shown}: not a tar, tar.gz or zip archive")
    try:
        if kind == _KIND_ZIP:
            _extract_zip(archive, dest, limits)
        else:
            _extract_tar(archive, dest, limits)
    except _Refused as exc:
        _empty(dest)
        where = f" member '{exc.member}'" if exc.member else ""
        raise UnsafeInputError(f"{shown}:{where} refused: {exc.reason}") from None
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        gzip.BadGzipFile,
        lzma.LZMAError,
    ) as exc:
        _empty(dest)
        raise InvalidInputError(f"{shown}: corrupt or truncated archive: {exc}") from None
    except (OSError, ValueError, NotImplementedError) as exc:
        # zipfile signals CRC mismatches and unsupported compression methods with these.
        _empty(dest)
        raise InvalidInputError(f"{shown}: cannot extract archive: {exc}") from None
    return dest
