"""Deterministic, atomic archive writing: the same inputs always give the same bytes.

Members are added in sorted order with a fixed time (``SOURCE_DATE_EPOCH``, else the newest source
mtime the exporter passes), uid/gid 0, modes 0644/0755 and a gzip header without a timestamp or name.
Everything goes to a temporary file beside the target, renamed into place only when complete, so an
interrupted build leaves the old archive or none. File contents are streamed in chunks.

The temporary file is ``.<target name>.<random>.part`` (hidden, never the target's name) and is locked
(``flock``) while it is written. A build killed outright (SIGKILL, power loss) cannot remove it, so the next
build of the same target removes every such file no live process holds a lock on: leftovers never pile up,
and a concurrent build of the same target keeps its own file.
"""

from __future__ import annotations

import errno
import glob
import io
import os
import shutil
import struct
import tarfile
import tempfile
import time
import zipfile
import zlib

try:
    import fcntl
except ImportError:  # Windows: no flock; stale temporary files are then left for the user
    fcntl = None  # type: ignore[assignment]
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import BuildError

CHUNK = 1 << 20
ZIP_EPOCH = 315532800  # 1980-01-01, the earliest time a zip can store
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)
# Already-compressed media gain nothing from deflate; storing them saves build time.
STORED_SUFFIXES = {
    ".mp4",
    ".webm",
    ".m4a",
    ".mp3",
    ".ogg",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".zip",
    ".woff",
    ".woff2",
    ".pdf",
    ".gz",
}


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def build_time(paths: list[Path] | None = None) -> int:
    """``SOURCE_DATE_EPOCH`` when set, else the newest mtime of ``paths`` (the source), else 1980-01-01."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env and env.isdigit():
        return max(int(env), ZIP_EPOCH)
    newest = ZIP_EPOCH
    for path in paths or []:
        try:
            mtime = int(os.stat(path).st_mtime)  # one call (was exists() then stat())
        except OSError as exc:
            if exc.errno in _GONE:  # what Path.exists() takes for "no such file"
                continue
            raise
        newest = max(newest, mtime)
    return newest


def source_files(source_dir: Path, out_dir: Path) -> list[Path]:
    """Every file of the course folder except hidden ones and earlier builds written inside it (what a
    package is made from: the newest one's time is the package's without ``SOURCE_DATE_EPOCH``).

    One directory listing and one path resolution per folder (a file's own is resolved only when it is a
    symbolic link); symbolic links to folders are not followed, as ``Path.rglob`` does not follow them.
    """
    out = os.path.realpath(out_dir)
    out_prefix = out if out.endswith(os.sep) else out + os.sep
    found = []
    stack = [(os.fspath(source_dir), source_dir)]
    while stack:
        folder, folder_path = stack.pop()
        real_folder = os.path.realpath(folder)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, folder_path / entry.name))
                continue
            if not entry.is_file():
                continue
            real = (
                os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(real_folder, entry.name)
            )
            if real == out or real.startswith(out_prefix):
                continue
            found.append(folder_path / entry.name)
    return found


@dataclass
class _Member:
    name: str
    data: bytes | None = None
    source: Path | None = None
    size: int = 0
    chunks: Callable[[], Iterable[bytes]] | None = None  # made while the archive is written


class ArchiveWriter:
    """Collect members (bytes or files on disk), then ``write`` them in sorted order."""

    def __init__(self, mtime: int) -> None:
        self.mtime = mtime
        self.members: dict[str, _Member] = {}

    def add_bytes(self, name: str, data: bytes | str) -> None:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        self._add(_Member(name, data=raw, size=len(raw)))

    def add_chunks(self, name: str, make: Callable[[], Iterable[bytes]]) -> None:
        """A member whose bytes ``make()`` yields when its turn comes, in name order: written to a zip as
        they come, so a large generated file (a SCORM page of every unit) is never held whole. Its size
        must stay under 2 GiB (no zip64 record is made for a size not known in advance)."""
        self._add(_Member(name, chunks=make, size=-1))

    def add_file(self, name: str, source: Path) -> None:
        self._add(_Member(name, source=source, size=source.stat().st_size))

    def _add(self, member: _Member) -> None:
        if member.name in self.members:
            raise BuildError(f"two files would be written as {member.name!r} in the archive")
        if member.name.startswith("/") or ".." in member.name.split("/"):
            raise BuildError(f"refusing archive member name {member.name!r}")
        self.members[member.name] = member

    def names(self) -> list[str]:
        return sorted(self.members)

    def _open(self, member: _Member) -> IO[bytes]:
        if member.chunks is not None:
            return io.BytesIO(b"".join(member.chunks()))
        if member.data is not None:
            return io.BytesIO(member.data)
        assert member.source is not None
        return member.source.open("rb")

    def write_zip(self, target: Path) -> None:
        stamp = time.gmtime(self.mtime)[:6]
        with (
            atomic_target(target) as tmp,
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf,
        ):
            for name in self.names():
                member = self.members[name]
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.external_attr = 0o100644 << 16
                info.create_system = 3  # Unix, so that the mode above is read
                suffix = Path(name).suffix.lower()
                info.compress_type = zipfile.ZIP_STORED if suffix in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
                if member.chunks is not None:
                    with zf.open(info, "w", force_zip64=False) as dst:
                        for chunk in member.chunks():
                            dst.write(chunk)
                    continue
                with (
                    self._open(member) as src,
                    zf.open(info, "w", force_zip64=member.size > 0x7FFF0000) as dst,
                ):
                    shutil.copyfileobj(src, dst, CHUNK)

    def write_tar_gz(self, target: Path, top: str = "") -> None:
        """A gzip'd PAX tar; ``top`` is a folder every member goes under (Studio exports have one).

        The bytes are exactly what tarfile writes (tests/test_export_olx.py compares them), without its
        per-member work: an OLX course is thousands of small files, and tarfile's TarInfo copies and
        field-by-field headers cost more than the compression. Headers here differ only in name and size,
        so they are filled into one template; a member a plain ustar header cannot describe (a name over
        100 bytes or not ASCII) gets tarfile's own header. Output reaches gzip (mtime 0, no file name:
        the bytes depend only on the content) in large writes, compressed on every core (``GzipStream``).
        """
        prefix = f"{top}/" if top else ""
        with atomic_target(target) as tmp, tmp.open("wb") as raw, GzipStream(raw) as gz:
            buf = bytearray()
            for folder in self._folders(prefix):
                buf += self._header(folder, 0, tarfile.DIRTYPE)
            for name in self.names():
                member = self.members[name]
                if member.chunks is not None:  # a tar header states the size first: made here, whole
                    data = b"".join(member.chunks())
                    member = _Member(name, data=data, size=len(data))
                buf += self._header(prefix + name, member.size, tarfile.REGTYPE)
                if member.data is not None:
                    buf += member.data
                else:
                    assert member.source is not None
                    gz.write(buf)
                    buf.clear()
                    self._copy(member.source, member.size, gz)
                buf += bytes(-member.size % tarfile.BLOCKSIZE)
                if len(buf) >= CHUNK:
                    gz.write(buf)
                    buf.clear()
            # The end of the archive as tarfile writes it: two zero blocks, then zeros to a whole record.
            end = len(buf) + gz.tell() + 2 * tarfile.BLOCKSIZE  # gz.tell(): bytes written so far
            buf += bytes(2 * tarfile.BLOCKSIZE + (-end % tarfile.RECORDSIZE))
            gz.write(buf)

    @staticmethod
    def _copy(source: Path, size: int, out: GzipStream) -> None:
        left = size
        with source.open("rb") as src:
            while left:
                chunk = src.read(min(CHUNK, left))
                if not chunk:
                    raise BuildError(f"{source}: file shrank while it was being archived")
                out.write(chunk)
                left -= len(chunk)

    def _header(self, name: str, size: int, kind: bytes) -> bytes:
        """The 512-byte ustar header tarfile's PAX format writes for this member (mode, owner, time fixed)."""
        if kind == tarfile.DIRTYPE:
            name += "/"
        encoded = name.encode("utf-8")
        if len(encoded) > 100 or not name.isascii() or size >= 8**11 or self.mtime >= 8**11:
            info = self._tarinfo(name.rstrip("/") if kind == tarfile.DIRTYPE else name, size, kind)
            return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        mode = b"0000755\0" if kind == tarfile.DIRTYPE else b"0000644\0"
        head = encoded + bytes(100 - len(encoded)) + mode + b"0000000\0" * 2 + b"%011o\0" % size
        tail = b"%011o\0" % self.mtime
        rest = kind + bytes(100) + tarfile.POSIX_MAGIC + bytes(512 - 265)
        checksum = sum(head) + sum(tail) + 8 * 32 + sum(rest)  # the checksum field counts as spaces
        return head + tail + b"%06o\0 " % checksum + rest

    def _folders(self, prefix: str) -> list[str]:
        folders = {prefix.rstrip("/")} if prefix else set()
        for name in self.members:
            parts = (prefix + name).split("/")[:-1]
            folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return sorted(f for f in folders if f)

    def _tarinfo(self, name: str, size: int, kind: bytes) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = size
        info.type = kind
        info.mtime = self.mtime
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info


