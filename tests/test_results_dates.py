"""Thai dates, fiscal years and evaluation rounds, with the boundaries at Bangkok midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from localmooc_packager.errors import LocalMoocError, UsageError
from localmooc_packager.results.rounds import Round, RoundError, fiscal_year, parse_round, round_of
from localmooc_packager.results.thaidate import (
    format_date,
    format_date_words,
    format_datetime,
    thai_digits,
    thai_number_words,
    to_bangkok,
)

SECOND = timedelta(seconds=1)


def bkk(*args: int) -> datetime:
    """A Bangkok wall-clock time as a UTC instant (Bangkok is UTC+7 all year)."""
    return datetime(*args, tzinfo=UTC) - timedelta(hours=7)


def test_be_date_formats() -> None:
    d = date(2021, 9, 30)
    assert format_date(d) == "30 กันยายน พ.ศ. 2564"
    assert format_date(d, digits="thai") == "๓๐ กันยายน พ.ศ. ๒๕๖๔"
    assert format_date(d, short=True) == "30 ก.ย. 2564"
    assert format_date_words(d) == "วันที่สามสิบ เดือนกันยายน พุทธศักราช สองพันห้าร้อยหกสิบสี่"
    assert thai_digits("เลขที่ 0123456789") == "เลขที่ ๐๑๒๓๔๕๖๗๘๙"


def test_datetimes_are_shown_in_bangkok_time() -> None:
    # 17:00 UTC on 30 September is already midnight of 1 October in Bangkok.
    late = datetime(2021, 9, 30, 17, 0, tzinfo=UTC)
    assert format_date(late) == "1 ตุลาคม พ.ศ. 2564"
    assert format_date(late - SECOND) == "30 กันยายน พ.ศ. 2564"
    assert format_datetime(late - SECOND) == "30 กันยายน พ.ศ. 2564 เวลา 23:59 น."
    # SQLite hands back naive datetimes that were stored as UTC.
    assert to_bangkok(datetime(2021, 3, 31, 17, 0)).date() == date(2021, 4, 1)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "ศูนย์"),
        (1, "หนึ่ง"),
        (10, "สิบ"),
        (11, "สิบเอ็ด"),
        (20, "ยี่สิบ"),
        (21, "ยี่สิบเอ็ด"),
        (31, "สามสิบเอ็ด"),
        (101, "หนึ่งร้อยเอ็ด"),
        (110, "หนึ่งร้อยสิบ"),
        (2500, "สองพันห้าร้อย"),
        (2564, "สองพันห้าร้อยหกสิบสี่"),
        (2570, "สองพันห้าร้อยเจ็ดสิบ"),
        (1_000_000, "หนึ่งล้าน"),
    ],
)
def test_thai_number_words(n: int, words: str) -> None:
    assert thai_number_words(n) == words


def test_fiscal_year_is_named_after_its_later_year() -> None:
    assert fiscal_year(date(2020, 10, 1)) == 2564
    assert fiscal_year(date(2021, 9, 30)) == 2564
    assert fiscal_year(date(2021, 10, 1)) == 2565
    assert fiscal_year(bkk(2021, 10, 1) - SECOND) == 2564
    assert fiscal_year(bkk(2021, 10, 1)) == 2565


def test_round_bounds_are_bangkok_midnights_in_utc() -> None:
    r1, r2 = parse_round("2564/1"), parse_round("2564/2")
    assert r1.start == datetime(2020, 9, 30, 17, tzinfo=UTC)
    assert r1.end == r2.start == datetime(2021, 3, 31, 17, tzinfo=UTC)
    assert r2.end == datetime(2021, 9, 30, 17, tzinfo=UTC) == parse_round("2565/1").start
    assert (r2.first_day, r2.last_day) == (date(2021, 4, 1), date(2021, 9, 30))
    assert (r1.first_day, r1.last_day) == (date(2020, 10, 1), date(2021, 3, 31))
    assert r2.label() == "รอบที่ 2 ปีงบประมาณ พ.ศ. 2564 (1 เมษายน พ.ศ. 2564 - 30 กันยายน พ.ศ. 2564)"
    assert str(r2) == "2564/2"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (bkk(2021, 4, 1) - SECOND, "2564/1"),  # 31 March 23:59:59 Bangkok
        (bkk(2021, 4, 1), "2564/2"),  # 1 April 00:00 Bangkok = 31 March 17:00 UTC
        (bkk(2021, 10, 1) - SECOND, "2564/2"),  # 30 September 23:59:59 Bangkok
        (bkk(2021, 10, 1), "2565/1"),  # 1 October 00:00 Bangkok
        (bkk(2020, 10, 1), "2564/1"),
        (datetime(2021, 3, 31, 16, 59, 59), "2564/1"),  # naive = UTC
        (datetime(2021, 3, 31, 17, 0, 0), "2564/2"),
    ],
)
def test_round_of_at_the_boundaries(moment: datetime, expected: str) -> None:
    assert str(round_of(moment)) == expected
    r = parse_round(expected)
    assert moment in r
    assert moment not in Round(r.fy, 3 - r.number)


def test_parse_round_accepts_thai_digits_and_spaces() -> None:
    assert parse_round("๒๕๖๔/๒") == Round(2564, 2)
    assert parse_round(" 2564 / 1 ") == Round(2564, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2564", "expected FISCAL-YEAR/ROUND in B.E., e.g. 2564/2"),
        ("2564/3", "a fiscal year has rounds 1 and 2 only"),
        ("2564/0", "a fiscal year has rounds 1 and 2 only"),
        ("2021/2", "2021 looks like a C.E. year, fiscal years are named in B.E. (2021 + 543 = 2564)"),
        ("1999/1", "fiscal year 1999 is out of range"),
        ("64/2", "expected FISCAL-YEAR/ROUND"),
        ("2564-2", "expected FISCAL-YEAR/ROUND"),
        ("", "expected FISCAL-YEAR/ROUND"),
    ],
)
def test_bad_rounds_are_clear_usage_errors(text: str, message: str) -> None:
    with pytest.raises(RoundError) as info:
        parse_round(text)
    assert message in str(info.value)
    assert isinstance(info.value, UsageError) and isinstance(info.value, LocalMoocError)
    assert info.value.exit_code == 2
