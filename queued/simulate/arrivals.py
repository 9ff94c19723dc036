"""The day's citizens, drawn before the day runs.

Each business has its own random stream per day, seeded by (seed, day, business), and every
citizen's whole story (arrival, green channel, no-show, case time) is drawn from it at once. So two
scenarios that differ only in the plan or the balancing rules meet the very same citizens (common
random numbers), and a difference between them is the rules', not the dice's.
"""

from __future__ import annotations

import math
import random

from queued.core.calendar import HallCalendar
from queued.simulate.scenario import Scenario, poisson

# (at, business, priority, due_at, no_show, case seconds before the clerk's speed, booking id)
Arrival = tuple[float, str, str, float | None, bool, float, str | None]


def _sampler(scenario: Scenario, code: str, rng: random.Random):
    svc = scenario.service(code)
    if svc.dist == "fixed":
        mean = svc.mean_s
        return lambda: mean
    if svc.dist == "exponential":
        rate = 1.0 / svc.mean_s
        return lambda: rng.expovariate(rate)
    mu, sigma = svc.lognormal_params
    return lambda: rng.lognormvariate(mu, sigma)


def day_arrivals(scenario: Scenario, calendar: HallCalendar, day: str, day_index: int, seed: int) -> list[Arrival]:
    """Everyone who comes on `day` (walk-ins and booked check-ins), in order of arrival."""
    out: list[Arrival] = []
    midnight = calendar.at(day, 0)
    for a in scenario.demand.arrivals:
        rng = random.Random(f"{seed}/{day_index}/{a.business}")
        draw = _sampler(scenario, a.business, rng)
        rand, expo = rng.random, rng.expovariate
        green, no_show, code = a.green_share, a.no_show, a.business
        for start, end, per_hour in a.pieces:
            t = start * 60.0
            stop = end * 60.0
            rate = per_hour / 3600.0
            while True:
                t += expo(rate)
                if t >= stop:
                    break
                prio = "green" if rand() < green else "normal"
                out.append((midnight + t, code, prio, None, rand() < no_show, draw(), None))
    for b in scenario.demand.bookings:
        rng = random.Random(f"{seed}/{day_index}/{b.business}/booked")
        draw = _sampler(scenario, b.business, rng)
        lo, hi = b.early
        no_show = next((a.no_show for a in scenario.demand.arrivals if a.business == b.business), 0.0)
        n = 0
        for minute, mean in b.slots:
            due = midnight + minute * 60.0
            for _ in range(poisson(rng, mean)):
                n += 1
                at = due - rng.uniform(lo, hi) * 60.0
                out.append((at, b.business, "normal", due, rng.random() < no_show, draw(),
                            f"sim-{day_index}-{b.business}-{n}"))
    out.sort(key=lambda x: x[0])
    return out


def expected_per_day(scenario: Scenario) -> float:
    walk_ins = sum(a.expected() for a in scenario.demand.arrivals)
    booked = sum(n for b in scenario.demand.bookings for _, n in b.slots)
    return walk_ins + booked


def erlang_c(c: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = λ/μ (Erlang C)."""
    if c <= offered:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, c):
        term *= offered / k
        total += term
    top = term * offered / c * c / (c - offered)
    return top / (total + top)


def erlang_c_wait(c: int, arrivals_per_s: float, service_s: float) -> float:
    """Mean wait in queue of M/M/c (seconds); inf when the windows cannot keep up."""
    a = arrivals_per_s * service_s
    if c <= a:
        return math.inf
    return erlang_c(c, a) * service_s / (c - a)


def erlang_c_quantile_windows(arrivals_per_s: float, service_s: float, wait_s: float, q: float = 0.9) -> int:
    """Fewest windows with P(wait ≤ wait_s) ≥ q in M/M/c: the planner's starting point."""
    if arrivals_per_s <= 0:
        return 0
    a = arrivals_per_s * service_s
    c = max(1, math.floor(a) + 1)
    while c < 10_000:
        p_late = erlang_c(c, a) * math.exp(-(c / service_s - arrivals_per_s) * wait_s)
        if p_late <= 1 - q:
            return c
        c += 1
    return c
