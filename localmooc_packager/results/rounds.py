"""Thai fiscal years and the two evaluation rounds of each, cut at Bangkok midnight.

FY B.E. 2564 runs from 1 October 2020 to 30 September 2021 (named after its later year). Round 1 is
1 October - 31 March, round 2 is 1 April - 30 September (OCSC). A round is the half-open interval
[start, end) of UTC instants, so a result at 23:59:59 Bangkok time on 31 March is in round 1 and one at
00:00 on 1 April is in round 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ..errors import UsageError
from .thaidate import BANGKOK, BE_OFFSET, arabic_digits, format_date, to_bangkok

# Fiscal years the programme could plausibly report on; outside this a year is a typo (or a C.E. year).
FIRST_FY, LAST_FY = 2500, 2700

_ROUND = re.compile(r"\s*(\d{4})\s*/\s*(\d+)\s*")


class RoundError(UsageError):
    """A round was written wrongly (expected ``2564/2``: a B.E. fiscal year, a slash, 1 or 2)."""


def fiscal_year(moment: datetime | date) -> int:
    """The B.E. fiscal year that ``moment`` (a UTC or aware datetime, or a Bangkok date) falls in."""
    d = to_bangkok(moment).date() if isinstance(moment, datetime) else moment
    return d.year + BE_OFFSET + (1 if d.month >= 10 else 0)


def _bangkok_midnight(year_ce: int, month: int) -> datetime:
    return datetime(year_ce, month, 1, tzinfo=BANGKOK).astimezone(UTC)


@dataclass(frozen=True, order=True)
class Round:
    """Evaluation round ``number`` (1 or 2) of fiscal year ``fy`` (B.E.)."""

    fy: int
    number: int

    def __post_init__(self) -> None:
        if self.number not in (1, 2):
            raise RoundError(f"round {self.fy}/{self.number}: a fiscal year has rounds 1 and 2 only")
        if not FIRST_FY <= self.fy <= LAST_FY:
            hint = ""
            if FIRST_FY - BE_OFFSET <= self.fy <= LAST_FY - BE_OFFSET:
                hint = (
                    f"; {self.fy} looks like a C.E. year, fiscal years are named in B.E. "
                    f"({self.fy} + 543 = {self.fy + BE_OFFSET})"
                )
            raise RoundError(f"round {self.fy}/{self.number}: fiscal year {self.fy} is out of range{hint}")

    @property
    def start(self) -> datetime:
        """First instant of the round (UTC): Bangkok midnight of 1 October or 1 April."""
        ce = self.fy - BE_OFFSET
        return _bangkok_midnight(ce - 1, 10) if self.number == 1 else _bangkok_midnight(ce, 4)

    @property
    def end(self) -> datetime:
        """First instant after the round (UTC): Bangkok midnight of 1 April or the next 1 October."""
        ce = self.fy - BE_OFFSET
        return _bangkok_midnight(ce, 4) if self.number == 1 else _bangkok_midnight(ce, 10)

    def __contains__(self, moment: datetime) -> bool:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.fy}/{self.number}"

    @property
    def first_day(self) -> date:
        return to_bangkok(self.start).date()

    @property
    def last_day(self) -> date:
        return date.fromordinal(to_bangkok(self.end).date().toordinal() - 1)

    def label(self) -> str:
        """``รอบที่ 2 ปีงบประมาณ พ.ศ. 2564 (1 เมษายน พ.ศ. 2564 - 30 กันยายน พ.ศ. 2564)``."""
        return (
            f"รอบที่ {self.number} ปีงบประมาณ พ.ศ. {self.fy} "
            f"({format_date(self.first_day)} - {format_date(self.last_day)})"
        )


def round_of(moment: datetime) -> Round:
    """The evaluation round ``moment`` falls in (decided in Bangkok time)."""
    local = to_bangkok(moment)
    return Round(fiscal_year(local), 2 if 4 <= local.month <= 9 else 1)


def parse_round(text: str) -> Round:
    """``"2564/2"`` (Thai digits accepted) -> ``Round(2564, 2)``; a :class:`RoundError` says what is wrong."""
    m = _ROUND.fullmatch(arabic_digits(text))
    if m is None:
        raise RoundError(
            f"round {text!r}: expected FISCAL-YEAR/ROUND in B.E., e.g. 2564/2 "
            "(round 1 = 1 October - 31 March, round 2 = 1 April - 30 September)"
        )
    return Round(int(m[1]), int(m[2]))