def _deflate(chunk: bytes, primer: bytes, last: bool) -> bytes:
    """One chunk as raw deflate at level 6 (gzip's and tar czf's default), primed with the 32 KiB before
    it so that matches reach back across the cut; ends with a sync flush (byte aligned, not final) so that
    the next chunk's output can follow it, or, for the last chunk, with the final block."""
    if primer:
        c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY, primer)
    else:
        c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(chunk) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class GzipStream:
    """A gzip writer that compresses on worker threads while the caller goes on (pigz's method).

    The input is cut into fixed 128 KiB chunks, each deflated on its own (zlib releases the interpreter
    lock) and written in order: one gzip member that any gunzip reads, whose bytes depend only on the
    input, never on the number of threads. The header has no time and no name (as ``GzipFile(filename="",
    mtime=0)`` writes it). At most two chunks per thread wait, so memory stays bounded for any input size.
    """

    CHUNK = 128 * 1024
    WINDOW = 32 * 1024  # deflate's window: the primer a chunk needs from the one before

    def __init__(self, raw: IO[bytes], threads: int = 0) -> None:
        self.raw = raw
        threads = threads or min(4, usable_cores())
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="gzip") if threads > 1 else None
        self.limit = 2 * threads
        self.pending: deque[Future[bytes]] = deque()
        self.buf = bytearray()
        self.primer = b""
        self.crc = 0
        self.size = 0
        # magic, deflate, no flags, mtime 0, no extra flags, OS unknown: GzipFile's header for level 6
        raw.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")

    def __enter__(self) -> GzipStream:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.close()
        elif self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def write(self, data: bytes | bytearray) -> None:
        self.buf += data
        if len(self.buf) >= self.CHUNK:
            view = memoryview(self.buf)
            cut = len(self.buf) - len(self.buf) % self.CHUNK
            for start in range(0, cut, self.CHUNK):
                self._submit(bytes(view[start : start + self.CHUNK]), last=False)
            view.release()
            del self.buf[:cut]

    def tell(self) -> int:
        """Uncompressed bytes written so far, as ``GzipFile.tell()`` answers."""
        return self.size + len(self.buf)

    def _submit(self, chunk: bytes, last: bool) -> None:
        self.crc = zlib.crc32(chunk, self.crc)
        self.size += len(chunk)
        primer, self.primer = self.primer, chunk[-self.WINDOW :]
        if self.pool is None:
            self.raw.write(_deflate(chunk, primer, last))
            return
        self.pending.append(self.pool.submit(_deflate, chunk, primer, last))
        while len(self.pending) > self.limit:
            self.raw.write(self.pending.popleft().result())

    def close(self) -> None:
        self._submit(bytes(self.buf), last=True)
        self.buf.clear()
        while self.pending:
            self.raw.write(self.pending.popleft().result())
        if self.pool is not None:
            self.pool.shutdown()
        self.raw.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))


def remove_stale_parts(target: Path) -> list[Path]:
    """Remove the temporary files of earlier builds of ``target`` that were killed; returns them.

    A file is stale when nobody holds its lock: the kernel drops a flock when its process dies, however
    it dies, so a build still running (in another process too) keeps its file.
    """
    if fcntl is None:
        return []
    removed = []
    for part in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        try:
            fd = os.open(part, os.O_RDONLY)
        except OSError:  # gone already, or not ours to read
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # locked: a live build is writing it
            continue
        else:
            part.unlink(missing_ok=True)
            removed.append(part)
        finally:
            os.close(fd)
    return removed


@contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``; renamed onto it on success, removed on any failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(name)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held until this build ends; marks the file as in use
        remove_stale_parts(target)  # after taking our own lock, so our file is never taken for stale
        yield tmp
        with tmp.open("rb") as f:  # the bytes reach the disk before the name does
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
