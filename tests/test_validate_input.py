"""What `localmooc validate` does with files: misnamed archives exit 1 saying what they are, archives are
read in place, 20,000-member archives included."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import pytest
from test_cli import run

from localmooc_packager.validators import validate_path

from conftest import FIXTURES, ROOT, pack_folder

sys.path.insert(0, str(ROOT / "benchmarks"))
import big_archives

VALID_OLX = FIXTURES / "olx" / "valid"
SCORM12 = FIXTURES / "scorm" / "valid-scorm12.zip"
TGZ = FIXTURES / "hostile" / "tar_dotdot.tar.gz"

# (file name, how to make its bytes, extra args, message)
MISNAMED = [
    ("notes.zip", lambda: b"hello, not a zip\n", [], "named like a zip archive, but it is a text file"),
    ("empty.zip", lambda: b"", [], "named like a zip archive, but it is an empty file (0 bytes)"),
    (
        "course.zip",
        lambda: TGZ.read_bytes(),
        [],
        "named like a zip archive, but it is a gzip-compressed tar archive (.tar.gz)",
    ),
    (
        "course.tar.gz",
        lambda: SCORM12.read_bytes(),
        [],
        "named like a tar archive (.tar, .tar.gz, .tgz), but it is a zip archive",
    ),
    ("photo.zip", lambda: b"\x89PNG\r\n\x1a\n" + bytes(30), [], "but it is a PNG image"),
    ("notes.zip", lambda: b"text", ["--as", "olx"], "named like a zip archive, but it is a text file"),
    ("notes.zip", lambda: b"text", ["--as", "scorm"], "named like a zip archive, but it is a text file"),
    (
        "readme.md",
        lambda: "# ภาษาไทย\n".encode(),
        [],
        "not a folder, zip or tar archive this tool can validate",
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "args", "message"), MISNAMED, ids=[f"{m[0]}{m[2]}" for m in MISNAMED]
)
def test_a_file_that_is_not_what_its_name_says_exits_1(
    tmp_path: Path, name: str, make, args: list[str], message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(make())
    code, _, err = run(["validate", *args, str(path)])
    assert code == 1, err
    assert message in err
    assert name in err
    assert "Traceback" not in err


def test_a_tar_given_as_scorm_says_scorm_needs_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "course.tar.gz"
    pack_folder(VALID_OLX, archive)
    code, _, err = run(["validate", "--as", "scorm", str(archive)])
    assert code == 1
    assert (
        "not a zip archive: it is a gzip-compressed tar archive (.tar.gz) (SCORM packages are zip files)"
        in err
    )


def test_offline_flag_turns_network_warnings_into_errors(tmp_path: Path) -> None:
    package = FIXTURES / "scorm" / "cdn-script.zip"
    code, out, err = run(["validate", str(package)])
    assert code == 0, err
    assert "valid (0 errors, 1 warning)" in out
    assert "see --offline" in err
    code, out, err = run(["validate", "--offline", str(package)])
    assert code == 1
    assert "INVALID (1 error, 0 warnings)" in out
    assert "page2.html:8: <script src> loads https://cdn.jsdelivr.net/" in err


# ---- 20,000 members


@pytest.mark.parametrize(
    ("name", "make", "kind"),
    [
        ("big.zip", big_archives.scorm_zip, "scorm"),
        ("big.tar.gz", partial(big_archives.olx_targz, valid_olx=VALID_OLX), "olx"),
    ],
)
def test_20000_member_archive_is_read_in_place(tmp_path: Path, name: str, make, kind: str) -> None:
    # Its time is measured by `benchmarks/run.py --only archives`, not asserted here.
    archive = tmp_path / name
    make(archive)
    detected, report = validate_path(archive)
    assert detected == kind
    assert report.errors == [], "\n".join(map(str, report.errors[:5]))
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing extracted next to it
