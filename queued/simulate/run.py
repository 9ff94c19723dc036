"""Running days: one engine per scenario, carried from day to day as the daemon's is (its service
time averages warm up once), on the hall's service days from 2026-03-02, the days' citizens drawn
from the seed."""

from __future__ import annotations

from queued.core.calendar import HallCalendar
from queued.core.engine import Engine
from queued.simulate.arrivals import day_arrivals, expected_per_day
from queued.simulate.day import DayResult, DaySim
from queued.simulate.scenario import Scenario, day_dates


def run_days(scenario: Scenario, days: int, seed: int, *, eta_every: int = 1, record_events: bool = False,
             observer=None, sample_every_s: float = 0.0, arrivals_cache: dict | None = None) -> list[DayResult]:
    """`arrivals_cache`: a dict the caller keeps between runs of scenarios with the same demand (the
    planner's plans): the days' citizens do not depend on the plan, so they are drawn once."""
    calendar = HallCalendar(scenario.timezone)
    engine = Engine(scenario.engine_hall, calendar)
    out = []
    for index, day in enumerate(day_dates(days, scenario.hall)):
        arrivals = arrivals_cache.get((day, seed)) if arrivals_cache is not None else None
        if arrivals is None:
            arrivals = day_arrivals(scenario, calendar, day, index, seed)
            if arrivals_cache is not None:
                arrivals_cache[(day, seed)] = arrivals
        out.append(DaySim(scenario, engine, day, arrivals, eta_every=eta_every,
                          record_events=record_events, day_index=index, observer=observer,
                          sample_every_s=sample_every_s).run())
    return out


def sampled_eta(scenario: Scenario, reads_per_day: int = 500) -> int:
    """An `eta_every` that reads about `reads_per_day` ETAs a day: the engine's estimate plays the
    hall forward (O(waiting) after every call), so a busy hall's ETA error is measured on a sample.
    Reading an ETA changes nothing, so the sample is of the very same day."""
    return max(1, round(expected_per_day(scenario) / reads_per_day))
