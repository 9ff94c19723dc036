"""ETA and position accuracy on a simulated hall day, driving the real engine with a simulated clock.

A hall of 7 businesses and 12 windows (shared between businesses, each in its own preference
order, clerks of different speeds) takes a day of arrivals (a morning and an afternoon peak,
some green-channel tickets, some bookings checked in before their slot), serves them with
log-normal service times, lunch pauses and no-shows (called, skipped a minute later). Every ticket's
estimate is recorded when it is issued and every 5 minutes while it waits; the error is against
what then happened:

- ETA error: |reported eta_seconds − the wait that followed (until its first call)|, in minutes;
- position error: |reported people ahead − tickets of its window group actually called before it|.

Both the engine's estimate and its position are what the citizen reads on the kiosk slip and on /m.

Run: .venv/bin/python bench/bench_eta.py [--days 5]
"""

from __future__ import annotations

import argparse
import heapq
import inspect
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queued.core import CallNext, Engine, Finish, IssueTicket, Pause, Resume, Skip, Start  # noqa: E402
from queued.core.calendar import HallCalendar  # noqa: E402
from queued.core.hall import Business, HallConfig, Window  # noqa: E402

DAY = "2026-11-16"  # a Monday
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


def hall() -> HallConfig:
    return HallConfig(
        id="bench", name="bench",
        businesses=tuple(Business(c, n) for c, n, _, _ in BUSINESSES),
        windows=tuple(Window(w, tuple(bs)) for w, bs, _, _ in WINDOWS),
        max_wait_s=3600, default_service_s=420,
    )


def arrivals(rng: random.Random, cal: HallCalendar) -> list[tuple[float, str, str, float | None]]:
    """(time, business, priority, due_at) from 08:30 to 16:30: peaks at 09:30 and 14:30."""
    out = []
    t = cal.at(DAY, 8 * 60 + 30)
    end = cal.at(DAY, 16 * 60 + 30)
    codes = [b[0] for b in BUSINESSES]
    weights = [b[3] for b in BUSINESSES]
    while True:
        minute = (t - cal.at(DAY, 0)) / 60
        rate = 0.9 + 0.9 * math.exp(-((minute - 570) / 60) ** 2) + 0.7 * math.exp(-((minute - 870) / 60) ** 2)
        t += rng.expovariate(rate / 60)
        if t >= end:
            return out
        b = rng.choices(codes, weights)[0]
        roll = rng.random()
        if roll < GREEN:
            out.append((t, b, "green", None))
        elif roll < GREEN + BOOKED:
            slot = t + rng.uniform(5, 25) * 60  # checked in 5–25 minutes before the booked slot
            out.append((t, b, "normal", slot - slot % 1800 + 1800))
        else:
            out.append((t, b, "normal", None))


