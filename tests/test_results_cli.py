"""`localmooc qr`, `poster` and `report` as a user runs them (a real subprocess): files, exit codes, messages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from PIL import Image
from results_support import ROOT, artifact, pdftoppm, pdftotext
from test_results_report import seed

from localmooc_packager.results.poster import QR_SIZE, QR_TOP, registration_url

SAMPLES = ROOT / "sample_courses"


def run(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "localmooc_packager", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def modules_match(img: Image.Image, data: str, left: float, top: float, module: float) -> int:
    """How many modules of the QR for ``data`` differ from the picture (pixel coordinates)."""
    matrix = [list(row) for row in segno.make_qr(data, error="m").matrix]
    wrong = 0
    for r, row in enumerate(matrix):
        for c, bit in enumerate(row):
            dark = img.getpixel((round(left + (c + 0.5) * module), round(top + (r + 0.5) * module))) < 128
            wrong += dark != bool(bit)
    return wrong


def test_qr_png_and_svg(tmp_path: Path) -> None:
    url = "https://mooc.example.go.th/register?org_type=public&province=Krabi"
    code, out, err = run("qr", url, "-o", str(tmp_path / "q.png"), "--scale", "4")
    assert (code, err) == (0, "")
    assert out.startswith("wrote ")
    img = Image.open(tmp_path / "q.png").convert("L")
    n = len(segno.make_qr(url, error="m").matrix)
    assert img.size == ((n + 8) * 4, (n + 8) * 4)
    assert modules_match(img, url, 16, 16, 4) == 0
    code, _out, err = run("qr", url, "-o", str(tmp_path / "q.svg"))
    assert code == 0, err
    assert ET.parse(tmp_path / "q.svg").getroot().tag == "{http://www.w3.org/2000/svg}svg"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["https://x.example", "-o", "q.gif"], "the QR file must end in .png or .svg"),
        (["https://x.example", "-o", "no/such/dir/q.png"], "folder no/such/dir does not exist"),
        (["x" * 3000, "-o", "q.png"], "3000 bytes is too long for a QR code"),
    ],
)
def test_qr_errors(args: list[str], message: str, tmp_path: Path) -> None:
    code, _out, err = run("qr", *args)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not (ROOT / "q.png").exists() and not (ROOT / "q.gif").exists()


def test_registration_url() -> None:
    url = registration_url("https://mooc.example.go.th/", "pdpa-local-gov", "local-admin-org", "เชียงใหม่")
    assert url == (
        "https://mooc.example.go.th/register?org_type=local-admin-org&province=Chiang+Mai"
        "&next=%2Fcourses%2Fpdpa-local-gov%2Fenrol"
    )
    with_org = registration_url("http://127.0.0.1:8000", "c1", "public", "Krabi", "บ้านนา")
    assert parse_qs(urlsplit(with_org).query) == {
        "org_type": ["public"],
        "province": ["Krabi"],
        "organisation": ["บ้านนา"],
        "next": ["/courses/c1/enrol"],
    }


def test_poster_pages_text_and_qr(tmp_path: Path) -> None:
    out = artifact("poster.pdf")
    code, stdout, err = run(
        "poster",
        str(SAMPLES / "pdpa-for-local-government"),
        str(SAMPLES / "local-budget-basics"),
        "--base-url",
        "https://mooc.example.go.th",
        "--org-type",
        "local-admin-org",
        "--province",
        "เชียงใหม่",
        "--organisation",
        "เทศบาลนครเชียงใหม่",
        "--logo",
        str(ROOT / "tests/fixtures/results/logo.svg"),
        "-o",
        str(out),
    )
    assert code == 0, err
    assert stdout.strip().endswith("(2 pages)")
    # Poppler puts a space inside sara am (drawn as two glyphs): compare without white space.
    text = re.sub(r"\s", "", pdftotext(out).replace("\u200b", ""))
    assert "สำหรับเทศบาลนครเชียงใหม่จังหวัดเชียงใหม่" in text
    assert "หรือเปิดhttps://mooc.example.go.th/register" in text
    assert text.count("สแกนQRเพื่อสมัครและลงทะเบียนเรียนหลักสูตรนี้") == 2
    dpi = 150
    mm = dpi / 25.4
    for page, course in ((1, "pdpa-local-gov"), (2, "local-budget-basics")):
        img = pdftoppm(out, artifact(f"poster-{page}.png"), dpi=dpi, page=page)
        assert img.size == (1241, 1754)  # A4 portrait
        url = registration_url(
            "https://mooc.example.go.th", course, "local-admin-org", "เชียงใหม่", "เทศบาลนครเชียงใหม่"
        )
        n = len(segno.make_qr(url, error="m").matrix)
        module = QR_SIZE / (n + 8) * mm
        left, top = (210 - QR_SIZE) / 2 * mm + 4 * module, QR_TOP * mm + 4 * module
        assert modules_match(img, url, left, top, module) == 0, page


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--org-type", "village"], "--org-type 'village': not one of dla-central, dla-provincial"),
        (["--province", "เชียงใหม"], "did you mean 'เชียงใหม่'?"),
        (["--base-url", "mooc.example.go.th"], "use an absolute http:// or https:// address"),
        (["--logo", "nope.png"], "--logo nope.png: no such file"),
        (["-o", "poster.png"], "the poster is a PDF; name it *.pdf"),
    ],
)
def test_poster_errors(extra: list[str], message: str) -> None:
    args = {"--base-url": "https://m.example", "--org-type": "public", "--province": "Krabi", "-o": "p.pdf"}
    for i in range(0, len(extra), 2):
        args[extra[i]] = extra[i + 1]
    flat = [x for kv in args.items() for x in kv]
    code, _out, err = run("poster", str(SAMPLES / "local-budget-basics"), *flat)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not (ROOT / "p.pdf").exists() and not (ROOT / "poster.png").exists()


def test_report_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    seed(url)
    out = tmp_path / "r.json"
    code, stdout, err = run(
        "report",
        "--round",
        "2564/2",
        "--format",
        "json",
        "-o",
        str(out),
        "--db",
        url,
        "--courses-dir",
        "sample_courses",
    )
    assert code == 0, err
    assert stdout.startswith("2564/2: 5 completions by 4 learners, 13 hours -> ")
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["grand_total"] == {"learners": 4, "completions": 5, "hours": 13.0, "erased_completions": 1}
    code, stdout, err = run(
        "report",
        "--round",
        "2564/2",
        "--province",
        "ลำพูน",
        "--course",
        "budget",
        "-o",
        str(tmp_path / "r.csv"),
        "--db",
        url,
    )
    assert code == 0, err
    assert "1 completions by 1 learners, 3 hours" in stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--round", "2021/2"], 2, "2021 looks like a C.E. year"),
        (["--round", "2564-2"], 2, "expected FISCAL-YEAR/ROUND in B.E., e.g. 2564/2"),
        (["--round", "2564/2", "--db", "sqlite:///no/such.db"], 2, "no SQLite database at no/such.db"),
        (["--round", "2564/2", "--db", "nonsense"], 2, "not a database URL"),
        (["--round", "2564/2", "--db", "sqlite:///{empty}"], 1, "no such table"),
        (["--round", "2564/2", "--format", "pdf"], 2, "'pdf' is not one of 'csv', 'xlsx', 'json'"),
    ],
)
def test_report_errors(args: list[str], code: int, message: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    args = [a.replace("{empty}", str(empty)) for a in args]
    out = tmp_path / "r.csv"
    got, _out, err = run("report", *args, "-o", str(out))
    assert got == code, err
    assert message in err and "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["empty.db"]  # no temporary file left behind
