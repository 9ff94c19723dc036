"""Time slots of 分时段预约: which days can be booked and which slots a business offers on a day.

Pure arithmetic on hall days (YYYY-MM-DD strings) and minutes of the day; no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from queued.core.calendar import day_in_range
from queued.core.hall import Business
from queued.core.workdays import WorkCalendar

# A business without issuing hours (open "always") still needs bookable hours: office hours.
DEFAULT_HOURS: tuple[tuple[int, int], ...] = ((9 * 60, 12 * 60), (13 * 60 + 30, 17 * 60))


@dataclass(frozen=True, slots=True)
class Slot:
    start: int  # minutes since the hall day's midnight
    end: int

    @property
    def label(self) -> str:
        return hhmm(self.start)

    @property
    def span(self) -> str:
        return f"{hhmm(self.start)}-{hhmm(self.end)}"


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_hhmm(text: str) -> int | None:
    head, sep, tail = text.partition(":")
    if not sep or not (head.isdigit() and tail.isdigit()) or len(tail) != 2 or not 1 <= len(head) <= 2:
        return None
    h, m = int(head), int(tail)
    if h > 23 or m > 59:
        return None
    return h * 60 + m


def parse_day(text: str) -> str | None:
    """A bookable-looking day YYYY-MM-DD within the hall's calendar, or None."""
    try:
        day = date.fromisoformat(text).isoformat() if len(text) == 10 else None
    except ValueError:
        return None
    return day if day is not None and day_in_range(day) else None


def add_days(day: str, n: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=n)).isoformat()


def bookable_days(today: str, days_ahead: int, days: WorkCalendar) -> list[str]:
    """Today (when a service day) and the next `days_ahead` service days of the hall's one calendar
    (holidays off, 调休 make-up days and extra service days on; the calendar issuing uses too)."""
    out = [today] if days.is_service_day(today) else []
    return out + days.next_service_days(today, days_ahead)


def business_slots(b: Business, slot_minutes: int, closes_minute: int | None) -> list[Slot]:
    """Whole slots inside the business's issuing hours, ending no later than the hall's closing."""
    out: list[Slot] = []
    for start, end in b.hours or DEFAULT_HOURS:
        if closes_minute is not None:
            end = min(end, closes_minute)
        s = start
        while s + slot_minutes <= end:
            out.append(Slot(s, s + slot_minutes))
            s += slot_minutes
    return out
