"""ETA and position accuracy on simulated hall days: the real engine on a simulated clock, driven by
the shared simulated-day driver (`queued.simulate`, the one `queued simulate` and the planner use).

A hall of 7 businesses and 12 windows (shared between businesses, each in its own preference
order, clerks of different speeds) takes a day of arrivals (a morning and an afternoon peak, some
green-channel tickets, some bookings checked in 5–35 minutes before their slot), serves them with
log-normal case times, lunch pauses and no-shows (called, skipped a minute later). Every ticket's
estimate is recorded when it is issued and every 5 minutes while it waits; the error is against
what then happened:

- ETA error: |reported eta_seconds − the wait that followed (until its first call)|, in minutes;
- position error: |reported people ahead − tickets of its window group actually called before it|.

Both are what the citizen reads on the kiosk slip and on /m. The clerks are the simulator's: an idle
window calls at once, 办结 then 呼叫, a no-show is skipped after a minute (`[clerks] recalls = 0`).

Run: .venv/bin/python bench/bench_eta.py [--days 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queued.core.hall import Business, HallConfig, Window  # noqa: E402
from queued.simulate.demand import Arrivals, Bookings, ClerkPolicy, Demand, ServiceTime, Shift  # noqa: E402
from queued.simulate.run import run_days  # noqa: E402
from queued.simulate.scenario import Scenario  # noqa: E402

# code, name, mean service minutes, share of arrivals
BUSINESSES = [
    ("A", "综合受理", 6, 0.30), ("B", "不动产登记", 14, 0.15), ("C", "社保医保", 5, 0.20),
    ("D", "税务", 9, 0.12), ("E", "公积金", 7, 0.10), ("F", "出入境", 4, 0.08), ("G", "市场准入", 11, 0.05),
]
WINDOWS = [  # id, businesses in preference order, clerk speed (1 = average), lunch pause
    ("1", "A", 1.0, False), ("2", "AC", 0.8, True), ("3", "AB", 1.2, False), ("4", "BA", 1.0, True),
    ("5", "B", 1.3, False), ("6", "CA", 0.9, False), ("7", "CE", 1.1, True), ("8", "DG", 1.0, False),
    ("9", "D", 1.2, True), ("10", "EC", 0.9, False), ("11", "FA", 0.7, False), ("12", "GD", 1.0, True),
]
NO_SHOW = 0.03
GREEN = 0.03
BOOKED = 0.06
SAMPLE_S = 300
OPENS, LAST = 8 * 60 + 30, 16 * 60 + 30


def rate_per_minute(minute: float) -> float:
    """All arrivals per minute: peaks at 09:30 and 14:30."""
    return 0.9 + 0.9 * math.exp(-((minute - 570) / 60) ** 2) + 0.7 * math.exp(-((minute - 870) / 60) ** 2)


def scenario() -> Scenario:
    hall = HallConfig(id="bench", name="bench", businesses=tuple(Business(c, n) for c, n, _, _ in BUSINESSES),
                      windows=tuple(Window(w, tuple(bs)) for w, bs, _, _ in WINDOWS), max_wait_s=3600,
                      default_service_s=420, closes_minute=17 * 60 + 30)
    arrivals, bookings = [], []
    for code, _, _, share in BUSINESSES:
        pieces = tuple((m, m + 10, 60 * rate_per_minute(m + 5) * share * (1 - BOOKED)) for m in range(OPENS, LAST, 10))
        arrivals.append(Arrivals(code, pieces, NO_SHOW, GREEN))
        slots = tuple((s, BOOKED * share * 30 * rate_per_minute(s - 20)) for s in range(OPENS + 30, LAST + 30, 30))
        bookings.append(Bookings(code, slots, (5.0, 35.0)))
    sigma2 = 0.36  # the case times' log-normal σ = 0.6
    service = {code: ServiceTime(m * 60.0, "lognormal", math.sqrt(math.expm1(sigma2))) for code, _, m, _ in BUSINESSES}
    plan = tuple(Shift(w, OPENS, 17 * 60 + 30, None, ((12 * 60 + 5, 13 * 60 + 35),) if lunch else (), speed)
                 for w, _, speed, lunch in WINDOWS)
    demand = Demand(tuple(arrivals), tuple(bookings), service, ClerkPolicy(walk_s=30.0, recall_every_s=60.0, recalls=0),
                    plan, OPENS, "bench_eta")
    return Scenario(hall, demand, name="bench-eta")


def groups(sc: Scenario) -> dict[str, int]:
    """Window groups: businesses joined by windows that serve both."""
    parent = {b.code: b.code for b in sc.hall.businesses}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for w in sc.engine_windows:
        for b in w.businesses[1:]:
            parent[find(b)] = find(w.businesses[0])
    roots = sorted({find(c) for c in parent})
    return {c: roots.index(find(c)) for c in parent}


class Watch:
    """The observer: positions at issue and every 5 minutes, and the calls of each window group."""

    def __init__(self, sc: Scenario):
        self.group = groups(sc)
        self.called_in_group: dict[int, int] = {}
        self.issued: dict[str, dict] = {}
        self.samples: list[tuple[str, float, float, int, int]] = []  # ticket, at, eta, ahead, group calls so far

    def issued_ticket(self, sim, t) -> None:
        est = sim.eng.estimate(t, sim.now)
        g = self.group[t.business]
        self.issued[t.id] = {"at": sim.now, "eta": est.eta_seconds, "ahead": est.position - 1, "group": g,
                             "called_before": self.called_in_group.get(g, 0)}

    def called_ticket(self, sim, t) -> None:
        rec = self.issued.get(t.id)
        g = self.group[t.business]
        if rec is not None and "called_at" not in rec:
            rec["called_at"] = sim.now
            rec["ahead_actual"] = self.called_in_group.get(rec["group"], 0) - rec["called_before"]
        self.called_in_group[g] = self.called_in_group.get(g, 0) + 1

    def sample(self, sim) -> None:
        for t in sim.eng.tickets.values():
            if t.status == "waiting":
                est = sim.eng.estimate(t, sim.now)
                if est.eta_seconds is not None:
                    self.samples.append((t.id, sim.now, est.eta_seconds, est.position - 1,
                                         self.called_in_group.get(self.group[t.business], 0)))


def measure(sc: Scenario, seed: int) -> dict:
    w = Watch(sc)
    (day,) = run_days(sc, 1, seed, eta_every=0, observer=w, sample_every_s=SAMPLE_S)
    served = [r for r in w.issued.values() if "called_at" in r]
    issue_err = sorted(abs(r["eta"] - (r["called_at"] - r["at"])) / 60 for r in served if r["eta"] is not None)
    pos_err = [abs(r["ahead"] - r["ahead_actual"]) for r in served]
    sample_err, sample_pos = [], []
    for tid, at, eta, ahead, called_then in w.samples:
        r = w.issued.get(tid)
        if r is None or "called_at" not in r:
            continue
        sample_err.append(abs(eta - (r["called_at"] - at)) / 60)
        sample_pos.append(abs(ahead - (r["ahead_actual"] + r["called_before"] - called_then)))
    waits = [x for b in day.businesses.values() for x in b.waits]
    return {
        "tickets": len(w.issued), "served": len(served),
        "eta_issue": statistics.mean(issue_err), "eta_issue_p90": issue_err[(9 * len(issue_err) + 9) // 10 - 1],
        "eta_sampled": statistics.mean(sample_err), "pos_issue": statistics.mean(pos_err),
        "pos_exact": sum(1 for x in pos_err if x == 0) / len(pos_err), "pos_sampled": statistics.mean(sample_pos),
        "wait_mean": statistics.mean(waits) / 60,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=5)
    args = ap.parse_args()
    sc = scenario()
    runs = [measure(sc, seed) for seed in range(1, args.days + 1)]
    print(f"eta: {args.days} simulated days, 7 businesses, 12 shared windows, real engine, simulated clock"
          " (queued.simulate)")
    for i, r in enumerate(runs, 1):
        print(f"  day {i}: {r['tickets']} tickets ({r['served']} called), mean wait {r['wait_mean']:.1f} min;"
              f" ETA error at issue {r['eta_issue']:.2f} min (p90 {r['eta_issue_p90']:.1f}),"
              f" every 5 min {r['eta_sampled']:.2f} min; people-ahead error at issue {r['pos_issue']:.2f}"
              f" ({r['pos_exact']:.0%} exact), every 5 min {r['pos_sampled']:.2f}")
    mean = lambda k: statistics.mean(r[k] for r in runs)  # noqa: E731
    print(f"  mean absolute ETA error: {mean('eta_issue'):.2f} min at issue, {mean('eta_sampled'):.2f} min"
          f" sampled every 5 min; mean people-ahead error: {mean('pos_issue'):.2f} at issue,"
          f" {mean('pos_sampled'):.2f} sampled")


if __name__ == "__main__":
    main()
