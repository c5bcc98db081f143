"""Course versions: every node serves the same content, and a published version reaches every node.

The content of a course is the files of its folder (all but hidden ones), named by a **content hash**:
SHA-256 over each file's relative path and SHA-256, in path order, so it depends neither on modification
times nor on where the folder is. Publishing stores that hash, the folder as a deterministic tar.gz (the
exporters' ``ArchiveWriter``: fixed time and modes, sorted members) and the block id -> type map as a new
row of ``course_versions``; the newest row is the published version (docs/operations.md).

A node (``CourseVersions``, one per worker) compares each course folder it was started with against the
database at start:

- no version yet: the folder is published as version 1 (the first node of a new course);
- the folder is the published version: served;
- the folder is an *older* published version: the published one is unpacked from the database and served
  (the content was accepted once; the node catches up as a running node would);
- anything else: the course is **refused** on this node (logged with both hashes and what to do, shown
  in /readyz, its pages and API answer 503 in Thai and English); the other courses are served.

Then it polls the newest version numbers (one primary-key query every ``poll`` seconds); a newer version
is unpacked into the node's cache, checked against its hash, loaded off the event loop, and swapped into
the course dict every layer shares, on the event loop: requests that hold the old ``LoadedCourse`` finish
on it.

Learner state is keyed by (course id, block id), so it follows a block across versions: a block kept with
the same id and type shows its state, a removed block's state stays in the database unseen and returns with
the block. Changing a block's type under the same id would hand one block's state to another kind of block,
so publishing refuses it (give the new block a new id). Progress and grades are computed from the kept
state against the current version's blocks at every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...errors import InvalidInputError, LocalMoocError, UsageError
from ...exporters.archive import ZIP_EPOCH, ArchiveWriter
from ..blocks import LoadedCourse, load_course_dir
from ..faults import DB_UNAVAILABLE
from ..storage import Store
from ..storage import versions as rows

log = logging.getLogger("localmooc.versions")

HASH_PREFIX = b"localmooc-course-content/1\n"  # changes if the hash's definition ever does
DEFAULT_POLL = 2.0


# ---- content: files, hash, archive


def course_files(folder: Path) -> list[tuple[str, Path]]:
    """(relative posix path, path) of every file the course consists of, in path order: all regular files
    of the folder but hidden ones (names starting with '.', e.g. .git) and those under hidden folders."""
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        found.append((rel.as_posix(), path))
    return sorted(found)


def _digest(items: Iterator[tuple[str, bytes]]) -> tuple[str, int]:
    h = hashlib.sha256(HASH_PREFIX)
    n = 0
    for rel, data in items:
        h.update(rel.encode("utf-8") + b"\0" + hashlib.sha256(data).hexdigest().encode() + b"\n")
        n += 1
    return h.hexdigest(), n


def content_hash(folder: Path) -> str:
    """The course folder's content hash (independent of mtimes and of the folder's own path)."""
    return _digest((rel, path.read_bytes()) for rel, path in course_files(folder))[0]


@dataclass(frozen=True)
class Packed:
    content_hash: str
    data: bytes  # deterministic tar.gz
    files: int


def pack(folder: Path) -> Packed:
    """The folder as a deterministic tar.gz, and the hash of exactly the bytes put in it (read once)."""
    writer = ArchiveWriter(ZIP_EPOCH)
    contents = [(rel, path.read_bytes()) for rel, path in course_files(folder)]
    for rel, data in contents:
        writer.add_bytes(rel, data)
    digest, n = _digest(iter(contents))
    with tempfile.TemporaryDirectory(prefix="localmooc-pack-") as work:
        target = Path(work) / "course.tar.gz"
        writer.write_tar_gz(target)
        return Packed(digest, target.read_bytes(), n)


def unpack(data: bytes, dest: Path, expected_hash: str) -> None:
    """Extract a published archive into the new folder ``dest`` (through the safe extractor) and check
    that what came out has the published hash."""
    from ...archive import extract_archive

    dest.mkdir(parents=True)
    with tempfile.NamedTemporaryFile(suffix=".tar.gz") as tmp:
        tmp.write(data)
        tmp.flush()
        extract_archive(Path(tmp.name), dest)
    got = content_hash(dest)
    if got != expected_hash:
        raise InvalidInputError(
            f"the archive unpacked to content {got[:12]}, not the published {expected_hash[:12]}"
        )


# ---- publishing


@dataclass(frozen=True)
class Published:
    course_id: str
    version: int
    content_hash: str
    new: bool  # False: that content was already the published version


def retyped(old: dict[str, str], new: dict[str, str]) -> list[str]:
    return [
        f"block {bid!r} was {old[bid]} and is {kind} now"
        for bid, kind in sorted(new.items())
        if bid in old and old[bid] != kind
    ]


def publish(
    store: Store,
    folder: Path,
    by: str,
    *,
    trusted_html: bool = False,
    course: LoadedCourse | None = None,
    course_id: str | None = None,
) -> tuple[Published, LoadedCourse]:
    """Validate the course in ``folder`` (unless ``course`` is its loaded form already), and store it as the
    next version unless it is the published one. Raises InvalidInputError (the course's problems) or
    UsageError (another course id than ``course_id``, a block whose type changed)."""
    course = course or load_course_dir(folder, trusted_html)
    if course_id is not None and course.id != course_id:
        raise UsageError(f"{folder}: its course.yaml now says id {course.id!r}, not {course_id!r}")
    packed = pack(folder)
    blocks = dict(course.block_types)
    for _ in range(5):  # another publisher may take the same number; re-read and go again
        with store.write() as conn:
            now_published = rows.current(conn, course.id)
            if now_published is not None and now_published.content_hash == packed.content_hash:
                return Published(course.id, now_published.version, packed.content_hash, False), course
            if now_published is not None:
                changed = retyped(now_published.blocks, blocks)
                if changed:
                    raise UsageError(
                        f"course {course.id}: not published: {'; '.join(changed)} (in version "
                        f"{now_published.version}). Learner state belongs to a block id, so a block of "
                        "another type needs a new id"
                    )
            number = now_published.version + 1 if now_published else 1
            try:
                rows.insert(
                    conn, course.id, number, packed.content_hash, packed.data, packed.files, blocks, by
                )
            except rows.RaceLost:
                continue
            # In the same transaction: the audit log says who published what (no names, ids only).
            detail = {"version": number, "content_hash": packed.content_hash, "files": packed.files}
            store.audit(conn, by, "publish-version", course.id, detail)
        return Published(course.id, number, packed.content_hash, True), course
    raise UsageError(f"course {course.id}: other publishers keep writing new versions; try again")


def publish_cli(url: str, folder: Path, trusted_html: bool = False) -> Published:
    """``localmooc publish``: SQLite is migrated here (as ``serve`` does); PostgreSQL must be upgraded."""
    from sqlalchemy.engine import make_url

    store = Store(url)
    try:
        if make_url(url).get_backend_name() == "sqlite":
            store.upgrade()
        with store.read() as conn:
            if not rows.has_table(conn):
                raise UsageError(
                    "the database has no course_versions table: run 'localmooc db upgrade' first"
                )
        return publish(store, folder, "cli", trusted_html=trusted_html)[0]
    except DB_UNAVAILABLE as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise UsageError(f"the database cannot be reached: {first}") from None
    finally:
        store.dispose()


def version_lines(url: str) -> list[str]:
    """``db check``: the published version of every course, one line each."""
    from ...results.thaidate import format_datetime

    store = Store(url)
    try:
        with store.read() as conn:
            if not rows.has_table(conn):
                return []
            found = [rows.current(conn, cid) for cid in sorted(rows.newest(conn))]
    finally:
        store.dispose()
    return [
        f"course {v.course_id}: version {v.version} ({v.content_hash[:12]}), published "
        f"{format_datetime(v.published_at)} by {v.published_by}"
        for v in found
        if v is not None
    ]


# ---- one node


@dataclass
class Served:
    version: int
    content_hash: str
    folder: Path  # where its files are: the node's own folder, or the version unpacked in the cache
    origin: str  # "folder" or "database"


@dataclass
class Refusal:
    """A course this node does not serve: its folder holds content no published version has."""

    course_id: str
    folder: Path
    local_hash: str
    version: int
    published_hash: str
    course: LoadedCourse  # the folder's content, loaded (published as is by the admin's button)

    def message(self) -> str:
        return (
            f"course {self.course_id}: not served by this node: its folder {self.folder} holds content "
            f"{self.local_hash[:12]}, but the published version {self.version} is {self.published_hash[:12]}. "
            f"Either put version {self.version}'s files in the folder and restart, or publish this content "
            f"(admin page /admin/versions, or 'localmooc publish {self.folder} --db URL'); every node "
            "then serves it within seconds"
        )

    def texts(self) -> dict[str, str]:
        """What learners read (Thai first), with no hashes or paths."""
        return {
            "th": f"หลักสูตร {self.course_id} ยังไม่เปิดให้เรียนที่เครื่องนี้ เนื่องจากเนื้อหาในเครื่องไม่ตรงกับฉบับที่เผยแพร่ "
            f"(ฉบับที่ {self.version}) ผู้ดูแลระบบกำลังแก้ไข โปรดลองใหม่ภายหลัง",
            "en": f"The course {self.course_id} is not available on this server: its content differs from the "
            f"published version {self.version}. The administrators have been told; please try again later.",
        }


@dataclass
class _Ready:
    course_id: str
    course: LoadedCourse
    served: Served


class CourseVersions:
    """This worker's courses against the published versions (see the module's description)."""

    def __init__(
        self,
        courses: dict[str, LoadedCourse],
        store: Store,
        *,
        trusted_html: bool = False,
        poll: float = DEFAULT_POLL,
    ) -> None:
        self.courses = courses
        self.store = store
        self.trusted_html = trusted_html
        self.poll = poll
        self.origin = {cid: c.tree.source_dir for cid, c in courses.items()}
        self.served: dict[str, Served] = {}
        self.refused: dict[str, Refusal] = {}
        self.failed: dict[str, int] = {}  # course id -> a version that would not load (not retried)
        self.unchecked: dict[str, LoadedCourse] = {}  # held: the database was away at start
        self.enabled = True  # False on a database without the table (before `db upgrade`)
        self.cache = Path(tempfile.mkdtemp(prefix="localmooc-versions-"))
        self._task: asyncio.Task[None] | None = None

    # ---- start
    def check_at_start(self) -> list[str]:
        """Compare every course folder with the database (publishing version 1 of new courses); lines for
        people, one per course. With the database away, no course is served until it answers (the poll
        checks again): a node cannot know whether its content is the published one."""
        try:
            return self._check_all()
        except DB_UNAVAILABLE as exc:
            self.unchecked.update(self.courses)
            self.courses.clear()
            line = (
                f"course versions: database unreachable ({type(exc).__name__}); courses held until it answers"
            )
            log.warning(line)
            return [line]

    def _check_all(self) -> list[str]:
        with self.store.read() as conn:
            self.enabled = rows.has_table(conn)
        if not self.enabled:
            self.courses.update(self.unchecked)
            self.unchecked.clear()
            line = (
                "course versions: the database has no course_versions table (run 'localmooc db upgrade'); "
                "serving the folders as they are"
            )
            log.warning(line)
            return [line]
        lines = []
        for cid in sorted(set(self.courses) | set(self.unchecked)):
            course = self.courses.get(cid) or self.unchecked[cid]
            line = self._check_one(cid, course)
            if cid in self.unchecked and cid not in self.refused and cid not in self.courses:
                self.courses[cid] = self.unchecked[cid]
            self.unchecked.pop(cid, None)
            lines.append(line)
        return lines

    def _check_one(self, cid: str, course: LoadedCourse) -> str:
        folder = self.origin[cid]
        local = content_hash(folder)
        with self.store.read() as conn:
            history = rows.history(conn, cid)
        if not history:
            done, _ = publish(self.store, folder, "node-start", course=course)
            if done.content_hash == local:
                self.served[cid] = Served(done.version, local, folder, "folder")
                return f"course {cid}: published as version {done.version} ({local[:12]}) by this node"
            with self.store.read() as conn:  # another node published other content first
                history = rows.history(conn, cid)
        newest = history[0]
        if cid in self.unchecked:
            self.courses[cid] = course  # back in the dict; refused or swapped below like any other
        if newest.content_hash == local:
            self.served[cid] = Served(newest.version, local, folder, "folder")
            return f"course {cid}: version {newest.version} ({local[:12]})"
        older = next((v.version for v in history if v.content_hash == local), None)
        if older is not None:
            ready = self._prepare(cid, newest.version)
            if ready is not None:
                self._swap(ready)
                line = (
                    f"course {cid}: the folder holds version {older}; serving the published version "
                    f"{newest.version} ({newest.content_hash[:12]}) from the database"
                )
                log.warning(line)
                return line
        refusal = Refusal(cid, folder, local, newest.version, newest.content_hash, course)
        self.refused[cid] = refusal
        del self.courses[cid]
        log.error(refusal.message())
        return refusal.message()

    # ---- following the database
    def _newest(self) -> dict[str, int]:
        with self.store.read() as conn:
            return rows.newest(conn)

    def due(self, newest: dict[str, int]) -> dict[str, int]:
        """Courses of this node with a newer published version than it serves (or refused at)."""
        out = {}
        for cid, n in newest.items():
            if self.failed.get(cid) == n:
                continue
            at = self.served[cid].version if cid in self.served else None
            if cid in self.refused:
                at = self.refused[cid].version
            if at is not None and n > at:
                out[cid] = n
        return out

    def _prepare(self, cid: str, version: int) -> _Ready | None:
        """Fetch, unpack, verify and load ``version`` (off the event loop); None when it cannot be."""
        with self.store.read() as conn:
            info = next((v for v in rows.history(conn, cid) if v.version == version), None)
            data = rows.archive(conn, cid, version) if info else None
        if info is None or data is None:
            return None
        refused = self.refused.get(cid)
        if refused is not None and refused.local_hash == info.content_hash:  # this node's own content
            return _Ready(cid, refused.course, Served(version, info.content_hash, refused.folder, "folder"))
        dest = self.cache / cid / f"v{version}"
        shutil.rmtree(dest, ignore_errors=True)
        try:
            unpack(data, dest, info.content_hash)
            course = load_course_dir(dest, self.trusted_html)
            if course.id != cid:
                raise UsageError(f"the archive holds course {course.id!r}")
        except (LocalMoocError, OSError) as exc:
            self.failed[cid] = version
            shutil.rmtree(dest, ignore_errors=True)
            log.error("course %s: version %d not taken up: %s", cid, version, exc)
            return None
        return _Ready(cid, course, Served(version, info.content_hash, dest, "database"))

    def _swap(self, ready: _Ready) -> None:
        """On the event loop (or before it runs): one dict assignment, so a request sees either version."""
        cid = ready.course_id
        old = self.served.get(cid)
        self.courses[cid] = ready.course
        self.served[cid] = ready.served
        self.refused.pop(cid, None)
        log.warning(
            "course %s: now serving version %d (%s)",
            cid,
            ready.served.version,
            ready.served.content_hash[:12],
        )
        # Keep the version just replaced (requests in flight may still read its static files), drop older.
        keep = {ready.served.folder, old.folder if old else None}
        for path in (self.cache / cid).glob("v*") if (self.cache / cid).is_dir() else []:
            if path not in keep:
                shutil.rmtree(path, ignore_errors=True)

    async def poll_once(self) -> list[str]:
        """Take up every newer published version; the course ids swapped."""
        if self.unchecked:  # the database was away at start: the start-up check, now (on the loop)
            self._check_all()
        if not self.enabled:
            return []
        due = self.due(await asyncio.to_thread(self._newest))
        swapped = []
        for cid, version in sorted(due.items()):
            ready = await asyncio.to_thread(self._prepare, cid, version)
            if ready is not None:
                self._swap(ready)
                swapped.append(cid)
        return swapped

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.poll_once()
            except DB_UNAVAILABLE:  # the database is away: the next round tries again
                continue
            except Exception:  # a bug must not stop the node from following later versions
                log.exception("course versions: poll failed")

    async def start(self) -> None:
        if (self.enabled or self.unchecked) and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        shutil.rmtree(self.cache, ignore_errors=True)

    # ---- the admin's action on this node
    async def publish_folder(self, cid: str, by: str) -> Published:
        """Publish what this node's folder of ``cid`` holds now (validated), and serve it here at once."""
        folder = self.origin.get(cid)
        if folder is None:
            raise UsageError(f"course {cid} is not one of this node's courses")
        done, course = await asyncio.to_thread(
            lambda: publish(self.store, folder, by, trusted_html=self.trusted_html, course_id=cid)
        )
        serving = self.served.get(cid)
        if cid in self.refused or serving is None or serving.content_hash != done.content_hash:
            # This folder is the published version now: serve it here without waiting for the poll.
            self._swap(_Ready(cid, course, Served(done.version, done.content_hash, folder, "folder")))
        return done

    # ---- what operators see
    def status(self) -> dict[str, str]:
        out = {}
        for cid, s in sorted(self.served.items()):
            where = "" if s.origin == "folder" else ", from the database"
            out[cid] = f"version {s.version} ({s.content_hash[:12]}{where})"
        for cid, r in sorted(self.refused.items()):
            out[cid] = (
                f"refused: this node's content {r.local_hash[:12]} is not the published version "
                f"{r.version} ({r.published_hash[:12]})"
            )
        return out

    def folder_hash(self, cid: str) -> str | None:
        folder = self.origin.get(cid)
        try:
            return content_hash(folder) if folder else None
        except OSError:
            return None


def report_at_start(url: str, courses: dict[str, LoadedCourse]) -> list[str]:
    """``serve``, before its workers start: the same check, once, for the operator's console (and the
    first publication of a new course, so the workers do not race for it)."""
    store = Store(url)
    try:
        node = CourseVersions(dict(courses), store)
        said = node.check_at_start()
        if node.unchecked or not node.enabled:
            return said
        lines = []
        for cid, s in sorted(node.served.items()):
            if s.origin == "folder":
                lines.append(f"course {cid}: version {s.version} ({s.content_hash[:12]})")
            else:
                lines.append(f"course {cid}: serving the published version {s.version} from the database")
        lines += [f"REFUSED {r.message()}" for r in node.refused.values()]
        shutil.rmtree(node.cache, ignore_errors=True)
        return lines
    finally:
        store.dispose()
