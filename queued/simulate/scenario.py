"""A scenario: the hall (as the engine sees it), the demand, the resolved plan and the closing rules.

The plan is resolved into *engine windows*: a physical window that serves different businesses at
different times (moved from B to A at 10:00) becomes one engine window per set of businesses, with
ids "5" and "5~2"; reports fold them back into window "5".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cached_property

from queued.core.hall import HallConfig, Window
from queued.simulate.demand import Demand, ServiceTime, Shift

FIRST_DAY = date(2026, 3, 2)  # a Monday: simulated days are the working days from here
DEFAULT_CV = 0.6


@dataclass(frozen=True, slots=True)
class Closing:
    """The end of the day as the hall's rules put it (minutes of the day; None = no such rule)."""

    stop_issuing: int | None  # no new tickets from here (bookings still check in)
    closes: int | None  # scheduled closing: windows open then keep serving what waits (延时)
    hard_close: int | None  # what still waits is closed out (留号)


def closing_of(hall: HallConfig) -> Closing:
    return Closing(hall.issuing_ends_minute, hall.closes_minute, hall.hard_close_minute)


@dataclass(frozen=True, slots=True)
class EngineWindow:
    id: str  # engine id: the window's id, or "id~n" for its n-th set of businesses
    window: str  # the physical window
    businesses: tuple[str, ...]
    shifts: tuple[Shift, ...]


@dataclass(frozen=True)
class Scenario:
    hall: HallConfig
    demand: Demand
    timezone: str = "Asia/Shanghai"
    name: str = "A"

    @cached_property
    def closing(self) -> Closing:
        return closing_of(self.hall)

    @cached_property
    def opens(self) -> int:
        return self.demand.opens if self.demand.opens is not None else self.demand.first_minute()

    @cached_property
    def day_end(self) -> int:
        """When windows are planned to stop by default: closing, else the end of issuing or arrivals."""
        c = self.closing
        if c.closes is not None:
            return c.closes
        if c.stop_issuing is not None:
            return c.stop_issuing
        return self.demand.last_minute()

    @cached_property
    def engine_windows(self) -> tuple[EngineWindow, ...]:
        default = (self.opens, self.day_end)
        planned: dict[str, list[Shift]] = {}
        for s in self.demand.plan or ():
            planned.setdefault(s.window, []).append(s)
        order = [w.id for w in self.hall.windows] + [w for w in planned if w not in self.hall.window_index]
        out = []
        for wid in order:
            configured = self.hall.window_index[wid].businesses if wid in self.hall.window_index else None
            shifts = planned.get(wid)
            if shifts is None:
                shifts = [Shift(wid, default[0], default[1], None)]
            groups: dict[tuple[str, ...], list[Shift]] = {}
            for s in sorted(shifts, key=lambda s: s.start):
                groups.setdefault(s.businesses or configured, []).append(s)
            for n, (businesses, group) in enumerate(groups.items()):
                out.append(EngineWindow(wid if n == 0 else f"{wid}~{n + 1}", wid, businesses, tuple(group)))
        return tuple(out)

    @cached_property
    def engine_hall(self) -> HallConfig:
        windows = tuple(Window(w.id, w.businesses, self.hall.window_index[w.window].name
                               if w.window in self.hall.window_index else "") for w in self.engine_windows)
        return replace(self.hall, windows=windows, business_index={}, window_index={}, clerk_index={})

    def service(self, code: str) -> ServiceTime:
        s = self.demand.service.get(code)
        return s if s is not None else ServiceTime(self.hall.default_service_s, "lognormal", DEFAULT_CV)

    def assumed_service(self) -> list[str]:
        """Businesses with arrivals but no service time given (the hall's default is assumed)."""
        return [a.business for a in self.demand.arrivals if a.business not in self.demand.service]


def day_dates(n: int, hall: HallConfig | None = None, first: date = FIRST_DAY) -> list[str]:
    """`n` service days of the hall (its calendar: weekdays, holidays, 调休, weekend service) from
    `first`; Monday to Friday without a hall."""
    if hall is not None:
        start = first.isoformat()
        if hall.days.is_service_day(start):
            return [start] + hall.days.next_service_days(start, n - 1)
        return hall.days.next_service_days(start, n)
    out, d = [], first
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d += timedelta(days=1)
    return out


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, normal approximation beyond 50)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean ** 0.5)))
    import math

    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
