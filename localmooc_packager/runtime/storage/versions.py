"""Published course versions: what every node serves, as one row per version with its exact bytes.

A version is immutable once written: (course id, version number) is the key, the content hash says what
the folder held, ``archive`` is the deterministic tar.gz of that folder (``services/versions.pack``) so a
node that lacks the files can unpack exactly what was published, and ``blocks`` is the course's block id ->
block type map, for the learner-state rule checked at publish. The newest version of a course is the
published one; nothing is ever updated or deleted here (a rollback is publishing the old content again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError

from .schema import aware, metadata, now

course_versions = Table(
    "course_versions",
    metadata,
    Column("course_id", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content_hash", String(64), nullable=False),  # sha256 of the files (services/versions.py)
    Column("archive", LargeBinary, nullable=False),  # deterministic tar.gz of the course folder
    Column("archive_size", Integer, nullable=False),
    Column("files", Integer, nullable=False),
    Column("blocks", Text, nullable=False),  # JSON {block id: block type}
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("published_by", String(64), nullable=False),  # an admin's learner id, or "cli" / "node-start"
)


@dataclass(frozen=True)
class VersionInfo:
    """One version without its archive (what the poll and the pages need)."""

    course_id: str
    version: int
    content_hash: str
    archive_size: int
    files: int
    blocks: dict[str, str]
    published_at: datetime
    published_by: str


_INFO = (
    course_versions.c.course_id,
    course_versions.c.version,
    course_versions.c.content_hash,
    course_versions.c.archive_size,
    course_versions.c.files,
    course_versions.c.blocks,
    course_versions.c.published_at,
    course_versions.c.published_by,
)


def _info(row: object) -> VersionInfo:
    r = row._mapping  # type: ignore[attr-defined]
    return VersionInfo(
        r["course_id"],
        r["version"],
        r["content_hash"],
        r["archive_size"],
        r["files"],
        json.loads(r["blocks"]),
        aware(r["published_at"]) or now(),
        r["published_by"],
    )


def has_table(conn: Connection) -> bool:
    return inspect(conn).has_table("course_versions")


def newest(conn: Connection) -> dict[str, int]:
    """course id -> its published (newest) version number: the poll's one cheap query (primary key)."""
    q = select(course_versions.c.course_id, func.max(course_versions.c.version)).group_by(
        course_versions.c.course_id
    )
    return {cid: int(v) for cid, v in conn.execute(q)}


def history(conn: Connection, course_id: str) -> list[VersionInfo]:
    """Every version of a course, newest first, without the archives."""
    q = (
        select(*_INFO)
        .where(course_versions.c.course_id == course_id)
        .order_by(course_versions.c.version.desc())
    )
    return [_info(r) for r in conn.execute(q)]


def current(conn: Connection, course_id: str) -> VersionInfo | None:
    rows = history(conn, course_id)
    return rows[0] if rows else None


def archive(conn: Connection, course_id: str, version: int) -> bytes | None:
    q = select(course_versions.c.archive).where(
        course_versions.c.course_id == course_id, course_versions.c.version == version
    )
    value = conn.execute(q).scalar()
    return bytes(value) if value is not None else None


class RaceLost(Exception):
    """Another publisher wrote the same version number first (the caller re-reads and decides)."""


def insert(
    conn: Connection,
    course_id: str,
    version: int,
    content_hash: str,
    data: bytes,
    files: int,
    blocks: dict[str, str],
    by: str,
) -> None:
    """Write version ``version``; a concurrent writer of the same number makes this raise ``RaceLost``."""
    try:
        with conn.begin_nested():
            conn.execute(
                course_versions.insert().values(
                    course_id=course_id,
                    version=version,
                    content_hash=content_hash,
                    archive=data,
                    archive_size=len(data),
                    files=files,
                    blocks=json.dumps(blocks, sort_keys=True),
                    published_at=now(),
                    published_by=by,
                )
            )
    except IntegrityError:
        raise RaceLost(course_id) from None
