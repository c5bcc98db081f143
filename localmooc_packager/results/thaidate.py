"""Dates as Thai readers expect them: Buddhist Era years, Thai month names, Thai digits and Thai words.

Timestamps are stored in UTC; everything shown is converted to Asia/Bangkok first (UTC+7, no daylight saving).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")
BE_OFFSET = 543  # B.E. = C.E. + 543

MONTHS = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)
MONTHS_SHORT = (
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
)

_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
_ARABIC_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_UNITS = ("", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า")
_PLACES = ("", "สิบ", "ร้อย", "พัน", "หมื่น", "แสน")


def thai_digits(text: object) -> str:
    """``text`` with every ASCII digit written as a Thai digit (๐-๙); other characters unchanged."""
    return str(text).translate(_THAI_DIGITS)


def arabic_digits(text: str) -> str:
    """``text`` with Thai digits written as ASCII digits (for parsing what a Thai user typed)."""
    return text.translate(_ARABIC_DIGITS)


def _below_million(n: int) -> str:
    words = []
    digits = str(n)
    width = len(digits)
    for i, ch in enumerate(digits):
        d, place = int(ch), width - 1 - i
        if d == 0:
            continue
        if place == 1 and d == 1:
            words.append("สิบ")  # 10-19: สิบ, not หนึ่งสิบ
        elif place == 1 and d == 2:
            words.append("ยี่สิบ")
        elif place == 0 and d == 1 and n > 10:
            words.append("เอ็ด")  # 11, 21, 101 ... end in เอ็ด
        else:
            words.append(_UNITS[d] + _PLACES[place])
    return "".join(words)


def thai_number_words(n: int) -> str:
    """A non-negative integer in Thai words: 30 -> สามสิบ, 2564 -> สองพันห้าร้อยหกสิบสี่, 21 -> ยี่สิบเอ็ด."""
    if n < 0:
        raise ValueError(f"negative number {n}")
    if n == 0:
        return "ศูนย์"
    millions, rest = divmod(n, 1_000_000)
    head = thai_number_words(millions) + "ล้าน" if millions else ""
    return head + (_below_million(rest) if rest else "")


def to_bangkok(moment: datetime) -> datetime:
    """``moment`` in Asia/Bangkok. A naive datetime is taken as UTC (SQLite returns them so)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BANGKOK)


def _local_date(moment: date | datetime) -> date:
    return to_bangkok(moment).date() if isinstance(moment, datetime) else moment


def be_year(moment: date | datetime) -> int:
    """The Buddhist Era year of ``moment`` (its Bangkok calendar date)."""
    return _local_date(moment).year + BE_OFFSET


def format_date(moment: date | datetime, *, digits: str = "arabic", short: bool = False) -> str:
    """``30 กันยายน พ.ศ. 2564`` (or ``30 ก.ย. 2564`` when short); ``digits="thai"`` gives ๓๐ ... ๒๕๖๔.

    A datetime is converted to Bangkok time first, so 2021-09-30T17:00Z is already 1 ตุลาคม.
    """
    d = _local_date(moment)
    text = (
        f"{d.day} {MONTHS_SHORT[d.month - 1]} {d.year + BE_OFFSET}"
        if short
        else f"{d.day} {MONTHS[d.month - 1]} พ.ศ. {d.year + BE_OFFSET}"
    )
    if digits == "thai":
        return thai_digits(text)
    if digits != "arabic":
        raise ValueError(f"digits must be 'arabic' or 'thai', not {digits!r}")
    return text


def format_date_words(moment: date | datetime) -> str:
    """The formal date in words, as certificates write it: ``วันที่สามสิบ เดือนกันยายน พุทธศักราช สองพันห้าร้อยหกสิบสี่``."""
    d = _local_date(moment)
    return (
        f"วันที่{thai_number_words(d.day)} เดือน{MONTHS[d.month - 1]} "
        f"พุทธศักราช {thai_number_words(d.year + BE_OFFSET)}"
    )


def format_datetime(moment: datetime, *, digits: str = "arabic") -> str:
    """``30 กันยายน พ.ศ. 2564 เวลา 23:59 น.`` in Bangkok time."""
    local = to_bangkok(moment)
    text = f"{format_date(local)} เวลา {local:%H:%M} น."
    return thai_digits(text) if digits == "thai" else text
