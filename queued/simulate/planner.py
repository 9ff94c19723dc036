"""The staffing planner: the fewest windows per half hour that keep each business's p90 wait under
a target, for a given demand, by simulation through the real engine.

Each business is planned with windows of its own (专窗), so businesses do not interact and each is
simulated alone on the same citizens as the whole hall would see (common random numbers). A
business's plan is one count per half hour from opening to the last ticket issued; the windows open
in the last half hour stay to serve what still waits (延时), like the simulator's other windows.

Search, per business:
1. start from Erlang C (M/M/c, each half hour on its own): the fewest windows with P(wait > target)
   ≤ 10% at that half hour's arrival rate and mean case time;
2. while some half hour's p90 (of tickets issued in it, pooled over the days) is over the target,
   add a window to the first half hour of each run of late half hours (a backlog starts there);
3. then take windows away one at a time, from the half hour with the lowest p90 (the most slack)
   first, keeping each removal only if every half hour still meets the target; a half hour that
   cannot spare one more is left alone. Most slack first keeps the plan even: a window taken from
   a busy half hour would push its backlog onto the next one.
Results of a plan already simulated are remembered, so no plan is simulated twice.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from queued.core.hall import Window
from queued.simulate.arrivals import erlang_c_quantile_windows
from queued.simulate.demand import Shift
from queued.simulate.run import run_days, sampled_eta
from queued.simulate.scenario import Scenario
from queued.simulate.summary import p90, summarize

SLOT_MIN = 30
MAX_WINDOWS = 200  # per business and half hour: past this the demand cannot be met by windows alone
MAX_ROUNDS = 40


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class BusinessPlanner:
    def __init__(self, scenario: Scenario, code: str, slots: list[int], target_s: float, days: int, seed: int):
        self.base = scenario
        self.code = code
        self.slots = slots  # slot start minutes
        self.target = target_s
        self.days = days
        self.seed = seed
        self.cache: dict[tuple[int, ...], list[float | None]] = {}
        self.arrivals: dict = {}  # the same citizens for every plan: drawn once
        self.runs = 0
        arrivals = [a for a in scenario.demand.arrivals if a.business == code]
        bookings = [b for b in scenario.demand.bookings if b.business == code]
        self.demand = replace(scenario.demand, arrivals=tuple(arrivals), bookings=tuple(bookings), plan=())
        self.business = scenario.hall.business_index[code]

    def expected(self, k: int) -> float:
        """Expected tickets issued in slot k (walk-ins and booked check-ins)."""
        a, b = self.slots[k], self.slots[k] + SLOT_MIN
        n = 0.0
        for arr in self.demand.arrivals:
            for s, e, rate in arr.pieces:
                n += max(0, min(b, e) - max(a, s)) / 60 * rate
        for bk in self.demand.bookings:
            n += sum(mean for m, mean in bk.slots if a <= m < b)
        return n

    def case_s(self) -> float:
        svc = self.base.service(self.code)
        policy = self.demand.clerks
        no_show = self.demand.arrivals[0].no_show if self.demand.arrivals else 0.0
        return ((1 - no_show) * (svc.mean_s + policy.walk_s)
                + no_show * (policy.recalls + 1) * policy.recall_every_s)

    def start(self) -> list[int]:
        case = self.case_s()
        out = []
        for k in range(len(self.slots)):
            n = self.expected(k)
            c = erlang_c_quantile_windows(n / (SLOT_MIN * 60), case, self.target) if n > 0 else 0
            out.append(min(MAX_WINDOWS, max(c, 1 if n > 0 else 0)))
        return out

    def floor(self) -> list[int]:
        return [1 if self.expected(k) > 0 else 0 for k in range(len(self.slots))]

    def scenario(self, counts: list[int]) -> Scenario:
        """Windows "A1".."An" serving only this business, open per half hour as `counts` says."""
        last_end = self.base.day_end
        top = max(counts, default=0)
        shifts = []
        for j in range(top):
            start = None
            for k, n in enumerate(counts + [0]):
                open_now = k < len(counts) and n > j
                if open_now and start is None:
                    start = self.slots[k]
                if not open_now and start is not None:  # the last half hour's windows serve on (延时)
                    end = self.slots[k] if k < len(counts) else max(last_end, self.slots[-1] + SLOT_MIN)
                    shifts.append(Shift(f"{self.code}{j + 1}", start, max(end, start + 1), (self.code,)))
                    start = None
        windows = tuple(Window(f"{self.code}{j + 1}", (self.code,)) for j in range(top))
        hall = replace(self.base.hall, businesses=(self.business,), windows=windows, business_index={},
                       window_index={}, clerk_index={})
        return Scenario(hall, replace(self.demand, plan=tuple(shifts)), self.base.timezone, f"plan-{self.code}")

    def evaluate(self, counts: list[int]) -> list[float | None]:
        """p90 wait of the tickets issued in each slot, over the simulated days."""
        key = tuple(counts)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        self.runs += 1
        results = run_days(self.scenario(counts), self.days, self.seed, eta_every=0, arrivals_cache=self.arrivals)
        per_slot: list[list[float]] = [[] for _ in self.slots]
        first, n = self.slots[0] * 60, len(self.slots)
        for r in results:
            t = r.businesses[self.code]
            for at, wait in zip(t.issued_at, t.waits, strict=True):
                k = int((at - first) // (SLOT_MIN * 60))
                per_slot[min(max(k, 0), n - 1)].append(wait)
        out = [p90(w) for w in per_slot]
        self.cache[key] = out
        return out

    def late(self, p90s: list[float | None]) -> list[int]:
        return [k for k, v in enumerate(p90s) if v is not None and v > self.target]

    def plan(self) -> tuple[list[int], list[float | None], bool]:
        counts = self.start()
        floor = self.floor()
        for _ in range(MAX_ROUNDS):
            late = self.late(self.evaluate(counts))
            if not late:
                break
            grew = False
            for k in late:
                if (k - 1 not in late) and counts[k] < MAX_WINDOWS:  # the first slot of a late run
                    counts[k] += 1
                    grew = True
            if not grew:
                break
        met = not self.late(self.evaluate(counts))
        if met:  # take windows away where there is most slack first, until no half hour can spare one
            fixed = {k for k in range(len(counts)) if counts[k] <= floor[k]}
            while len(fixed) < len(counts):
                p90s = self.evaluate(counts)
                k = min((k for k in range(len(counts)) if k not in fixed),
                        key=lambda k: (p90s[k] or 0.0, -counts[k], k))
                trial = counts.copy()
                trial[k] -= 1
                if self.late(self.evaluate(trial)):
                    fixed.add(k)
                else:
                    counts = trial
                    if counts[k] <= floor[k]:
                        fixed.add(k)
        return counts, self.evaluate(counts), met


def planning_slots(scenario: Scenario) -> list[int]:
    """Half hours from opening to the last ticket issued (the end of arrivals or of issuing)."""
    opens = scenario.opens
    last = scenario.demand.last_minute()
    if scenario.closing.stop_issuing is not None:
        last = min(last, scenario.closing.stop_issuing)
    first = opens - opens % SLOT_MIN
    return list(range(first, max(last, first + 1), SLOT_MIN))


def plan_windows(scenario: Scenario, target_p90_s: float, days: int, seed: int) -> dict[str, Any]:
    slots = planning_slots(scenario)
    codes = [a.business for a in scenario.demand.arrivals] + [
        b.business for b in scenario.demand.bookings if b.business not in {a.business for a in scenario.demand.arrivals}]
    plans: dict[str, tuple[list[int], list[float | None], bool]] = {}
    runs = 0
    shifts: list[Shift] = []
    windows: list[Window] = []
    for code in codes:
        bp = BusinessPlanner(scenario, code, slots, target_p90_s, days, seed)
        plans[code] = bp.plan()
        runs += bp.runs
        final = bp.scenario(plans[code][0])
        shifts += final.demand.plan or ()
        windows += final.hall.windows
    rows = []
    for k, start in enumerate(slots):
        counts = {code: plans[code][0][k] for code in codes}
        rows.append({"from": _hhmm(start), "to": _hhmm(start + SLOT_MIN), "windows": counts,
                     "total": sum(counts.values()),
                     "p90_wait_s": {code: None if plans[code][1][k] is None else round(plans[code][1][k], 1)
                                    for code in codes}})
    hours = {code: sum(plans[code][0]) * SLOT_MIN / 60 for code in codes}
    # the whole hall on the planned windows, with ETAs, for the summary beside the table
    hall = replace(scenario.hall, windows=tuple(windows), business_index={}, window_index={}, clerk_index={})
    whole = Scenario(hall, replace(scenario.demand, plan=tuple(shifts)), scenario.timezone, "planned")
    summary = summarize(whole, run_days(whole, days, seed, eta_every=sampled_eta(whole)), seed)
    return {
        "target_p90_s": target_p90_s, "days": days, "seed": seed, "slot_minutes": SLOT_MIN,
        "businesses": {code: scenario.hall.business_index[code].name for code in codes},
        "slots": rows,
        "window_hours": hours, "total_window_hours": sum(hours.values()),
        "peak_windows": max((r["total"] for r in rows), default=0),
        "met": {code: plans[code][2] for code in codes},
        "simulations": runs + 1,
        "summary": summary,
    }
