"""Hall days and minutes from epoch seconds, in the hall's time zone.

Pure: the engine asks it what day a timestamp falls on; it never reads the clock.
The current day's bounds are cached because every command asks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# The days a hall's records can fall on. Dates from outside (report ranges, bookings, months) beyond
# them are refused: arithmetic on 9999-12-31 or 0001-01-01 (a month later, a week before) overflows.
FIRST_DAY = "2000-01-01"
LAST_DAY = "2999-12-31"


def day_in_range(day: str) -> bool:
    """`day` (YYYY-MM-DD, already a valid date) lies within FIRST_DAY..LAST_DAY."""
    return FIRST_DAY <= day <= LAST_DAY


class HallCalendar:
    def __init__(self, timezone: str = "Asia/Shanghai"):
        self.tz = ZoneInfo(timezone)
        self._start = 0.0
        self._end = -1.0
        self._day = ""

    def _load(self, ts: float) -> None:
        local = datetime.fromtimestamp(ts, self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        nxt = (midnight + timedelta(days=1)).replace(tzinfo=None).replace(tzinfo=self.tz)
        self._start = midnight.timestamp()
        self._end = nxt.timestamp()
        self._day = midnight.date().isoformat()

    def day(self, ts: float) -> str:
        """The hall day (YYYY-MM-DD) a timestamp belongs to."""
        if not (self._start <= ts < self._end):
            self._load(ts)
        return self._day

    def minute(self, ts: float) -> int:
        """Minutes since the hall day's midnight."""
        if not (self._start <= ts < self._end):
            self._load(ts)
        return int((ts - self._start) // 60)

    def day_start(self, day: str) -> float:
        d = datetime.fromisoformat(day).replace(tzinfo=self.tz)
        return d.timestamp()

    def at(self, day: str, minute: int) -> float:
        """Epoch seconds of `minute` past midnight on `day`."""
        d = datetime.fromisoformat(day).replace(tzinfo=self.tz) + timedelta(minutes=minute)
        return d.timestamp()

    def iso(self, ts: float) -> str:
        """ISO 8601 with the hall's offset, milliseconds, as the specs show times."""
        return datetime.fromtimestamp(ts, self.tz).isoformat(timespec="milliseconds")
