"""The runtime's one source of "now" for learning events: a test and operator hook, not a user feature.

Study time, milestones (``course_results``), due dates, the video-watch check and xAPI timestamps all read
``Store.clock`` (given as ``Settings.clock``). By default it is the system's UTC time. Tests, and the browser
test, pass an ``OffsetClock`` and move it forward to meet a course's ``min_minutes`` without waiting; an
operator could use one to replay a scenario on a copy of the database. Sessions and login throttling keep
the real time: an advanced clock never logs anyone out or lets a throttled login through early.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The default clock: now, in UTC."""
    return datetime.now(UTC)


class OffsetClock:
    """The system time plus an offset that only moves forward (``advance``); thread-safe."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += delta

    @property
    def offset(self) -> timedelta:
        return self._offset
