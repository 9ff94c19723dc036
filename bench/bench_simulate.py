"""Simulator benchmark: the real engine on a simulated clock (queued.simulate).

- day: a 20,000-ticket day at 40 windows (8 businesses, windows serving 1–3 of them, no-shows,
  green channel), target ≤ 2 s on one core: the simulator without reading ETAs, and with the ETA
  of every 20th ticket read (the engine's estimate plays the hall forward, O(waiting) after each
  call, so its cost per read is printed apart);
- planner: a 30-day planner run on the example hall (docs/examples/sim_hall.toml and
  sim_demand.toml, p90 target 15 minutes), target ≤ 60 s;
- planner page: the hall while /admin/planner plans in its worker process: a durable ticket issue
  through the app and the event loop's lag, idle and during the run (the hall must not wait);
- eta: the live engine's ETA error on simulated days (mean and p90 of |ETA shown at issue − the
  wait that followed|), on the example hall and the 40-window hall: the figure the hall-day issue's
  position/ETA work is measured by.

Wall and CPU (process) time are both printed: on a shared machine CPU time is the steadier figure.

Run: .venv/bin/python bench/bench_simulate.py [--runs 3] [--skip-planner] [--skip-page]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queued.config import parse_config  # noqa: E402
from queued.core.hall import Business, HallConfig, Window  # noqa: E402
from queued.simulate.demand import Arrivals, ClerkPolicy, Demand, ServiceTime, parse_demand  # noqa: E402
from queued.simulate.planner import plan_windows  # noqa: E402
from queued.simulate.run import run_days, sampled_eta  # noqa: E402
from queued.simulate.scenario import Scenario  # noqa: E402
from queued.simulate.summary import summarize  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
CODES = "ABCDEFGH"


def big_hall() -> Scenario:
    """40 windows, 8 businesses: window i serves 1–3 businesses starting at its own; ~20,000 a day."""
    hall = HallConfig(
        id="bench", name="bench", businesses=tuple(Business(c, f"业务{c}") for c in CODES),
        windows=tuple(Window(str(i + 1), tuple(CODES[(i + k) % 8] for k in range(1 + i % 3))) for i in range(40)),
        closes_minute=17 * 60 + 30)
    per_hour = 20_000 / 9 / len(CODES)
    demand = Demand(tuple(Arrivals(c, ((8 * 60 + 30, 17 * 60 + 30, per_hour),), 0.03, 0.02) for c in CODES),
                    service={c: ServiceTime(57.0, "lognormal", 0.6) for c in CODES},
                    clerks=ClerkPolicy(walk_s=10.0, recall_every_s=20.0, recalls=2), opens=8 * 60 + 30)
    return Scenario(hall, demand, name="bench-40")


def example_hall() -> Scenario:
    cfg = parse_config((EXAMPLES / "sim_hall.toml").read_text(encoding="utf-8"), source="sim_hall.toml")
    demand = parse_demand((EXAMPLES / "sim_demand.toml").read_text(encoding="utf-8"), cfg.hall, "sim_demand.toml",
                          cfg.hall.closes_minute)
    return Scenario(cfg.hall, demand, cfg.timezone, "example")


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def bench_day(runs: int) -> None:
    sc = big_hall()
    run_days(sc, 1, 0, eta_every=0)  # warm up imports and caches
    best = {}
    for eta_every in (0, 20):
        walls, cpus, tickets, reads = [], [], 0, 0
        for seed in range(1, runs + 1):
            (res,), wall, cpu = timed(lambda seed=seed, k=eta_every: run_days(sc, 1, seed, eta_every=k))
            tickets = sum(b.issued for b in res.businesses.values())
            reads = sum(len(b.eta_errors) for b in res.businesses.values())
            walls.append(wall)
            cpus.append(cpu)
        best[eta_every] = min(cpus)
        what = "no ETA read" if not eta_every else f"the ETA of every {eta_every}th ticket read ({reads:,} reads)"
        print(f"simulate: one day at 40 windows, {tickets:,} tickets, {what}, {runs} runs")
        print(f"  wall {', '.join(f'{w:.2f}' for w in walls)} s; CPU {', '.join(f'{c:.2f}' for c in cpus)} s;"
              f" best {best[eta_every]:.2f} s = {best[eta_every] / tickets * 1e6:.1f} µs a ticket (target ≤ 2 s)")
    print(f"  the engine's ETA estimate: {(best[20] - best[0]) / max(1, reads) * 1e3:.2f} ms CPU a read at this load")


def bench_planner() -> None:
    sc = example_hall()
    result, wall, cpu = timed(lambda: plan_windows(sc, 15 * 60, 30, 1))
    per_day = result["summary"]["total"]["tickets"] / result["days"]
    print(f"planner: 30 simulated days of the example hall (~{per_day:,.0f} tickets a day, 4 businesses),"
          f" p90 ≤ 15 min per half hour")
    print(f"  {result['simulations']} plans simulated ({result['simulations'] * 30:,} days) in wall {wall:.1f} s,"
          f" CPU {cpu:.1f} s (target ≤ 60 s); plan: {result['total_window_hours']:g} window-hours,"
          f" peak {result['peak_windows']} windows")


def bench_eta(days: int) -> None:
    print(f"eta: the live engine's ETA at issue against the wait that followed, {days} simulated days each")
    for sc in (example_hall(), big_hall()):
        every = sampled_eta(sc)
        results = run_days(sc, days, 1, eta_every=every)
        s = summarize(sc, results, 1)
        errors = [x for r in results for b in r.businesses.values() for x in b.eta_errors]
        waits = [x for r in results for b in r.businesses.values() for x in b.waits]
        print(f"  {sc.name}: {len(errors):,} tickets{'' if every == 1 else f' (every {every}th)'}, mean wait {statistics.mean(waits) / 60:.1f} min;"
              f" |ETA − wait| mean {s['eta_error']['mean_s'] / 60:.2f} min, p90 {s['eta_error']['p90_s'] / 60:.2f} min")


def bench_page(planner_days: int) -> None:
    """The hall while /admin/planner runs: ticket issue over the app and the loop's own lag."""
    import asyncio
    import tempfile

    asyncio.run(_bench_page(Path(tempfile.mkdtemp(prefix="bench-sim-")), planner_days))


