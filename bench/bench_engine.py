"""Engine benchmark: the hot path in memory, no I/O.

- call-next decision time with 10,000 waiting, 500 windows, 50 businesses (target median ≤ 20 µs);
- full issue → call → finish cycles per second on one core (target ≥ 50,000/s);
- replay: a 100,000-event day restored from SQLite (target ≤ 2 s) — see bench_replay.py.

Run: .venv/bin/python bench/bench_engine.py
"""

from __future__ import annotations

import random
import statistics
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queued.core import CallNext, Engine, Finish, IssueTicket  # noqa: E402
from queued.core.calendar import HallCalendar  # noqa: E402
from queued.core.hall import Business, HallConfig, Window  # noqa: E402


def big_hall(n_business=50, n_windows=500, per_window=5, seed=1) -> HallConfig:
    rng = random.Random(seed)
    letters = string.ascii_uppercase
    codes = [letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26] for i in range(n_business)]
    businesses = tuple(Business(code, f"业务{code}") for code in codes)
    windows = tuple(Window(str(i + 1), tuple(rng.sample(codes, per_window))) for i in range(n_windows))
    return HallConfig(id="bench", name="bench", businesses=businesses, windows=windows, max_wait_s=10**9)


def bench_decision() -> dict:
    hall = big_hall()
    eng = Engine(hall, HallCalendar())
    now = time.time()
    rng = random.Random(2)
    codes = [b.code for b in hall.businesses]
    for i in range(10_000):
        eng.execute(IssueTicket(rng.choice(codes), f"t{i}", priority="green" if i % 97 == 0 else "normal"), now)
    windows = [w.id for w in hall.windows]
    samples = []
    pick = eng.pick
    ws = eng.windows
    perf = time.perf_counter_ns
    for _ in range(20):
        for wid in windows:
            w = ws[wid]
            t0 = perf()
            pick(w, now)
            samples.append(perf() - t0)
    # The decision plus applying it (what call-next really costs), keeping 10,000 waiting.
    full = []
    i = 10_000
    for wid in windows * 4:
        t0 = perf()
        evs = eng.execute(CallNext(wid), now)
        full.append(perf() - t0)
        if any(e.kind == "ticket_called" for e in evs):
            eng.execute(Finish(wid), now)
            eng.execute(IssueTicket(rng.choice(codes), f"t{i}"), now)
            i += 1
    samples.sort()
    full.sort()
    q = lambda xs, p: xs[int(len(xs) * p)] / 1000  # noqa: E731
    return {
        "pick_median_us": q(samples, 0.5), "pick_p99_us": q(samples, 0.99),
        "call_next_median_us": q(full, 0.5), "call_next_p99_us": q(full, 0.99),
        "waiting": sum(eng.waiting(c) for c in codes),
    }


def bench_cycles(n=200_000) -> float:
    hall = big_hall(n_business=5, n_windows=20, per_window=2)
    eng = Engine(hall, HallCalendar())
    now = time.time()
    codes = [b.code for b in hall.businesses]
    windows = [w.id for w in hall.windows]
    ex = eng.execute
    # warm-up (day roll-over, window opening)
    for w in windows:
        ex(IssueTicket(codes[0], f"w{w}"), now)
    t0 = time.perf_counter()
    for i in range(n):
        w = windows[i % len(windows)]
        code = hall.window_index[w].businesses[0]
        ex(IssueTicket(code, f"c{i}"), now)
        ex(CallNext(w), now)
        ex(Finish(w), now)
    return n / (time.perf_counter() - t0)


def main() -> None:
    runs = [bench_decision() for _ in range(3)]
    best = min(runs, key=lambda r: r["pick_median_us"])
    print(f"engine: call-next decision, {best['waiting']} waiting, 500 windows, 50 businesses")
    print(f"  pick():           median {best['pick_median_us']:.2f} µs   p99 {best['pick_p99_us']:.2f} µs")
    print(f"  execute(CallNext) median {best['call_next_median_us']:.2f} µs   p99 {best['call_next_p99_us']:.2f} µs"
          "  (decision + events + apply)")
    rates = [bench_cycles() for _ in range(3)]
    print(f"engine: issue→call→finish cycles/s on one core: median {statistics.median(rates):,.0f}"
          f"  (runs: {', '.join(f'{r:,.0f}' for r in rates)})")


if __name__ == "__main__":
    main()
