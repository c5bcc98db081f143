"""Registration by QR: the registration address for one organisation and course, QR image files, and a
printable A4 poster in Thai.

The QR opens ``{base}/register?org_type=KEY&province=NAME[&organisation=TEXT]&next=/courses/ID/enrol``:
``org_type`` is one of the runtime's organisation type keys, ``province`` the province's English name from the
runtime's list (ASCII keeps the QR small: each Thai letter costs 9 bytes percent-encoded). The registration form
fills those fields in (the learner can still change them) and, once the account exists, follows ``next`` - a
path on the same site only - to enrol in the course. See docs/reports.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from ..errors import UsageError
from .certificate import write_pdf
from .fonts import ThaiFont
from .pdf import FAMILY, check_image, draw_qr, new_pdf, wrap_thai
from .thaidate import thai_digits

QR_SIZE, QR_TOP = 100.0, 125.0  # mm, on A4 portrait; the QR is centred


@dataclass(frozen=True)
class PosterCourse:
    course_id: str
    title: str
    hours: float | None = None
    description: str = ""


def registration_url(
    base_url: str, course_id: str, org_type: str, province: str, organisation: str | None = None
) -> str:
    """The address the poster's QR opens (query values UTF-8, percent-encoded); ``province`` in Thai or English
    becomes its English name."""
    if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
        raise UsageError(f"--base-url {base_url!r}: use an absolute http:// or https:// address")
    query = {"org_type": org_type, "province": province_names(province)[1]}
    if organisation:
        query["organisation"] = organisation
    query["next"] = f"/courses/{course_id}/enrol"
    return f"{base_url.rstrip('/')}/register?{urlencode(query)}"


def province_names(province: str) -> tuple[str, str]:
    """(Thai, English) names of a province given by either, as the runtime's registration form lists them."""
    from ..runtime.i18n import PROVINCES
    from ..source.reader import did_you_mean

    for th, en in PROVINCES:
        if province == th or province.casefold() == en.casefold():
            return th, en
    names = [th for th, _en in PROVINCES] + [en for _th, en in PROVINCES]
    raise UsageError(
        f"--province {province!r}: not a province name (Thai or English, e.g. เชียงใหม่ or Chiang Mai)"
        f"{did_you_mean(province, names)}"
    )


def check_place(org_type: str, province: str) -> None:
    """Organisation type and province must be ones the runtime's registration form knows."""
    from ..runtime.i18n import ORG_TYPES
    from ..source.reader import did_you_mean

    keys = [k for k, _th, _en, _b in ORG_TYPES]
    if org_type not in keys:
        raise UsageError(
            f"--org-type {org_type!r}: not one of {', '.join(keys)}{did_you_mean(org_type, keys)}"
        )
    province_names(province)


