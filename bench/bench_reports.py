"""Benchmark: review and queue reports over a year of a busy hall (≥ 1,000,000 rated cases).

Fills a SQLite file (the daemon's own schema: core tables + evaluator tables and indexes) with a year
of tickets, cases and ratings by bulk `executemany`, then times each report through the same code
the HTTP endpoints run (`evaluator.reports` on a `queued.journal.Journal`). Target: ≤ 1 s each.

    .venv/bin/python bench/bench_reports.py [--cases 1100000] [--db /tmp/bench_reports.sqlite3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import evaluator.projection  # noqa: E402,F401  (registers the evaluator schema)
from evaluator import reports  # noqa: E402
from queued.config import demo_config  # noqa: E402
from queued.core.calendar import HallCalendar  # noqa: E402
from queued.journal import Journal  # noqa: E402
from queued.journal import projection as core_projection  # noqa: E402
from queued.journal.schema import CORE_SCHEMA  # noqa: E402

FIRST = date(2025, 1, 1)
WINDOWS = [str(i) for i in range(1, 41)]
CLERKS = [f"{1000 + i}" for i in range(1, 81)]
BUSINESSES = list("ABCDEFGHJK")


def working_days(n_days: int = 365) -> list[str]:
    days = [FIRST + timedelta(days=i) for i in range(n_days)]
    return [d.isoformat() for d in days if d.weekday() < 5]


def fill(path: str, n_cases: int) -> tuple[int, int]:
    if os.path.exists(path):
        os.remove(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executescript(CORE_SCHEMA + "\n".join(core_projection.SCHEMAS))
    rnd = random.Random(1)
    cal = HallCalendar("Asia/Shanghai")
    days = working_days()
    per_day = -(-n_cases // len(days))
    serial = 0
    tickets = cases = 0
    levels = [5] * 50 + [4] * 25 + [3] * 12 + [2] * 5 + [1] * 3 + [None] * 5
    for day in days:
        t0 = cal.at(day, 9 * 60)
        trows, crows, rrows = [], [], []
        counters = dict.fromkeys(BUSINESSES, 0)
        for _ in range(int(per_day * 1.08)):  # a few tickets are skipped or cancelled, not served
            serial += 1
            b = rnd.choice(BUSINESSES)
            counters[b] += 1
            issued = t0 + rnd.random() * 8 * 3600
            roll = rnd.random()
            w, k = rnd.choice(WINDOWS), rnd.choice(CLERKS)
            tid = f"t{serial}"
            number = f"{b}{counters[b]:03d}"
            if roll < 0.03:
                trows.append((tid, serial, day, number, b, "kiosk", "normal", issued, None, None, None, None, None,
                              None, "cancelled", None, None))
                continue
            called = issued + rnd.expovariate(1 / 600)
            if roll < 0.08:
                trows.append((tid, serial, day, number, b, "kiosk", "normal", issued, called, called, None, None,
                              w, k, "skipped", None, None))
                continue
            service = 60 + rnd.expovariate(1 / 400)
            fin = called + service
            trows.append((tid, serial, day, number, b, "kiosk", "normal", issued, called, called, called, fin, w, k,
                          "done", called - issued, service))
            level = rnd.choice(levels)
            reasons = rnd.choice([0, 1, 2, 4, 8, 3, 16, 32]) if level is not None and level <= 2 else 0
            state = "rated" if level is not None else rnd.choice(["open", "unrated"])
            crows.append((serial, tid, day, number, b, w, k, fin, called - issued, service, state, level, 0,
                          reasons, fin + 20 if level else None))
            if state != "open":
                rrows.append((serial, tid, day, fin + 20, b, w, k, level, reasons, "", rnd.choice(["pad", "qr"]),
                              0, int(level is not None and level <= 2 and reasons == 0), None))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO tickets (id, serial, day, number, business, channel, priority, issued_at, first_called_at,"
            " called_at, started_at, finished_at, window, clerk, status, wait_s, service_s)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", trows)
        conn.executemany(
            "INSERT INTO cases (case_id, ticket, day, number, business, window, clerk, finished_at, wait_s,"
            " service_s, state, level, defaulted, reasons, rated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", crows)
        conn.executemany(
            "INSERT INTO ratings (case_id, ticket, day, at, business, window, clerk, level, reasons, comment, channel,"
            " defaulted, no_reason, replaced) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rrows)
        conn.execute("COMMIT")
        tickets += len(trows)
        cases += len(crows)
    conn.execute("ANALYZE")
    conn.close()
    return tickets, cases


async def timed(label: str, fn) -> float:
    best = float("inf")
    rows = None
    for _ in range(3):
        t = time.perf_counter()
        rows = await fn()
        best = min(best, time.perf_counter() - t)
    print(f"  {label:<34} {best * 1000:8.1f} ms  ({len(rows)} rows)")
    return best


async def run(path: str) -> None:
    hall = demo_config().hall
    journal = Journal(path, HallCalendar("Asia/Shanghai"))
    await journal.open()
    try:
        row = await journal.fetchone("SELECT COUNT(*), COUNT(level), MIN(day), MAX(day) FROM cases")
        print(f"cases {row[0]:,} (rated {row[1]:,}) from {row[2]} to {row[3]}")
        start, end = row[2], row[3]
        worst = 0.0
        for g in reports.GROUPS:
            worst = max(worst, await timed(f"reviews  year group_by={g}",
                                           lambda g=g: reports.reviews(journal, hall, start, end, g)))
        for g in reports.GROUPS:
            worst = max(worst, await timed(f"queues   year group_by={g}",
                                           lambda g=g: reports.queues(journal, hall, start, end, g)))
        await timed("reviews  one month group_by=clerk",
                    lambda: reports.reviews(journal, hall, "2025-06-01", "2025-06-30", "clerk"))
        print(f"slowest year report: {worst * 1000:.1f} ms (target ≤ 1000 ms) -> {'OK' if worst <= 1 else 'SLOW'}")
    finally:
        await journal.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_100_000, help="served cases (95%% of them rated)")
    ap.add_argument("--db", default="/tmp/bench_reports.sqlite3")
    ap.add_argument("--reuse", action="store_true", help="time an existing file without refilling it")
    ap.add_argument("--keep", action="store_true", help="keep the database file afterwards")
    args = ap.parse_args()
    if not args.reuse:
        t = time.perf_counter()
        tickets, cases = fill(args.db, args.cases)
        print(f"filled {args.db}: {tickets:,} tickets, {cases:,} cases in {time.perf_counter() - t:.1f} s")
    asyncio.run(run(args.db))
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(args.db + suffix):
                os.remove(args.db + suffix)


if __name__ == "__main__":
    main()
