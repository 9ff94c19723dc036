"""A plan plays at most HORIZON calls: a queue of tens of thousands (a benchmark, a runaway kiosk)
never makes a position cost a loop stall, and the tickets past it still get honest, ordered
positions and waits that grow with their place in line."""

from __future__ import annotations

import time

from queued.core import Business, CallNext, Engine, HallConfig, IssueTicket, Start, Window
from queued.core.calendar import HallCalendar
from queued.core.planner import HORIZON
from tests.support import Clock


def test_positions_past_the_horizon_stay_ordered_and_the_plan_stays_bounded():
    hall = HallConfig(id="h", name="大厅", businesses=(Business("A", "综合受理"),),
                      windows=(Window("1", ("A",)), Window("2", ("A",))), default_service_s=300.0)
    clock = Clock()
    eng = Engine(hall, HallCalendar("Asia/Shanghai"))
    for w in ("1", "2"):
        eng.execute(CallNext(w), clock())
    n = HORIZON * 3
    ids = []
    for i in range(n):
        ids.extend(e.ticket for e in eng.execute(IssueTicket("A", f"k{i}"), clock()) if e.kind == "ticket_issued")
    for w in ("1", "2"):
        eng.execute(CallNext(w), clock())
        eng.execute(Start(w), clock())
    waiting = [eng.tickets[t] for t in ids if eng.tickets[t].status == "waiting"]
    started = time.perf_counter()
    est = [eng.estimate(t, clock()) for t in waiting]
    took = time.perf_counter() - started
    positions = [e.position for e in est]
    assert positions == list(range(1, len(waiting) + 1))  # every place in line, none skipped or repeated
    waits = [e.eta_seconds for e in est]
    assert waits == sorted(waits) and waits[-1] > waits[HORIZON]  # later in line: never sooner
    # Two windows at 300 s: the last of ~6,000 waits about 6,000 × 150 s (within 1%).
    assert abs(waits[-1] - len(waiting) * 150) <= len(waiting) * 1.5
    plan = eng.plans.plans[eng.plans.group_of_business["A"]]
    assert plan.truncated and len(plan.keys) == HORIZON
    assert took < 2.0, took  # one bounded plan for all of them, not one per ticket
