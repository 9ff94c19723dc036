"""The hall's one calendar of days: working days and service days.

- Working days (差评 deadlines count these): Monday to Friday, less the hall's holidays, plus its
  make-up working days (调休: a Saturday or Sunday worked in exchange for a longer holiday).
- Service days (the hall takes numbers and bookings): every working day, plus the hall's extra
  service days (双休日、节假日办理): dated days (served even when they are holidays) and weekdays
  served every week (e.g. every Saturday), which a holiday still closes.

Issuing, bookings and deadlines all ask this one calendar, built once from `[hall]`.
Pure: days are "YYYY-MM-DD" strings, as the hall calendar gives them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WorkCalendar:
    def __init__(self, holidays: Iterable[str] = (), workdays: Iterable[str] = (),
                 service_days: Iterable[str] = ()):
        self.holidays = frozenset(date.fromisoformat(d) for d in holidays)
        self.workdays = frozenset(date.fromisoformat(d) for d in workdays)
        extra = list(service_days)
        self.service_weekdays = frozenset(WEEKDAYS.index(d) for d in extra if d in WEEKDAYS)
        self.service_dates = frozenset(date.fromisoformat(d) for d in extra if d not in WEEKDAYS)
        self._served: dict[str, bool] = {}  # day string → is_service_day: every ticket issue asks

    def is_service_day(self, day: str | date) -> bool:
        """Does the hall serve the public that day (issuing, bookings)? A day string's answer is
        remembered (the calendar never changes after it is built), so the ticket issue's question
        is a dict look-up, not a date parse."""
        if isinstance(day, str):
            known = self._served.get(day)
            if known is None:
                if len(self._served) > 1024:
                    self._served.clear()
                known = self._served[day] = self._is_service_day(date.fromisoformat(day))
            return known
        return self._is_service_day(day)

    def _is_service_day(self, d: date) -> bool:
        if d in self.service_dates or self.is_workday(d):
            return True
        return d.weekday() in self.service_weekdays and d not in self.holidays

    def next_service_days(self, day: str, n: int) -> list[str]:
        """The n service days after `day` (not counting `day`)."""
        out: list[str] = []
        d = date.fromisoformat(day)
        for _ in range(n * 7 + 400):
            if len(out) == n:
                break
            d += timedelta(days=1)
            if self.is_service_day(d):
                out.append(d.isoformat())
        if len(out) == n:
            return out
        raise ValueError(f"no {n} service days after {day}: the holiday list leaves none")

    def is_workday(self, day: str | date) -> bool:
        d = date.fromisoformat(day) if isinstance(day, str) else day
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def add_workdays(self, day: str, n: int) -> str:
        """The n-th working day after `day` (a Friday plus 5 is the next Friday).

        `day` itself never counts, whether or not it is a working day: a 差评 given on a Saturday
        make-up day or on a holiday still gets n full working days.
        """
        if n < 0:
            raise ValueError("n must be ≥ 0")
        d = date.fromisoformat(day)
        left = n
        # A year of holidays cannot hold more than a few weeks: the bound only guards bad data.
        for _ in range(n * 7 + 400):
            if left == 0:
                return d.isoformat()
            d += timedelta(days=1)
            if self.is_workday(d):
                left -= 1
        raise ValueError(f"no {n} working days after {day}: the holiday list leaves none")

    def workdays_between(self, start: str, end: str) -> int:
        """Working days after `start` up to and including `end` (0 when end ≤ start)."""
        a, b = date.fromisoformat(start), date.fromisoformat(end)
        count = 0
        while a < b:
            a += timedelta(days=1)
            if self.is_workday(a):
                count += 1
        return count