class Day:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.cal = HallCalendar("Asia/Shanghai")
        self.eng = Engine(hall(), self.cal)
        self.now = self.cal.at(DAY, 8 * 60 + 25)
        self.queue: list[tuple[float, int, str, tuple]] = []
        self.n = 0
        self.speed = {w: s for w, _, s, _ in WINDOWS}
        self.lunch = {w for w, _, _, lunch in WINDOWS if lunch}
        self.mean = {c: m * 60 for c, _, m, _ in BUSINESSES}
        self.group = self._groups()
        self.issued: dict[str, dict] = {}
        self.called_in_group: dict[int, int] = {}
        self.samples: list[tuple[str, float, float, int, int]] = []  # ticket, at, eta, ahead, called so far
        self.busy_until: dict[str, float] = {}
        self.pausing: set[str] = set()
        sig = inspect.signature(self.eng.ticket_view)
        self.view = (lambda t: self.eng.ticket_view(t, self.now)) if "now" in sig.parameters else self.eng.ticket_view

    def _groups(self) -> dict[str, int]:
        """Window groups: businesses joined by windows that serve both."""
        parent = {c: c for c, *_ in BUSINESSES}

        def find(x):
            while parent[x] != x:
                x = parent[x]
            return x

        for _, bs, _, _ in WINDOWS:
            for b in bs[1:]:
                parent[find(b)] = find(bs[0])
        roots = sorted({find(c) for c in parent})
        return {c: roots.index(find(c)) for c in parent}

    def at(self, t: float, kind: str, *args) -> None:
        self.n += 1
        heapq.heappush(self.queue, (t, self.n, kind, args))

    def run(self) -> None:
        for t, b, prio, due in arrivals(self.rng, self.cal):
            self.at(t, "arrive", b, prio, due)
        for w, *_ in WINDOWS:
            self.at(self.cal.at(DAY, 8 * 60 + 30) + self.rng.uniform(0, 120), "free", w)
            if w in self.lunch:
                self.at(self.cal.at(DAY, 12 * 60) + self.rng.uniform(0, 600), "lunch", w)
        self.at(self.cal.at(DAY, 8 * 60 + 30), "sample")
        while self.queue:
            t, _, kind, args = heapq.heappop(self.queue)
            self.now = t
            getattr(self, "on_" + kind)(*args)

    def ex(self, cmd):
        return self.eng.execute(cmd, self.now)

    def on_arrive(self, business: str, priority: str, due: float | None) -> None:
        tid = f"t{len(self.issued)}"
        self.ex(IssueTicket(business, tid, priority=priority, due_at=due, appointment="bk" if due else None))
        v = self.view(self.eng.tickets[tid])
        self.issued[tid] = {"at": self.now, "eta": v["eta_seconds"], "ahead": v["position"] - 1,
                            "group": self.group[business], "called_before": self.called_in_group.get(self.group[business], 0)}
        for w in self.eng.windows.values():  # an idle clerk notices the new ticket within seconds
            if w.state == "idle" and business in w.businesses and w.id not in self.pausing:
                self.at(self.now + self.rng.uniform(3, 15), "free", w.id)

    def on_free(self, window: str) -> None:
        w = self.eng.windows[window]
        if w.state in ("calling", "paused") or (w.state == "serving" and self.busy_until.get(window, 0) > self.now):
            return
        if window in self.pausing:
            if w.state == "serving":
                self.ex(Finish(window))
            self.ex(Pause(window))
            self.pausing.discard(window)
            self.at(self.cal.at(DAY, 13 * 60 + 30) + self.rng.uniform(0, 600), "resume", window)
            return
        evs = self.ex(CallNext(window))
        called = [e for e in evs if e.kind == "ticket_called"]
        if not called:
            return
        t = self.eng.tickets[called[0].ticket]
        rec = self.issued.get(t.id)
        if rec is not None and "wait" not in rec:
            rec["wait"] = self.now - rec["at"]
            rec["ahead_actual"] = self.called_in_group.get(rec["group"], 0) - rec["called_before"]
            rec["called_at"] = self.now
        g = self.group[t.business]
        self.called_in_group[g] = self.called_in_group.get(g, 0) + 1
        if self.rng.random() < NO_SHOW:
            self.at(self.now + 60, "skip", window)
            return
        service = self.rng.lognormvariate(math.log(self.mean[t.business] * self.speed[window]) - 0.18, 0.6)
        self.busy_until[window] = self.now + 30 + service
        self.at(self.now + 30 + service, "free", window)  # 30 s to walk up and sit down
        self.at(self.now + 30, "start", window, t.id)

    def on_start(self, window: str, ticket: str) -> None:
        w = self.eng.windows[window]
        if w.state == "calling" and w.current is not None and w.current.id == ticket:
            self.ex(Start(window))

    def on_skip(self, window: str) -> None:
        if self.eng.windows[window].state == "calling":
            self.ex(Skip(window))
        self.on_free(window)

    def on_lunch(self, window: str) -> None:
        self.pausing.add(window)
        if self.eng.windows[window].state in ("idle", "closed"):
            self.on_free(window)

    def on_resume(self, window: str) -> None:
        self.ex(Resume(window))
        self.on_free(window)

    def on_sample(self) -> None:
        for t in self.eng.tickets.values():
            if t.status == "waiting":
                v = self.view(t)
                if v["eta_seconds"] is not None:
                    self.samples.append((t.id, self.now, v["eta_seconds"], v["position"] - 1,
                                         self.called_in_group.get(self.group[t.business], 0)))
        if any(t.status == "waiting" for t in self.eng.tickets.values()) or self.now < self.cal.at(DAY, 16 * 60 + 30):
            self.at(self.now + SAMPLE_S, "sample")


def measure(seed: int) -> dict:
    d = Day(seed)
    d.run()
    served = [r for r in d.issued.values() if "wait" in r]
    issue_err = [abs(r["eta"] - r["wait"]) / 60 for r in served if r["eta"] is not None]
    pos_err = [abs(r["ahead"] - r["ahead_actual"]) for r in served]
    sample_err, sample_pos = [], []
    for tid, at, eta, ahead, called_then in d.samples:
        r = d.issued.get(tid)
        if r is None or "called_at" not in r:
            continue
        sample_err.append(abs(eta - (r["called_at"] - at)) / 60)
        # tickets of its group called between the sample and its own call
        sample_pos.append(abs(ahead - (r["ahead_actual"] + r["called_before"] - called_then)))
    return {
        "tickets": len(d.issued), "served": len(served),
        "eta_issue": statistics.mean(issue_err), "eta_issue_p90": sorted(issue_err)[int(0.9 * len(issue_err))],
        "eta_sampled": statistics.mean(sample_err), "pos_issue": statistics.mean(pos_err),
        "pos_exact": sum(1 for x in pos_err if x == 0) / len(pos_err), "pos_sampled": statistics.mean(sample_pos),
        "wait_mean": statistics.mean(r["wait"] for r in served) / 60,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=5)
    args = ap.parse_args()
    runs = [measure(seed) for seed in range(1, args.days + 1)]
    print(f"eta: {args.days} simulated days, 7 businesses, 12 shared windows, real engine, simulated clock")
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
