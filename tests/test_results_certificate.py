"""Thai certificates: shaped text proven on rasterised PDFs (poppler), the text layer, the QR code's modules,
Thai line breaking, templates, fonts and certificate numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import segno
import yaml
from PIL import Image, ImageChops
from results_support import ROOT, artifact, ink_components, pdftoppm, pdftotext

from localmooc_packager.errors import UsageError
from localmooc_packager.results import fonts
from localmooc_packager.results.certificate import (
    Certificate,
    CertificateTemplate,
    load_template,
    render,
    verification_url,
    write_pdf,
)
from localmooc_packager.results.certno import ALPHABET, check_char, new_number, normalise
from localmooc_packager.results.pdf import FAMILY, ZWSP, new_pdf, wrap_thai

FIXTURES = ROOT / "tests" / "fixtures" / "results"
SAMPLE = ROOT / "sample_courses" / "pdpa-for-local-government"
NAME = "นางสาวสุนีย์ ปิ่นทองคำ"


def render_cluster(text: str, shaping: bool, tag: str) -> Image.Image:
    """``text`` alone at 200 pt on an A4 page, rasterised at 50 dpi (big enough to see every mark)."""
    pdf = new_pdf(shaping=shaping)
    pdf.add_page()
    pdf.set_font(FAMILY, "", 200)
    pdf.set_xy(20, 40)
    pdf.cell(text=text)
    path = artifact(f"cluster-{tag}-{'shaped' if shaping else 'unshaped'}.pdf")
    path.write_bytes(bytes(pdf.output()))
    return pdftoppm(path, path.with_suffix(".png"), dpi=50)


def test_shaping_moves_the_upper_vowel_off_a_tall_consonant() -> None:
    # ป has an ascender on its right. Shaped (HarfBuzz, the font's GPOS), sara i and mai ek move left of it
    # and stay separate glyph shapes: three blobs of ink. Unshaped, sara i sits at its advance position and
    # runs into the ascender: the vowel and the consonant become one blob.
    shaped = ink_components(render_cluster("ปิ่", True, "po-i-ek"))
    unshaped = ink_components(render_cluster("ปิ่", False, "po-i-ek"))
    assert len(shaped) == 3, shaped
    assert len(unshaped) == 2, unshaped


def test_shaping_places_tone_marks_by_context() -> None:
    # Thai rule: a tone mark sits low over a bare consonant and is lifted above an upper vowel.
    def mark_top(text: str, shaping: bool) -> int:
        boxes = ink_components(render_cluster(text, shaping, f"{'-'.join(f'{ord(c):x}' for c in text)}"))
        return min(b[1] for b in boxes)  # the tone mark is the highest ink in both clusters

    bare_s, over_vowel_s = mark_top("ป่", True), mark_top("ปิ่", True)
    bare_n, over_vowel_n = mark_top("ป่", False), mark_top("ปิ่", False)
    assert bare_s - over_vowel_s >= 15, (bare_s, over_vowel_s)  # at 50 dpi and 200 pt: clearly lower
    assert bare_n == over_vowel_n  # without shaping the mark ignores its context


def cert(**kw: object) -> Certificate:
    sample = yaml.safe_load((SAMPLE / "course.yaml").read_text(encoding="utf-8"))
    values: dict[str, object] = {
        "number": "LM-2564-3H32-DMMB-39HM",
        "learner_name": NAME,
        "course_title": sample["title"],
        "credited_hours": sample["hours"],
        "certified_at": datetime(2021, 9, 30, 9, 15, tzinfo=UTC),
        "course_certificate_title": sample["certificate"]["title"],
    }
    values.update(kw)
    return Certificate(**values)  # type: ignore[arg-type]


def test_certificate_pdf_carries_everything_in_shaped_thai() -> None:
    template = load_template(FIXTURES / "template.yaml")
    c = cert()
    pdf_path = artifact("certificate.pdf")
    write_pdf(render(c, template), pdf_path)
    shaped = pdftoppm(pdf_path, artifact("certificate.png"), dpi=60)
    flat_path = artifact("certificate-unshaped.pdf")
    write_pdf(render(c, template, shaping=False), flat_path)
    flat = pdftoppm(flat_path, artifact("certificate-unshaped.png"), dpi=60)
    assert shaped.size == flat.size == (702, 497)  # A4 landscape at 60 dpi
    # Same layout, different glyph positions: the pictures differ, in the text area only.
    diff = ImageChops.difference(shaped, flat).getbbox()
    assert diff is not None, "shaping changed nothing"

    # Shaping moved glyphs within the text lines only; the QR square (vector) is the same picture.
    qr_box = (40, 370, 125, 455)
    assert ImageChops.difference(shaped.crop(qr_box), flat.crop(qr_box)).getbbox() is None

    # The text layer (what search, copy and screen readers get) is the Thai text itself. Poppler puts a
    # space inside sara am (the font draws it as two glyphs), so spaces are left out of the comparison.
    text = re.sub(r"\s", "", pdftotext(pdf_path).replace(ZWSP, ""))
    for expected in (
        "วุฒิบัตร",  # the sample course's own certificate title wins over the template's เกียรติบัตร
        "นางสาวสุนีย์",
        "ปิ่นทองคำ",
        "การคุ้มครองข้อมูลส่วนบุคคลสำหรับองค์กรปกครองส่วนท้องถิ่น",
        "จำนวน ๒ ชั่วโมง",
        "ให้ไว้ ณ วันที่ ๓๐ กันยายน พ.ศ. ๒๕๖๔",
        "วันที่สามสิบ เดือนกันยายน พุทธศักราช สองพันห้าร้อยหกสิบสี่",
        "LM-2564-3H32-DMMB-39HM",
        "องค์การบริหารส่วนจังหวัดตัวอย่าง",
        "(นายสมศักดิ์ ใจซื่อ)",
    ):
        assert re.sub(r"\s", "", expected) in text, expected
    assert "เกียรติบัตร" not in text


def test_certificate_qr_encodes_the_verification_url() -> None:
    template = CertificateTemplate(verify_base_url="https://mooc.example.go.th/")
    c = cert()
    path = artifact("certificate-qr.pdf")
    write_pdf(render(c, template), path)
    dpi = 300
    page = pdftoppm(path, artifact("certificate-qr.png"), dpi=dpi)
    url = verification_url(template.verify_base_url, c.number)
    assert url == "https://mooc.example.go.th/verify/LM-2564-3H32-DMMB-39HM"
    matrix = [list(row) for row in segno.make_qr(url, error="m").matrix]
    n = len(matrix)
    # The QR's square (20 mm from the left, 50 mm above the bottom, 30 mm wide with a 4-module quiet zone).
    mm = dpi / 25.4
    module = 30 / (n + 8)
    x0, y0 = 20, 210 - 50
    wrong = 0
    for r in range(n):
        for col in range(n):
            cx = (x0 + (col + 4.5) * module) * mm
            cy = (y0 + (r + 4.5) * module) * mm
            dark = page.getpixel((round(cx), round(cy))) < 128
            wrong += dark != bool(matrix[r][col])
    assert wrong == 0, f"{wrong} of {n * n} modules differ"


def test_thai_lines_break_between_words() -> None:
    from fpdf.enums import MethodReturnValue
    from pythainlp.tokenize import word_tokenize

    title = "การบริหารงานบุคคลส่วนท้องถิ่นและการประเมินผลการปฏิบัติราชการของพนักงานส่วนตำบลในจังหวัดเชียงใหม่"
    pdf = new_pdf()
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 24)

    def lines(text: str) -> list[str]:
        out = pdf.multi_cell(150, 10, text, dry_run=True, output=MethodReturnValue.LINES)
        return [line.replace(ZWSP, "") for line in out]

    cuts: set[int] = set()
    pos = 0
    for word in word_tokenize(title, engine="newmm"):
        pos += len(word)
        cuts.add(pos)

    def ends(parts: list[str]) -> list[int]:
        return [sum(len(p) for p in parts[: i + 1]) for i in range(len(parts) - 1)]

    wrapped = lines(wrap_thai(title))
    assert len(wrapped) >= 2 and "".join(wrapped) == title
    assert all(end in cuts for end in ends(wrapped)), wrapped
    raw = lines(title)  # fpdf2 alone: a line without spaces is cut wherever the width runs out
    assert "".join(raw) == title
    assert any(end not in cuts for end in ends(raw)), raw


def test_wrap_thai_leaves_non_thai_text_alone() -> None:
    assert wrap_thai("Local MOOC 2564") == "Local MOOC 2564"
    assert wrap_thai("ได้ผ่านการเรียน") == f"ได้{ZWSP}ผ่าน{ZWSP}การเรียน"
    assert wrap_thai("นาย สมชาย") == f"นาย สม{ZWSP}ชาย"


def test_template_yaml_and_its_errors(tmp_path: Path) -> None:
    t = load_template(FIXTURES / "template.yaml")
    assert t.logo == (FIXTURES / "logo.svg").resolve()
    assert t.signatory_position == "นายกองค์การบริหารส่วนจังหวัดตัวอย่าง"
    bad = tmp_path / "t.yaml"
    bad.write_text("organisation: x\nsignatory: y\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"unknown template field\(s\) signatory; known: font_family"):
        load_template(bad)
    bad.write_text("logo: missing.png\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"logo .*missing.png: no such file"):
        load_template(bad)
    with pytest.raises(UsageError, match="must start with http"):
        CertificateTemplate(verify_base_url="mooc.example.go.th")


def test_missing_thai_font_names_the_debian_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fonts, "FONT_DIRS", (tmp_path,))
    monkeypatch.delenv("LOCALMOOC_FONT_DIR", raising=False)
    with pytest.raises(fonts.FontMissingError) as info:
        fonts.find_thai_font()
    assert "apt-get install fonts-tlwg-laksaman-ttf" in str(info.value)
    assert "fonts-thai-tlwg-ttf" in str(info.value)
    assert info.value.exit_code == 1
    # A folder named by LOCALMOOC_FONT_DIR is searched first.
    (tmp_path / "Loma.ttf").write_bytes(b"")  # only its presence matters to the lookup
    monkeypatch.setenv("LOCALMOOC_FONT_DIR", str(tmp_path))
    assert fonts.find_thai_font().regular == tmp_path / "Loma.ttf"


def test_default_font_is_laksaman_when_installed() -> None:
    if not Path("/usr/share/fonts/truetype/tlwg/Laksaman.ttf").is_file():
        pytest.fail("fonts-tlwg-laksaman-ttf is not installed (./run.sh test installs it)")
    f = fonts.find_thai_font()
    assert (f.family, f.bold.name) == ("Laksaman", "Laksaman-Bold.ttf")


def test_certificate_numbers() -> None:
    numbers = {new_number(2564) for _ in range(2000)}
    assert len(numbers) == 2000
    for number in list(numbers)[:50]:
        assert re.fullmatch(
            r"LM-2564-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", number
        )
        assert normalise(number) == number
        assert normalise(number.lower().replace("-", " ")) == number
    assert new_number(2565, prefix="PAO").startswith("PAO-2565-")
    with pytest.raises(ValueError, match="2-8 ASCII capital letters"):
        new_number(2564, prefix="อปท")


def test_certificate_number_check_char_catches_every_single_typo() -> None:
    number = new_number(2564)
    year_body = number[3:].replace("-", "")
    for i, ch in enumerate(year_body):
        for other in ALPHABET:
            if other != ch:
                typo = year_body[:i] + other + year_body[i + 1 :]
                assert check_char(typo[:-1]) != typo[-1]
                assert normalise("LM" + typo) is None
    assert normalise("LM-2564-3H32-DMMB-39HM") == "LM-2564-3H32-DMMB-39HM"
    assert normalise("lm2564 3h32 dmmb 39hm") == "LM-2564-3H32-DMMB-39HM"
    assert normalise("not a number") is None
