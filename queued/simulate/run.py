"""Running days: one engine per scenario, carried from day to day as the daemon's is (its service
time averages warm up once), the days' citizens drawn from the seed."""

from __future__ import annotations

from queued.core.calendar import HallCalendar
from queued.core.engine import Engine
from queued.simulate.arrivals import day_arrivals
from queued.simulate.day import DayResult, DaySim
from queued.simulate.scenario import Scenario, day_dates


def run_days(scenario: Scenario, days: int, seed: int, *, measure_eta: bool = True,
             record_events: bool = False) -> list[DayResult]:
    calendar = HallCalendar(scenario.timezone)
    engine = Engine(scenario.engine_hall, calendar)
    out = []
    for index, day in enumerate(day_dates(days)):
        arrivals = day_arrivals(scenario, calendar, day, index, seed)
        out.append(DaySim(scenario, engine, day, arrivals, measure_eta=measure_eta,
                          record_events=record_events, day_index=index).run())
    return out
