"""Time for rules that depend on it (deadlines, restrictions): injectable, so tests can move it.

Deadlines are calendar dates in China (Asia/Shanghai): an item due on 2026-11-24 is late from
the first moment of 2026-11-25 in Beijing time, whatever the server's own time zone.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def china_date(moment: datetime) -> date:
    """The calendar date in China at an aware moment."""
    return moment.astimezone(CHINA).date()


def end_of_china_day(day: date) -> datetime:
    """The last instant of `day` in China, as an aware UTC time (for `as_of` reads)."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), CHINA).astimezone(UTC) - timedelta(
        microseconds=1
    )


class Clock:
    """The service's clock: real time plus an offset. `today` (DUDAO_TODAY) starts it on a given date, for tests,
    rehearsals and demos; tests move it further with `advance` and `set_today`."""

    def __init__(self, today: date | None = None) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()
        if today is not None:
            self.set_today(today)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def today(self) -> date:
        """Today's date in China."""
        return china_date(self.now())

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    def set_today(self, day: date) -> None:
        """Move the clock to noon of `day` in China."""
        target = datetime.combine(day, datetime.min.time().replace(hour=12), CHINA)
        with self._lock:
            self._offset = target - datetime.now(UTC)
