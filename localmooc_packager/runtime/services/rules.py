"""Course rules of time and visibility: enrolment windows, due dates, hidden courses, video watching.

Dates in course source are ISO dates or date-times. A date without a time means Bangkok's calendar day:
an opening date from its first moment, a closing or due date until its last (a due date of 2021-09-30
accepts answers all of that day in Thailand). A date-time without an offset is Bangkok time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from ..blocks import LoadedCourse
from ..errors import Forbidden, NotFound

BANGKOK = timezone(timedelta(hours=7))


def when(value: Any, closing: bool = False) -> datetime | None:
    """A course date as an aware datetime, or None when unset or unreadable (validate reports those)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=BANGKOK)
    if isinstance(value, date):
        day = value
    else:
        text = str(value or "").strip()
        if not text:
            return None
        try:
            if "T" in text or " " in text:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=BANGKOK)
            day = date.fromisoformat(text)
        except ValueError:
            return None
    if closing:
        return datetime.combine(day + timedelta(days=1), time(), BANGKOK) - timedelta(microseconds=1)
    return datetime.combine(day, time(), BANGKOK)


def past_due(course: LoadedCourse, block_id: str, at: datetime | None = None) -> bool:
    due = when(course.due.get(block_id, ""), closing=True)
    return due is not None and (at or datetime.now(UTC)) > due


def enrolment_open(course: LoadedCourse, at: datetime | None = None) -> bool:
    now = at or datetime.now(UTC)
    opens = when(course.meta.get("enrollment_start"))
    closes = when(course.meta.get("enrollment_end"), closing=True)
    return (opens is None or now >= opens) and (closes is None or now <= closes)


def visible(course: LoadedCourse, published: dict[str, bool], role: str | None, enrolled: bool) -> bool:
    """Hidden courses are seen by admins and by learners already enrolled (they keep their access)."""
    return published.get(course.id, True) or role == "admin" or enrolled


def check_can_enrol(
    course: LoadedCourse, published: dict[str, bool], role: str, enrolled: bool, at: datetime | None = None
) -> None:
    if not visible(course, published, role, enrolled):
        raise NotFound()
    if not enrolled and not enrolment_open(course, at):
        raise Forbidden("enrolment_closed")


# A video reports "watched" from the page's script; the server also wants the time to have passed: the
# learner's latest page view must be the video's unit, at least this share of the video's length ago.
WATCH_SHARE = 0.8


def video_seconds(course: LoadedCourse, block_id: str) -> float:
    """The length of an lm-video block in seconds (0: unknown, no check)."""
    if course.block_types.get(block_id) != "lm-video":
        return 0.0
    return float(course.static_fields.get((block_id, "minutes"), 0.0) or 0.0) * 60


def watched_too_soon(
    course: LoadedCourse, block_id: str, enrolment: dict[str, Any] | None, at: datetime
) -> bool:
    length = video_seconds(course, block_id)
    if not length:
        return False
    if enrolment is None or enrolment.get("last_seen") is None:
        return True
    unit = course.unit_index.get(enrolment.get("last_unit") or "")
    seen = (
        enrolment["last_seen"]
        if enrolment["last_seen"].tzinfo
        else enrolment["last_seen"].replace(tzinfo=UTC)
    )
    return unit is None or block_id not in unit.blocks or (at - seen).total_seconds() < WATCH_SHARE * length
