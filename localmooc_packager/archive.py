"""Reading untrusted course archives (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz and .zip) safely.

Course packages come from outside (designers' laptops, other platforms' exports), so an archive is treated
as hostile: every member name is checked before it is used, links and special files are refused, and
decompressed bytes are counted while streaming so that a bomb is stopped as soon as a limit is passed,
whatever the headers claim.

Two ways in, with the same checks:

- :func:`open_archive` reads an archive in place (validation): a zip through its central directory, a tar
  in one streaming pass; nothing is written to disk.
- :func:`extract_archive` writes it into an empty folder (import). Nothing is ever written outside ``dest``;
  on refusal ``dest`` is emptied again.

:func:`describe_file` says what a file really is from its first bytes, for "x.zip is not a zip" messages.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import shutil
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from .errors import InvalidInputError, UnsafeInputError, UsageError, display_path

CHUNK = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f]")
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


_Select = Callable[[str], bool] | None
_Sinks = Callable[[str], "Sink | None"] | None


class _Refused(Exception):
    """Internal: carries a refusal message up to the function that knows the archive's name."""

    def __init__(self, member: str, reason: str) -> None:
        super().__init__(reason)
        self.member = member
        self.reason = reason


class _Limit(_Refused):
    """Internal: a refusal of the whole archive (member count, sizes, bombs), never of one member alone."""


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
            raise _Limit(self.member, f"expands to more than {limits.max_total_bytes} bytes (archive bomb)")
        if self.compressed is not None and self.count > limits.ratio_min_bytes:
            ratio = self.count / max(self.compressed.count, 1)
            if ratio > limits.max_ratio:
                raise _Limit(
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
            raise _Limit(name, f"more than {self.limits.max_members} members")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused(_printable(name), "member name is not valid UTF-8") from None
        if not name or _CONTROL.search(name):
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
        dirs = self.dirs
        for i in range(1, len(parts) + (1 if is_dir else 0)):
            ancestor = "/".join(parts[:i])
            if ancestor in dirs:  # already checked; a known folder is never also a file
                continue
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
        key = rel.casefold() if rel.isascii() else unicodedata.normalize("NFC", rel).casefold()
        seen = self.folded.setdefault(key, rel)
        if seen != rel:
            raise _Refused(name, f"name differs from '{seen}' only in letter case or Unicode normalisation")


def _normal(name: str) -> str:
    """A member name as _Namer.check returns it (no '.' or empty parts)."""
    return "/".join(p for p in name.split("/") if p not in ("", "."))


def _printable(name: str) -> str:
    """A name fit for a message: undecodable bytes (kept by tarfile as surrogates) shown as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _open_new(dest: Path, rel: str, resolved: dict[str, str] | None = None) -> BinaryIO:
    """Create ``dest/rel`` for writing, refusing anything that would resolve outside ``dest``.

    ``resolved`` keeps each folder's resolution for one extraction (``dest`` as ""): an archive cannot
    make links (refused), so a folder resolved once stays so, and a member costs no resolution of its own.
    """
    # Plain strings, not Path objects: this runs once per member of archives of thousands of files.
    folder = rel.rpartition("/")[0]
    parent = os.path.join(dest, *folder.split("/")) if folder else os.fspath(dest)
    target = os.path.join(parent, rel.rpartition("/")[2])
    known = resolved if resolved is not None else {}
    # Defence in depth: links are refused, but check the resolved parent anyway before creating the file.
    real_parent = known.get(folder)
    if real_parent is None:
        os.makedirs(parent, exist_ok=True)
        real_parent = known[folder] = os.path.realpath(parent)
    real_dest = known.get("")
    if real_dest is None:
        real_dest = known[""] = os.path.realpath(dest)
    if real_parent != real_dest and not real_parent.startswith(real_dest + os.sep):
        raise _Refused(rel, "would be written outside the destination")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    return os.fdopen(fd, "wb")


def _copy(
    src: IO[bytes],
    dst: BinaryIO,
    name: str,
    limits: ArchiveLimits,
    total: list[int],
    packed: int,
    stop_after: int | None = None,
) -> None:
    """Stream one member in chunks, checking the limits after every chunk (never trusting header sizes).
    With ``stop_after``, stop quietly once more than that many bytes were copied (a reader's own cap)."""
    written = 0
    while True:
        if stop_after is not None and written > stop_after:
            return
        chunk = src.read(CHUNK if stop_after is None else min(CHUNK, stop_after + 1 - written))
        if not chunk:
            return
        written += len(chunk)
        total[0] += len(chunk)
        if written > limits.max_member_bytes:
            raise _Limit(name, f"member expands past {limits.max_member_bytes} bytes (archive bomb)")
        if total[0] > limits.max_total_bytes:
            raise _Limit(name, f"archive expands past {limits.max_total_bytes} bytes (archive bomb)")
        if packed >= 0 and written > limits.ratio_min_bytes and written / max(packed, 1) > limits.max_ratio:
            raise _Limit(name, f"compression ratio above {limits.max_ratio:g}:1 (zip bomb)")
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


def _check_zip_info(info: zipfile.ZipInfo, namer: _Namer, limits: ArchiveLimits) -> tuple[str, bool]:
    """(relative name, is_dir) of a zip member after the name, type and declared-size checks."""
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
    if not is_dir and info.file_size > limits.max_member_bytes:
        raise _Limit(name, f"declares {info.file_size} bytes, over the member limit (zip bomb)")
    # The central directory already tells: refused up front, whether or not the member is ever read.
    ratio = info.file_size / max(info.compress_size, 1)
    if not is_dir and info.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
        raise _Limit(name, f"compression ratio above {limits.max_ratio:g}:1 (zip bomb)")
    return rel, is_dir


class Sink(Protocol):
    """Where :func:`extract_archive` streams a member it does not write (a hash, for instance)."""

    def write(self, data: bytes, /) -> object: ...


def _extract_zip(archive: Path, dest: Path, limits: ArchiveLimits, select: _Select, sink: _Sinks) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise _Limit("", f"more than {limits.max_members} members")
        namer = _Namer(limits)
        plan: list[tuple[zipfile.ZipInfo, str]] = []
        declared = 0
        # Check every name and type from the central directory before writing a single byte.
        for info in infos:
            rel, is_dir = _check_zip_info(info, namer, limits)
            if not is_dir:
                declared += info.file_size
                if declared > limits.max_total_bytes:
                    raise _Limit(rel, "declared sizes exceed the total limit (zip bomb)")
            plan.append((info, "" if is_dir else rel))
            if is_dir and rel:
                dest.joinpath(*rel.split("/")).mkdir(parents=True, exist_ok=True)
        total = [0]
        resolved: dict[str, str] = {}
        for info, rel in plan:
            if not rel:
                continue
            if select is not None and not select(rel):
                into = sink(rel) if sink is not None else None
                if into is not None:
                    with zf.open(info) as src:
                        _copy(src, into, rel, limits, total, info.compress_size)  # type: ignore[arg-type]
                continue
            with zf.open(info) as src, _open_new(dest, rel, resolved) as dst:
                _copy(src, dst, rel, limits, total, info.compress_size)


def _tar_stream(raw: BinaryIO, limits: ArchiveLimits) -> _BombGuard:
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


def _check_tar_member(member: tarfile.TarInfo, namer: _Namer, limits: ArchiveLimits) -> str:
    """The relative name of a tar member after the name, type and declared-size checks."""
    name = member.name
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
    if member.isreg() and member.size > limits.max_member_bytes:
        raise _Limit(name, f"declares {member.size} bytes, over the member limit")
    return rel


def _open_tar_stream(raw: BinaryIO, limits: ArchiveLimits) -> tuple[_BombGuard, tarfile.TarFile]:
    guard = _tar_stream(raw, limits)
    # Stream mode ("r|"): one pass, no seeking, so the guard sees every decompressed byte in order.
    tf = tarfile.open(fileobj=guard, mode="r|", encoding="utf-8", errors="surrogateescape")  # type: ignore[call-overload]  # noqa: SIM115 - the caller closes it
    return guard, tf


def _extract_tar(archive: Path, dest: Path, limits: ArchiveLimits, select: _Select, sink: _Sinks) -> None:
    with archive.open("rb") as raw:
        guard, tf = _open_tar_stream(raw, limits)
        with tf:
            namer = _Namer(limits)
            total = [0]
            resolved: dict[str, str] = {}
            for member in _iter_tar(tf):
                guard.member = member.name
                rel = _check_tar_member(member, namer, limits)
                if member.isdir():
                    if rel:
                        dest.joinpath(*rel.split("/")).mkdir(parents=True, exist_ok=True)
                    continue
                if select is not None and not select(rel):
                    into = sink(rel) if sink is not None else None
                    if into is not None:  # else tarfile skips the data, still counted by the guard
                        src = tf.extractfile(member)
                        if src is not None:
                            with src:
                                _copy(src, into, rel, limits, total, -1)  # type: ignore[arg-type]
                    continue
                src = tf.extractfile(member)
                if src is None:  # pragma: no cover - isreg() members always have data
                    raise _Refused(member.name, "member has no data")
                with src, _open_new(dest, rel, resolved) as dst:
                    _copy(src, dst, rel, limits, total, -1)


def write_extracted(archive: Path, dest: Path, files: Iterable[tuple[str, bytes]]) -> None:
    """Write files of ``archive`` that an :func:`extract_archive` into ``dest`` (with a ``select``) checked
    and streamed into a sink instead of writing them: the same safe creation, without reading the archive
    again. On a refusal, ``dest`` is emptied."""
    resolved: dict[str, str] = {}
    try:
        for rel, data in files:
            with _open_new(dest, rel, resolved) as dst:
                dst.write(data)
    except _Refused as exc:
        _empty(dest)
        raise _refusal(archive, exc) from None


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


def extract_archive(
    archive: Path,
    dest: Path,
    limits: ArchiveLimits | None = None,
    *,
    select: _Select = None,
    sink: _Sinks = None,
) -> Path:
    """Extract ``archive`` into the existing empty directory ``dest`` and return ``dest``.

    With ``select``, only the files it accepts (by relative name) are written, and ``dest`` may already
    hold files (an earlier pass with another ``select``; an existing file is never replaced); a file it
    refuses is streamed into ``sink(name)`` when that gives a sink, else skipped. Every member is checked
    either way, and every limit applies to the bytes read. Directories are always made.

    Raises UnsafeInputError when the archive is refused (the message names the archive and the member),
    InvalidInputError when it is corrupt, truncated or not an archive, and UsageError when ``dest`` is not
    an existing empty directory. On any error ``dest`` is left empty.
    """
    archive, dest = Path(archive), Path(dest)
    limits = limits or ArchiveLimits()
    shown = display_path(archive)
    if not dest.is_dir() or dest.is_symlink():
        raise UsageError(f"{dest}: extraction target must be an existing directory")
    if select is None and any(dest.iterdir()):
        raise UsageError(f"{dest}: extraction target must be empty")
    if not archive.is_file():
        raise InvalidInputError(f"{shown}: archive not found")
    kind = _sniff(archive)
    if kind is None:
        raise InvalidInputError(f"{shown}: not a tar, tar.gz or zip archive: it is {describe_file(archive)}")
    try:
        if kind == _KIND_ZIP:
            _extract_zip(archive, dest, limits, select, sink)
        else:
            _extract_tar(archive, dest, limits, select, sink)
    except _Refused as exc:
        _empty(dest)
        raise _refusal(archive, exc) from None
    except _CORRUPT as exc:
        _empty(dest)
        raise InvalidInputError(f"{shown}: corrupt or truncated archive: {exc}") from None
    except (OSError, ValueError, NotImplementedError) as exc:
        # zipfile signals CRC mismatches and unsupported compression methods with these.
        _empty(dest)
        raise InvalidInputError(f"{shown}: cannot extract archive: {exc}") from None
    return dest


# --------------------------------------------------------------------------------------------------------
# Reading in place


# Text-like members a validator reads; a tar keeps these in memory during its single pass.
TEXT_SUFFIXES = frozenset(
    {".xml", ".json", ".html", ".htm", ".xhtml", ".js", ".mjs", ".css", ".txt", ".md", ".yaml", ".yml"}
)


def _keep_text(rel: str) -> bool:
    return os.path.splitext(rel)[1].lower() in TEXT_SUFFIXES


class ArchiveView:
    """The regular files of an archive, checked and readable in place; nothing is written to disk.

    ``files`` maps each file's normalised relative name to its entry, in archive order; ``dirs`` holds
    every folder (declared or implied). ``refused`` lists ``(member, reason)`` for members skipped in
    lenient mode (see :func:`open_archive`). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: Path, kind: str, limits: ArchiveLimits) -> None:
        self.path = path
        self.kind = kind
        self.limits = limits
        self.files: dict[str, zipfile.ZipInfo | bytes | None] = {}
        self.dirs: set[str] = set()
        self.refused: list[tuple[str, str]] = []
        self._zip: zipfile.ZipFile | None = None
        self._total = [0]

    def __enter__(self) -> ArchiveView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def read(self, rel: str, limit: int | None = None) -> bytes | None:
        """The bytes of file ``rel``; None when it is larger than ``limit``. FileNotFoundError for an
        unknown name; InvalidInputError (UnsafeInputError for a bomb) when the member cannot be read."""
        if rel not in self.files:
            raise FileNotFoundError(f"{rel}: not in {self.path.name}")
        entry = self.files[rel]
        if isinstance(entry, bytes):
            data = entry
        else:
            data = self._guarded(lambda: self._read_member(rel, entry, limit))
        return None if limit is not None and len(data) > limit else data

    def read_many(
        self, rels: Iterable[str], limit: int | None = None
    ) -> Iterator[tuple[str, bytes | InvalidInputError | None]]:
        """``(rel, bytes)`` for each file of ``rels`` in archive order: None when it is larger than ``limit``,
        the error when it cannot be read (the caller reports it and goes on). For a zip, one pass over the
        file: small stored/deflated members are read straight from their offsets (zipfile.open per member
        costs more than decompressing a small page); anything else goes through :meth:`read`."""
        wanted = [(self.files[rel], rel) for rel in rels]
        if self.kind != _KIND_ZIP:
            for _, rel in wanted:
                yield rel, self._read_or_error(rel, limit)
            return
        wanted.sort(key=lambda pair: pair[0].header_offset)  # type: ignore[union-attr]
        small = min(limit if limit is not None else CHUNK, self.limits.ratio_min_bytes)
        with self.path.open("rb") as raw:
            for info, rel in wanted:
                assert isinstance(info, zipfile.ZipInfo)
                if limit is not None and info.file_size > limit:
                    yield rel, None
                elif (
                    info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
                    and info.file_size <= small
                ):
                    yield rel, self._read_raw(raw, info)
                else:
                    yield rel, self._read_or_error(rel, limit)

    def _read_or_error(self, rel: str, limit: int | None) -> bytes | InvalidInputError | None:
        try:
            return self.read(rel, limit)
        except InvalidInputError as exc:
            return exc

    def _read_raw(self, raw: BinaryIO, info: zipfile.ZipInfo) -> bytes | InvalidInputError:
        """One small member from its local header; sizes and CRC checked as zipfile would."""
        raw.seek(info.header_offset)
        header = raw.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            return InvalidInputError(
                f"{display_path(self.path)}: corrupt archive: bad local header for '{info.filename}'"
            )
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        raw.seek(name_len + extra_len, 1)
        packed = raw.read(info.compress_size)
        try:
            if info.compress_type == zipfile.ZIP_DEFLATED:
                data = zlib.decompressobj(-15).decompress(packed, info.file_size)
            else:
                data = packed[: info.file_size]
        except zlib.error as exc:
            return InvalidInputError(f"{display_path(self.path)}: corrupt archive: '{info.filename}': {exc}")
        if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
            return InvalidInputError(
                f"{display_path(self.path)}: corrupt archive: bad CRC or size for '{info.filename}'"
            )
        self._total[0] += len(data)
        return data

    def _read_member(self, rel: str, entry: zipfile.ZipInfo | None, limit: int | None) -> bytes:
        out = io.BytesIO()
        if isinstance(entry, zipfile.ZipInfo):
            assert self._zip is not None
            if entry.file_size <= min(limit if limit is not None else CHUNK, self.limits.ratio_min_bytes):
                # A small member: zipfile never yields more than the declared file_size, and below
                # ratio_min_bytes _copy would check nothing, so one plain read is as safe and cheaper.
                with self._zip.open(entry) as src:
                    data = src.read()
                self._total[0] += len(data)
                return data
            with self._zip.open(entry) as src:
                _copy(src, out, rel, self.limits, self._total, entry.compress_size, limit)  # type: ignore[arg-type]
            return out.getvalue()
        # A tar member that was not kept in memory: one more streaming pass to reach it.
        with self.path.open("rb") as raw:
            guard, tf = _open_tar_stream(raw, self.limits)
            with tf:
                for member in _iter_tar(tf):
                    guard.member = member.name
                    if member.isreg() and _normal(member.name) == rel:
                        src = tf.extractfile(member)
                        if src is not None:
                            with src:
                                _copy(src, out, rel, self.limits, [0], -1, limit)  # type: ignore[arg-type]
                        return out.getvalue()
        raise FileNotFoundError(rel)  # pragma: no cover - the first pass listed it

    def _guarded(self, action: Callable[[], bytes]) -> bytes:
        try:
            return action()
        except _Refused as exc:
            raise _refusal(self.path, exc) from None
        except _CORRUPT as exc:
            raise InvalidInputError(
                f"{display_path(self.path)}: corrupt or truncated archive: {exc}"
            ) from None
        except (RuntimeError, NotImplementedError, ValueError) as exc:
            # zipfile: encrypted members, unsupported compression methods, bad CRCs.
            raise InvalidInputError(f"{display_path(self.path)}: cannot read member: {exc}") from None


def _refusal(archive: Path, exc: _Refused) -> UnsafeInputError:
    where = f" member '{exc.member}'" if exc.member else ""
    return UnsafeInputError(f"{display_path(archive)}:{where} refused: {exc.reason}")


def _member_level(exc: _Refused) -> bool:
    """A refusal of one member's name or type (lenient reading skips that member); a _Limit (member count,
    sizes, bombs) refuses the whole archive."""
    return not isinstance(exc, _Limit)


def open_archive(
    archive: Path,
    limits: ArchiveLimits | None = None,
    *,
    keep: Callable[[str], bool] = _keep_text,
    lenient: bool = False,
) -> ArchiveView:
    """Open ``archive`` for reading in place, after checking every member name and type.

    A zip is indexed from its central directory (members are decompressed only when read, with the bomb
    checks); a tar is read in one streaming pass that keeps the files ``keep`` selects in memory (others
    are re-streamed if read). Raises InvalidInputError when the file is not a tar or zip archive, or is
    corrupt; UnsafeInputError when it is refused. With ``lenient``, a member refused for its own name or
    type is skipped and listed in ``view.refused`` instead; limits and bombs always refuse the archive.
    """
    archive = Path(archive)
    limits = limits or ArchiveLimits()
    shown = display_path(archive)
    if not archive.is_file():
        raise InvalidInputError(f"{shown}: archive not found")
    kind = _sniff(archive)
    if kind is None:
        raise InvalidInputError(f"{shown}: not a tar, tar.gz or zip archive: it is {describe_file(archive)}")
    view = ArchiveView(archive, kind, limits)
    try:
        if kind == _KIND_ZIP:
            _index_zip(view, lenient)
        else:
            _index_tar(view, keep, lenient)
    except _Refused as exc:
        view.close()
        raise _refusal(archive, exc) from None
    except _CORRUPT as exc:
        view.close()
        raise InvalidInputError(f"{shown}: corrupt or truncated archive: {exc}") from None
    except (OSError, ValueError, NotImplementedError) as exc:
        view.close()
        raise InvalidInputError(f"{shown}: cannot read archive: {exc}") from None
    return view


def _index_zip(view: ArchiveView, lenient: bool) -> None:
    limits = view.limits
    zf = view._zip = zipfile.ZipFile(view.path)
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise _Limit("", f"more than {limits.max_members} members (the limit; refused before reading)")
    namer = _Namer(limits)
    declared = 0
    for info in infos:
        try:
            rel, is_dir = _check_zip_info(info, namer, limits)
        except _Refused as exc:
            if not (lenient and _member_level(exc)):
                raise
            view.refused.append((exc.member, exc.reason))
            continue
        if is_dir:
            if rel:
                view.dirs.add(rel)
            continue
        declared += info.file_size
        if declared > limits.max_total_bytes:
            raise _Limit(rel, "declared sizes exceed the total limit (zip bomb)")
        view.files[rel] = info
    view.dirs |= namer.dirs


def _index_tar(view: ArchiveView, keep: Callable[[str], bool], lenient: bool) -> None:
    limits = view.limits
    with view.path.open("rb") as raw:
        guard, tf = _open_tar_stream(raw, limits)
        with tf:
            namer = _Namer(limits)
            for member in _iter_tar(tf):
                guard.member = member.name
                try:
                    rel = _check_tar_member(member, namer, limits)
                except _Refused as exc:
                    if not (lenient and _member_level(exc)):
                        raise
                    view.refused.append((exc.member, exc.reason))
                    continue
                if member.isdir():
                    if rel:
                        view.dirs.add(rel)
                    continue
                data: bytes | None = None
                if keep(rel):
                    src = tf.extractfile(member)
                    if src is not None:
                        out = io.BytesIO()
                        with src:
                            _copy(src, out, rel, limits, view._total, -1)  # type: ignore[arg-type]
                        data = out.getvalue()
                view.files[rel] = data
            view.dirs |= namer.dirs


# --------------------------------------------------------------------------------------------------------
# What a file really is


_MAGIC: list[tuple[bytes, str]] = [
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"PK\x07\x08", "a split (multi-volume) zip archive"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office (OLE2) document"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
]


def describe_file(path: Path) -> str:
    """What ``path`` holds, from its first bytes (magic numbers); extensions are not trusted."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(1024)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if size == 0:
        return "an empty file (0 bytes)"
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as g:
                inner = g.read(512)
        except (OSError, EOFError, zlib.error) as exc:
            return f"damaged gzip-compressed data ({exc})"
        if len(inner) >= 262 and inner[257:262] == b"ustar":
            return "a gzip-compressed tar archive (.tar.gz)"
        return "gzip-compressed data that is not a tar archive"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "a tar archive (uncompressed)"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return f"binary data of unknown type (starts with {head[:8].hex(' ')})"
        text = head[: exc.start].decode("utf-8")
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith("<?xml"):
        return "an XML document (text)"
    if stripped.startswith(("<!doctype html", "<html")):
        return "an HTML page (text)"
    if stripped.startswith(("{", "[")):
        return "JSON or other text"
    return "a text file"


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar' (possibly compressed) or None, from the first bytes of ``path``."""
    return _sniff(Path(path))
