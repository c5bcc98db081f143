"""Thai certificates as PDF: shaped text (fpdf2 + HarfBuzz), B.E. dates in Thai digits and words, a unique
number and a QR code that opens the public verification page.

The template is per organisation (:class:`CertificateTemplate`, read from YAML by :func:`load_template`); the
course can rename the certificate (``certificate: {title: วุฒิบัตร}``), which wins over the template's title.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import UsageError
from .fonts import ThaiFont
from .pdf import FAMILY, check_image, draw_qr, new_pdf, wrap_thai
from .thaidate import format_date, format_date_words, thai_digits

DEFAULT_TITLE = "เกียรติบัตร"


@dataclass(frozen=True)
class CertificateTemplate:
    """What an organisation sets once: who issues, who signs, the logo, the verification site."""

    organisation: str = "กรมส่งเสริมการปกครองท้องถิ่น"
    title: str = DEFAULT_TITLE
    signatory_name: str = ""
    signatory_position: str = ""
    logo: Path | None = None  # PNG, JPEG or SVG
    signature: Path | None = None  # an image of the signature, placed above the signatory's name
    verify_base_url: str = "http://127.0.0.1:8000"
    programme: str = "ระบบการเรียนรู้ออนไลน์ Local MOOC"
    font_family: str | None = None  # a Thai font family installed on the system; default Laksaman

    def __post_init__(self) -> None:
        check_image(self.logo, "logo")
        check_image(self.signature, "signature")
        if not self.verify_base_url.startswith(("http://", "https://")):
            raise UsageError(f"verify_base_url {self.verify_base_url!r}: must start with http:// or https://")


def load_template(path: Path) -> CertificateTemplate:
    """A template from a YAML mapping of :class:`CertificateTemplate` fields; paths are relative to the file."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read the certificate template: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a certificate template is a mapping of fields")
    known = {f.name for f in fields(CertificateTemplate)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(
            f"{path}: unknown template field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    for key in ("logo", "signature"):
        if data.get(key):
            data[key] = (Path(path).parent / str(data[key])).resolve()
    return CertificateTemplate(**{k: v if k in ("logo", "signature") else str(v) for k, v in data.items()})


@dataclass(frozen=True)
class Certificate:
    """One issued certificate."""

    number: str
    learner_name: str
    course_title: str
    credited_hours: float
    certified_at: datetime  # UTC; shown as its Bangkok date
    course_certificate_title: str | None = None  # the course's `certificate.title`
    extra: dict[str, Any] = field(default_factory=dict)


def verification_url(base_url: str, number: str) -> str:
    """The public page that verifies ``number``: ``{base}/verify/{number}``."""
    return f"{base_url.rstrip('/')}/verify/{quote(number, safe='-')}"


def _hours_text(hours: float) -> str:
    text = f"{hours:g}" if hours != int(hours) else str(int(hours))
    return thai_digits(text)


def render(
    cert: Certificate, template: CertificateTemplate, *, font: ThaiFont | None = None, shaping: bool = True
) -> bytes:
    """The certificate as PDF bytes (A4 landscape)."""
    from .fonts import find_thai_font

    pdf = new_pdf(font or find_thai_font(template.font_family), orientation="landscape", shaping=shaping)
    title = cert.course_certificate_title or template.title or DEFAULT_TITLE
    pdf.set_title(f"{title} {cert.number}")
    pdf.set_author(template.organisation)
    pdf.set_lang("th")
    # The PDF's date is the certification's, not the rendering's: a download again gives the same bytes.
    pdf.set_creation_date(
        cert.certified_at if cert.certified_at.tzinfo else cert.certified_at.replace(tzinfo=UTC)
    )
    pdf.add_page()
    w, h = pdf.w, pdf.h
    navy, gold = (24, 43, 92), (176, 141, 63)

    # Frame: a thick and a thin line.
    pdf.set_draw_color(*navy)
    pdf.set_line_width(1.6)
    pdf.rect(8, 8, w - 16, h - 16)
    pdf.set_draw_color(*gold)
    pdf.set_line_width(0.5)
    pdf.rect(12, 12, w - 24, h - 24)

    def line(
        text: str, y: float, size: float, style: str = "", color: tuple[int, int, int] = (0, 0, 0)
    ) -> float:
        pdf.set_font(FAMILY, style, size)
        pdf.set_text_color(*color)
        pdf.set_xy(30, y)
        pdf.multi_cell(w - 60, size * 0.42 + 1, wrap_thai(text), align="C")
        return pdf.get_y()

    y = 18.0
    if template.logo is not None:
        pdf.image(str(template.logo), x=(w - 22) / 2, y=y, h=22)
        y += 23
    y = line(template.organisation, y, 20, "B", navy)
    y = line(title, y, 40, "B", gold)
    y = line(f"{title}ฉบับนี้ให้ไว้เพื่อแสดงว่า", y + 1.5, 18)
    y = line(cert.learner_name, y + 1.5, 34, "B", navy)
    y = line("ได้ผ่านการเรียนหลักสูตร", y + 1.5, 18)
    y = line(cert.course_title, y + 1.5, 24, "B")
    y = line(f"จำนวน {_hours_text(cert.credited_hours)} ชั่วโมง ผ่าน{template.programme}", y + 1.5, 18)
    y = line(f"ให้ไว้ ณ วันที่ {format_date(cert.certified_at, digits='thai')}", y + 1.5, 18)
    line(f"({format_date_words(cert.certified_at)})", y, 14, color=(80, 80, 80))

    # Signatory, bottom right.
    sx, sw, sy = w - 125, 100, h - 52
    if template.signature is not None:
        pdf.image(str(template.signature), x=sx + (sw - 40) / 2, y=sy - 2, h=14)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.line(sx + 15, sy + 13, sx + sw - 15, sy + 13)
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(sx, sy + 14)
    pdf.set_font(FAMILY, "", 16)
    if template.signatory_name:
        pdf.multi_cell(sw, 7, f"({template.signatory_name})", align="C")
    if template.signatory_position:
        pdf.set_x(sx)
        pdf.multi_cell(sw, 7, wrap_thai(template.signatory_position), align="C")

    # Verification, bottom left: QR, number, address.
    url = verification_url(template.verify_base_url, cert.number)
    qx, qy, qs = 20, h - 50, 30
    draw_qr(pdf, url, qx, qy, qs)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FAMILY, "", 12)
    pdf.set_xy(qx + qs + 2, qy + 4)
    pdf.cell(90, 6, "สแกนเพื่อตรวจสอบ" + title + " หรือเปิด")
    pdf.set_font(FAMILY, "", 9)
    pdf.set_xy(qx + qs + 2, qy + 10)
    pdf.multi_cell(112, 4.5, url)
    pdf.set_font(FAMILY, "B", 12)
    pdf.set_xy(qx + qs + 2, qy + 19)
    pdf.cell(80, 6, f"เลขที่ {cert.number}")
    return bytes(pdf.output())


def write_pdf(data: bytes, out: Path) -> None:
    """Write ``data`` to ``out`` through a temporary file, so a failure leaves nothing half-written."""
    out = Path(out)
    if not out.parent.is_dir():
        raise UsageError(f"-o {out}: folder {out.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).replace(out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