async def _bench_page(tmp: Path, planner_days: int) -> None:
    import asyncio

    import httpx

    from queued.auth import create_token
    from queued.core.calendar import HallCalendar
    from queued.daemon import Daemon
    from queued.simulate.journaled import write_journal

    sc = example_hall()
    db = tmp / "hall.sqlite3"
    await write_journal(str(db), sc, run_days(sc, 10, 5, record_events=True))
    text = (EXAMPLES / "sim_hall.toml").read_text(encoding="utf-8").replace(
        'database = "sim_hall.sqlite3"', f'database = "{db}"\nhttp = "127.0.0.1:1"')
    cfg = parse_config(text, source="sim_hall")
    now = HallCalendar(cfg.timezone).at("2026-03-16", 10 * 60)
    d = Daemon(cfg, clock=lambda: now, adapters=["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter",
                                                 "queued.simulate.admin:PlannerPage"])
    await d.start()
    kiosk = {"Authorization": f"Bearer {create_token(str(db), 'kiosk', None, None)}"}
    sup = {"Authorization": f"Bearer {create_token(str(db), 'supervisor', None, None)}"}
    page = d.adapter("PlannerPage")

    async def sample(client, n: int, while_running: bool) -> tuple[list[float], list[float]]:
        issue, lag = [], []
        for i in range(n):
            if while_running and page.running is None:
                break
            t0 = time.perf_counter()
            r = await client.post("/api/v1/tickets", json={"business": "ABCD"[i % 4]}, headers=kiosk)
            issue.append(time.perf_counter() - t0)
            assert r.status_code == 201, r.text
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            lag.append(time.perf_counter() - t0 - 0.005)
        return issue, lag

    def fmt(xs: list[float]) -> str:
        s = sorted(xs)
        return f"median {statistics.median(s) * 1000:.2f} ms, p99 {s[int(0.99 * (len(s) - 1))] * 1000:.2f} ms"

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as c:
            quiet = await sample(c, 400, False)
            r = await c.post("/admin/planner", headers=sup, data={"weeks": "2", "target": "15",
                                                                  "days": str(planner_days)})
            assert r.status_code == 303
            t0 = time.perf_counter()
            busy = await sample(c, 100_000, True)
            while page.running is not None:
                await asyncio.sleep(0.1)
            took = time.perf_counter() - t0
    finally:
        await d.stop()
    print(f"planner page: the hall while /admin/planner plans {planner_days} days of its history in the worker"
          f" ({took:.1f} s, {'ok' if page.last.get('ok') else page.last.get('error')})")
    print(f"  ticket issue (POST /api/v1/tickets, durable): idle {fmt(quiet[0])}; during the run {fmt(busy[0])}"
          f" ({len(busy[0])} tickets)")
    print(f"  event loop lag (sleep 5 ms overshoot): idle {fmt(quiet[1])}; during the run {fmt(busy[1])}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--eta-days", type=int, default=20)
    ap.add_argument("--skip-planner", action="store_true")
    ap.add_argument("--skip-page", action="store_true")
    ap.add_argument("--page-days", type=int, default=20, help="days the /admin/planner run simulates")
    args = ap.parse_args()
    bench_day(args.runs)
    if not args.skip_planner:
        bench_planner()
    bench_eta(args.eta_days)
    if not args.skip_page:
        bench_page(args.page_days)


if __name__ == "__main__":
    main()
