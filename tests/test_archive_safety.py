"""Hostile archives (tests/fixtures/hostile, made by make_fixtures.py) must be refused quickly and harmlessly."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from localmooc_packager.archive import ArchiveLimits, extract_archive, is_archive
from localmooc_packager.errors import InvalidInputError, UnsafeInputError, UsageError
from localmooc_packager.validators.olx import validate_olx

from conftest import pack_folder

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
VALID_OLX = Path(__file__).parent / "fixtures" / "olx" / "valid"

# (fixture, exact exception type, member named in the message, reason in the message)
REFUSED = [
    ("zip_slip.zip", UnsafeInputError, "../../evil_zip_slip.txt", "path traversal"),
    ("tar_dotdot.tar.gz", UnsafeInputError, "course/../../evil_dotdot.txt", "path traversal"),
    ("tar_absolute.tar", UnsafeInputError, "/tmp/evil_absolute.txt", "absolute member name"),
    ("tar_symlink.tar", UnsafeInputError, "'static'", "symbolic link to '../../../../tmp' (links are never"),
    ("zip_symlink.zip", UnsafeInputError, "static/link", "symbolic link (links are never extracted)"),
    ("tar_hardlink.tar", UnsafeInputError, "'passwd'", "hard link to '/etc/passwd' (links are never"),
    ("tar_device.tar", UnsafeInputError, "dev/null", "device file or FIFO"),
    ("tar_fifo.tar", UnsafeInputError, "'pipe'", "device file or FIFO"),
    ("zip_duplicate.zip", UnsafeInputError, "course.xml", "duplicate member"),
    ("tar_duplicate.tar", UnsafeInputError, "./course.xml", "duplicate member"),
    ("zip_case.zip", UnsafeInputError, "Course.xml", "only in letter case"),
    ("tar_case.tar", UnsafeInputError, "static/b.txt", "only in letter case"),
    ("tar_non_utf8.tar", UnsafeInputError, r"static/bad_\xff\xfe.txt", "not valid UTF-8"),
    ("zip_non_utf8.zip", UnsafeInputError, r"static/bad_\xff\xfe.txt", "not valid UTF-8"),
    ("zip_bomb.zip", UnsafeInputError, "bomb.bin", "compression ratio above 200:1 (zip bomb)"),
    (
        "gzip_bomb.tar.gz",
        UnsafeInputError,
        "bomb.bin",
        "compression ratio above 200:1 (gzip/compression bomb)",
    ),
    ("truncated.tar.gz", InvalidInputError, "", "corrupt or truncated archive"),
    ("corrupt.zip", InvalidInputError, "", "corrupt or truncated archive"),
]

# Where the traversal fixtures would write if they got through.
ESCAPES = [Path("/tmp/evil_absolute.txt"), Path("/tmp/evil_symlink.txt"), Path("/etc/passwd_copy")]


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize(("fixture", "error", "member", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_hostile_archive_is_refused_fast_and_writes_nothing_outside(
    tmp_path: Path, fixture: str, error: type[Exception], member: str, reason: str
) -> None:
    # target sits two levels down so that '../../x' would land inside tmp_path, where the snapshot sees it.
    base = tmp_path / "a" / "b"
    target = base / "target"
    canary = base / "canary"
    target.mkdir(parents=True)
    canary.mkdir()
    (canary / "keep.txt").write_text("canary\n")
    before = _snapshot(tmp_path)
    escapes_before = {p: p.exists() for p in ESCAPES}

    started = time.monotonic()
    with pytest.raises(InvalidInputError) as caught:
        extract_archive(HOSTILE / fixture, target)
    elapsed = time.monotonic() - started

    assert type(caught.value) is error
    message = str(caught.value)
    assert fixture in message
    assert member in message
    assert reason in message
    assert elapsed < 5.0
    assert list(target.iterdir()) == []  # refused archives leave the target empty
    assert _snapshot(tmp_path) == before  # canary untouched, nothing new next to or above the target
    assert {p: p.exists() for p in ESCAPES} == escapes_before


@pytest.mark.parametrize("fixture", sorted(p.name for p in HOSTILE.iterdir() if p.suffix != ".py"))
def test_every_hostile_fixture_is_small_and_recognised(fixture: str) -> None:
    path = HOSTILE / fixture
    assert path.stat().st_size < 200_000
    assert is_archive(path) is True


@pytest.mark.parametrize("name", ["course.tar.gz", "course.zip"])
def test_ordinary_archive_extracts_every_file_unchanged(tmp_path: Path, name: str) -> None:
    archive = tmp_path / name
    pack_folder(VALID_OLX, archive, top="course/")
    dest = tmp_path / "out"
    dest.mkdir()
    assert extract_archive(archive, dest) == dest
    extracted = {
        p.relative_to(dest / "course").as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()
    }
    original = {
        p.relative_to(VALID_OLX).as_posix(): p.read_bytes() for p in VALID_OLX.rglob("*") if p.is_file()
    }
    assert extracted == original
    assert all(not (p.stat().st_mode & 0o7000) for p in dest.rglob("*"))  # no setuid/setgid/sticky bits


# A zip's central directory declares sizes, so it is refused before any byte is written; a tar.gz stream
# has no such index, so its total is counted while streaming.
LIMITS = [
    ("course.zip", ArchiveLimits(max_members=3), "more than 3 members"),
    ("course.zip", ArchiveLimits(max_total_bytes=1000), "declared sizes exceed the total limit"),
    ("course.zip", ArchiveLimits(max_member_bytes=100), r"declares \d+ bytes, over the member limit"),
    ("course.tar.gz", ArchiveLimits(max_members=3), "more than 3 members"),
    ("course.tar.gz", ArchiveLimits(max_total_bytes=1000), "archive expands past 1000 bytes"),
    ("course.tar.gz", ArchiveLimits(max_member_bytes=100), r"declares \d+ bytes, over the member limit"),
]


@pytest.mark.parametrize(("name", "limits", "reason"), LIMITS)
def test_limits_refuse_the_archive_and_leave_the_target_empty(
    tmp_path: Path, name: str, limits: ArchiveLimits, reason: str
) -> None:
    archive = tmp_path / name
    pack_folder(VALID_OLX, archive)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeInputError, match=reason):
        extract_archive(archive, dest, limits)
    assert list(dest.iterdir()) == []


def test_total_limit_stops_a_tar_stream_midway(tmp_path: Path) -> None:
    # 40 incompressible members of 2 KiB: each passes on its own; the running total trips at 50 000 bytes.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(40):
            info = tarfile.TarInfo(f"static/f{i}.bin")
            data = os.urandom(2048)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    archive = tmp_path / "many.tar.gz"
    archive.write_bytes(buf.getvalue())
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeInputError, match="past 50000 bytes"):
        extract_archive(archive, dest, ArchiveLimits(max_total_bytes=50_000))


def test_destination_must_exist_and_be_empty(tmp_path: Path) -> None:
    archive = tmp_path / "course.zip"
    pack_folder(VALID_OLX, archive)
    with pytest.raises(UsageError, match="existing directory"):
        extract_archive(archive, tmp_path / "missing")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(UsageError, match="must be empty"):
        extract_archive(archive, full)


def test_is_archive_rejects_plain_files_and_folders(tmp_path: Path) -> None:
    text = tmp_path / "notes.tar.gz"
    text.write_text("not an archive, whatever the name says\n")
    assert is_archive(text) is False
    assert is_archive(tmp_path) is False
    assert is_archive(tmp_path / "missing.zip") is False
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InvalidInputError, match=r"not a tar, tar\.gz or zip archive"):
        extract_archive(text, dest)


# Hostile XML inside an otherwise harmless archive: the archive extracts, the XML parse refuses.
HOSTILE_XML = [
    ("xxe.tar.gz", "external entity 'xxe'"),
    ("billion_laughs.tar.gz", "entity amplification"),
    ("deep_nesting.tar.gz", "depth"),
]


@pytest.mark.parametrize(("fixture", "reason"), HOSTILE_XML, ids=[h[0] for h in HOSTILE_XML])
def test_hostile_xml_in_archive_is_reported_not_expanded(fixture: str, reason: str) -> None:
    started = time.monotonic()
    report = validate_olx(HOSTILE / fixture)
    assert time.monotonic() - started < 5.0
    problems = [(p.code, p.location.file) for p in report.errors]
    assert problems == [("olx-xml-invalid", "course.xml")]
    message = report.errors[0].message
    assert reason in message
    assert "root:" not in report.to_json()  # nothing from /etc/passwd leaked into the report