def qr_file(data: str, out: Path, *, scale: int = 10) -> None:
    """A QR code for ``data`` as PNG or SVG, chosen by ``out``'s extension."""
    import segno

    out = Path(out)
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        raise UsageError(f"-o {out}: the QR file must end in .png or .svg")
    if not out.parent.is_dir():
        raise UsageError(f"-o {out}: folder {out.parent} does not exist")
    if not data:
        raise UsageError("the QR code needs a non-empty URL or text")
    try:
        qr = segno.make_qr(data, error="m")
    except segno.DataOverflowError:
        raise UsageError(f"{len(data.encode())} bytes is too long for a QR code") from None
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        qr.save(str(tmp), kind=kind, scale=scale, border=4)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render_poster(
    courses: list[PosterCourse],
    base_url: str,
    org_type: str,
    province: str,
    *,
    organisation: str | None = None,
    logo: Path | None = None,
    font: ThaiFont | None = None,
) -> bytes:
    """One A4 portrait page per course: what to learn, for whom, and a large QR that registers and enrols."""
    from ..runtime.i18n import ORG_TYPES

    check_place(org_type, province)
    logo = check_image(logo, "--logo")
    org_th = {k: th for k, th, _en, _b in ORG_TYPES}[org_type]
    province_th = province_names(province)[0]
    pdf = new_pdf(font, orientation="portrait")
    pdf.set_title("สมัครเรียน Local MOOC")
    pdf.set_lang("th")
    navy = (24, 43, 92)
    for course in courses:
        url = registration_url(base_url, course.course_id, org_type, province, organisation)
        pdf.add_page()
        w = pdf.w
        pdf.set_fill_color(*navy)
        pdf.rect(0, 0, w, 46, style="F")
        y = 8.0
        if logo is not None:
            pdf.image(str(logo), x=12, y=8, h=30)
        pdf.set_text_color(255, 255, 255)
        pdf.set_font(FAMILY, "B", 34)
        pdf.set_xy(0, y)
        pdf.cell(w, 16, "สมัครเรียนออนไลน์ ฟรี", align="C")
        pdf.set_font(FAMILY, "", 20)
        pdf.set_xy(0, y + 18)
        pdf.cell(w, 10, "Local MOOC ห้องเรียนออนไลน์ท้องถิ่น", align="C")

        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FAMILY, "B", 26)
        pdf.set_xy(20, 54)
        pdf.multi_cell(w - 40, 12, wrap_thai(course.title), align="C")
        y = pdf.get_y() + 2
        if course.hours:
            pdf.set_font(FAMILY, "", 18)
            pdf.set_xy(20, y)
            pdf.cell(w - 40, 9, f"ระยะเวลาเรียน {thai_digits(f'{course.hours:g}')} ชั่วโมง", align="C")
            y += 10
        qs, qy = QR_SIZE, QR_TOP  # fixed, so every poster prints its QR at the same place and size
        if course.description:
            pdf.set_font(FAMILY, "", 16)
            text = wrap_thai(course.description)
            lines = pdf.multi_cell(w - 56, 7.5, text, dry_run=True, output="LINES")
            if y + 2 + 7.5 * len(lines) <= qy - 4:  # a description too long for the space is left out
                pdf.set_xy(28, y + 2)
                pdf.multi_cell(w - 56, 7.5, text, align="C")
        draw_qr(pdf, url, (w - qs) / 2, qy, qs)
        pdf.set_draw_color(*navy)
        pdf.set_line_width(0.8)
        pdf.rect((w - qs) / 2 - 2, qy - 2, qs + 4, qs + 4)
        y = qy + qs + 6
        pdf.set_font(FAMILY, "B", 20)
        pdf.set_xy(0, y)
        pdf.cell(w, 10, "สแกน QR เพื่อสมัครและลงทะเบียนเรียนหลักสูตรนี้", align="C")
        pdf.set_font(FAMILY, "", 16)
        steps = ["๑. สแกน QR ด้วยกล้องโทรศัพท์", "๒. กรอกข้อมูลสมัครสมาชิก", "๓. เริ่มเรียนได้ทันที"]
        pdf.set_xy(0, y + 11)
        pdf.cell(w, 8, "    ".join(steps), align="C")

        pdf.set_fill_color(240, 236, 225)
        pdf.rect(0, pdf.h - 44, w, 44, style="F")
        pdf.set_font(FAMILY, "B", 16)
        pdf.set_xy(15, pdf.h - 40)
        who = organisation or org_th
        pdf.multi_cell(w - 30, 8, wrap_thai(f"สำหรับ{who} จังหวัด{province_th}"), align="C")
        if organisation:
            pdf.set_font(FAMILY, "", 13)
            pdf.set_x(15)
            pdf.multi_cell(w - 30, 6.5, wrap_thai(f"ประเภทองค์กร: {org_th}"), align="C")
        pdf.set_font(FAMILY, "", 13)
        pdf.set_x(15)
        pdf.multi_cell(w - 30, 6.5, f"หรือเปิด {base_url.rstrip('/')}/register", align="C")
    return bytes(pdf.output())


def write_poster(data: bytes, out: Path) -> None:
    if Path(out).suffix.lower() != ".pdf":
        raise UsageError(f"-o {out}: the poster is a PDF; name it *.pdf")
    write_pdf(data, out)


def poster_course(course_dir: Path) -> PosterCourse:
    """The id, title, hours and short description of a course source folder (its course.yaml only)."""
    import yaml

    f = Path(course_dir) / "course.yaml"
    if not f.is_file():
        raise UsageError(f"{course_dir}: no course.yaml (is it a course source folder?)")
    try:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{f}: cannot read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("title"), str):
        raise UsageError(f"{f}: no course title")
    hours = data.get("hours")
    return PosterCourse(
        course_id=str(data.get("id") or Path(course_dir).name),
        title=data["title"],
        hours=float(hours) if isinstance(hours, int | float) else None,
        description=str(data.get("short_description") or ""),
    )
