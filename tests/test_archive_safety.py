"""Hostile archives (tests/fixtures/hostile, made by make_fixtures.py) must be refused quickly and harmlessly."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from localmooc_packager.archive import ArchiveLimits, describe_file, extract_archive, is_archive, open_archive
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

    with pytest.raises(InvalidInputError) as caught:
        extract_archive(HOSTILE / fixture, target)

    assert type(caught.value) is error
    message = str(caught.value)
    assert fixture in message
    assert member in message
    assert reason in message
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
    report = validate_olx(HOSTILE / fixture)
    problems = [(p.code, p.location.file) for p in report.errors]
    assert problems == [("olx-xml-invalid", "course.xml")]
    message = report.errors[0].message
    assert reason in message
    assert "root:" not in report.to_json()  # nothing from /etc/passwd leaked into the report


# ---- reading in place (validate): the same checks, nothing written


@pytest.mark.parametrize(("fixture", "error", "member", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_open_archive_refuses_what_extraction_refuses(
    fixture: str, error: type[Exception], member: str, reason: str
) -> None:
    with (
        pytest.raises(InvalidInputError) as caught,
        open_archive(HOSTILE / fixture, keep=lambda rel: True) as view,
    ):
        for rel in view.files:  # a bomb may only show when its bytes are read
            view.read(rel)
    assert type(caught.value) is error
    message = str(caught.value)
    assert fixture in message
    assert member in message
    assert reason in message


MEMBER_LEVEL = [r for r in REFUSED if r[1] is UnsafeInputError and "bomb" not in r[3]]


@pytest.mark.parametrize(
    ("fixture", "error", "member", "reason"), MEMBER_LEVEL, ids=[r[0] for r in MEMBER_LEVEL]
)
def test_lenient_reading_skips_the_refused_member_and_says_why(
    fixture: str, error: type[Exception], member: str, reason: str
) -> None:
    with open_archive(HOSTILE / fixture, lenient=True) as view:
        assert any(member.strip("'") in m and reason in r for m, r in view.refused), view.refused
        if "duplicate" not in reason:  # a duplicate's first copy stays readable, the second is skipped
            assert not {m for m, _ in view.refused} & set(view.files)


@pytest.mark.parametrize("name", ["course.tar.gz", "course.zip"])
def test_open_archive_reads_every_file_unchanged(tmp_path: Path, name: str) -> None:
    archive = tmp_path / name
    pack_folder(VALID_OLX, archive, top="course/")
    original = {
        f"course/{p.relative_to(VALID_OLX).as_posix()}": p.read_bytes()
        for p in VALID_OLX.rglob("*")
        if p.is_file()
    }
    with open_archive(archive) as view:
        assert set(view.files) == set(original)
        assert {rel: view.read(rel) for rel in view.files} == original
        assert "course/static" in view.dirs
        # A file over the caller's cap comes back as None, not truncated.
        big = max(original, key=lambda rel: len(original[rel]))
        assert view.read(big, limit=len(original[big]) - 1) is None
        with pytest.raises(FileNotFoundError):
            view.read("course/nowhere.xml")


def test_tar_members_not_kept_are_streamed_again(tmp_path: Path) -> None:
    archive = tmp_path / "course.tar.gz"
    pack_folder(VALID_OLX, archive)
    with open_archive(archive, keep=lambda rel: rel.endswith(".xml")) as view:
        assert isinstance(view.files["course.xml"], bytes)
        assert view.files["static/logo.png"] is None
        assert view.read("static/logo.png") == (VALID_OLX / "static" / "logo.png").read_bytes()


def test_validate_reads_archives_without_writing_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import localmooc_packager.archive as archive_module

    def no_extraction(*args: object, **kwargs: object) -> None:
        raise AssertionError("validate must not extract")

    monkeypatch.setattr(archive_module, "extract_archive", no_extraction)
    monkeypatch.setattr(archive_module, "_open_new", no_extraction)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    for name in ("course.tar.gz", "course.zip"):
        archive = tmp_path / name
        pack_folder(VALID_OLX, archive, top="course/")
        assert validate_olx(archive).errors == []
    assert list(scratch.iterdir()) == []


# What a file really is, from its first bytes (tar and gzip samples are built in the test).
DESCRIBED = [
    (b"", "an empty file (0 bytes)"),
    (b"hello\n", "a text file"),
    ("ข้อความภาษาไทย\n".encode(), "a text file"),
    (b"<?xml version='1.0'?><manifest/>", "an XML document (text)"),
    (b"<!DOCTYPE html><html></html>", "an HTML page (text)"),
    (b"\x89PNG\r\n\x1a\n" + bytes(20), "a PNG image"),
    (b"%PDF-1.7\n", "a PDF document"),
    (b"Rar!\x1a\x07\x00", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04", "a 7-Zip archive"),
    (b"PK\x05\x06" + bytes(18), "an empty zip archive"),
    (
        b"\x00\x01\x02\x03\xff\xfe\xfd\xfc" * 8,
        "binary data of unknown type (starts with 00 01 02 03 ff fe fd fc)",
    ),
]


@pytest.mark.parametrize(("data", "what"), DESCRIBED, ids=[d[1] for d in DESCRIBED])
def test_describe_file(tmp_path: Path, data: bytes, what: str) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(data)
    assert describe_file(path) == what


def test_describe_archives(tmp_path: Path) -> None:
    tgz = tmp_path / "c.tar.gz"
    pack_folder(VALID_OLX, tgz)
    assert describe_file(tgz) == "a gzip-compressed tar archive (.tar.gz)"
    zipped = tmp_path / "c.zip"
    pack_folder(VALID_OLX, zipped)
    assert describe_file(zipped) == "a zip archive"
    gz = tmp_path / "notes.gz"
    with gzip.open(gz, "wb") as f:
        f.write(b"just text")
    assert describe_file(gz) == "gzip-compressed data that is not a tar archive"
    plain_tar = tmp_path / "c.tar"
    with tarfile.open(plain_tar, "w") as tf:
        tf.add(VALID_OLX / "course.xml", "course.xml")
    assert describe_file(plain_tar) == "a tar archive (uncompressed)"


def test_read_many_matches_read_and_reports_a_bad_member(tmp_path: Path) -> None:
    archive = tmp_path / "pkg.zip"
    pages = {f"p/{i}.html": f"<p>หน้า {i}</p>".encode() * (i + 1) for i in range(20)}
    with zipfile.ZipFile(archive, "w") as zf:
        for i, (name, data) in enumerate(pages.items()):
            zf.writestr(name, data, zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED)
        zf.writestr("big.html", b"x" * 5000, zipfile.ZIP_DEFLATED)
    with open_archive(archive) as view:
        got = dict(view.read_many(list(view.files), limit=4000))
        assert got == {**pages, "big.html": None}  # over the limit: None, as read() says
        assert got == {rel: view.read(rel, 4000) for rel in view.files}
    # Flip one byte of a stored member's data: its CRC no longer matches.
    raw = bytearray(archive.read_bytes())
    at = raw.index("หน้า 0".encode())
    raw[at] ^= 0xFF
    archive.write_bytes(bytes(raw))
    with open_archive(archive) as view:
        got = dict(view.read_many(["p/0.html", "p/1.html"]))
    assert isinstance(got["p/0.html"], InvalidInputError)
    assert "bad CRC or size for 'p/0.html'" in str(got["p/0.html"])
    assert got["p/1.html"] == pages["p/1.html"]


def test_lenient_reading_still_refuses_the_whole_archive_over_a_limit(tmp_path: Path) -> None:
    archive = tmp_path / "course.zip"
    pack_folder(VALID_OLX, archive)
    with pytest.raises(UnsafeInputError, match=r"more than 3 members \(the limit; refused before reading\)"):
        open_archive(archive, ArchiveLimits(max_members=3), lenient=True)
