"""The central service under a city's volume, against a throwaway PostgreSQL cluster it starts.

1. ingest: N halls' busy days (2,000 tickets each, with ratings) shipped over HTTP to a real
   `queued central serve`, the halls shipping concurrently in batches of 500 (gzip), as their
   shippers do: events/s stored (with the projections and the rollup, one transaction a batch).
2. year: a year of M halls generated in bulk (COPY, not the HTTP path) through the same projector
   the service runs at ingest (central/projector.py), so the rollup is what ingest would have
   kept; then the city review and queue reports over the year (the service's own queries,
   central/reports.py) timed over five runs, with EXPLAIN ANALYZE of their statements.

    .venv/bin/python bench/bench_central.py                 # brief: 10 halls' days, 10 halls × 1 year
    .venv/bin/python bench/bench_central.py --full          # 100 halls' days; 100 halls × 1 year (~50M events)
    .venv/bin/python bench/bench_central.py --year-halls 100 --keep /var/tmp/cityyear   # keep the cluster
    .venv/bin/python bench/bench_central.py --reuse /var/tmp/cityyear                   # query it again
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from central import projector, queue_rollup  # noqa: E402
from central.pgcluster import Cluster, free_port  # noqa: E402
from central.sample import hall_day, ingest_bodies, profile  # noqa: E402

# ---- 1. ingest over HTTP ---------------------------------------------------------------------------


def start_central(cluster: Cluster, folder: Path) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    conf = folder / "central.toml"
    conf.write_text(f'[central]\ndatabase = "{cluster.url}"\nhttp = "127.0.0.1:{port}"\npool_size = 16\n')
    log = open(folder / "central.log", "ab")
    proc = subprocess.Popen([str(ROOT / ".venv/bin/queued"), "central", "serve", "--config", str(conf)],
                            stdout=log, stderr=subprocess.STDOUT)
    import httpx
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                return proc, url, conf
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("central service did not start: " + (folder / "central.log").read_text())


def token(conf: Path, *args: str) -> str:
    out = subprocess.run([str(ROOT / ".venv/bin/queued"), "central", "token", "create", *args, "--config", str(conf)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def batches_for(h: int, day: dt.date, tickets: int, size: int = 500) -> tuple[list[bytes], int]:
    bodies, last = ingest_bodies(f"h{h}", h, [day], tickets, size)
    return [gzip.compress(json.dumps(b, ensure_ascii=False).encode(), 1) for b in bodies], last


async def ingest(cluster: Cluster, folder: Path, halls: int, tickets: int, concurrency: int) -> None:
    import httpx
    proc, url, conf = start_central(cluster, folder)
    try:
        day = dt.date.today() - dt.timedelta(days=1)
        tokens = {h: token(conf, "--hall", f"h{h}") for h in range(1, halls + 1)}
        t0 = time.perf_counter()
        prepared = {h: batches_for(h, day, tickets) for h in tokens}
        total = sum(n for _, n in prepared.values())
        print(f"ingest: {halls} halls × {tickets} tickets = {total:,} events in "
              f"{sum(len(b) for b, _ in prepared.values())} batches (prepared in {time.perf_counter() - t0:.1f} s)")
        sem = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def ship(client: httpx.AsyncClient, h: int) -> None:
            async with sem:
                headers = {"Authorization": f"Bearer {tokens[h]}", "Content-Type": "application/json",
                           "Content-Encoding": "gzip"}
                for body in prepared[h][0]:
                    s = time.perf_counter()
                    r = await client.post(url + "/api/v1/ingest", content=body, headers=headers)
                    latencies.append(time.perf_counter() - s)
                    if r.status_code != 200:
                        raise SystemExit(f"ingest refused: {r.status_code} {r.text[:300]}")

        async with httpx.AsyncClient(timeout=120) as client:
            t0 = time.perf_counter()
            await asyncio.gather(*(ship(client, h) for h in tokens))
            elapsed = time.perf_counter() - t0
        latencies.sort()
        print(f"ingest: {total:,} events in {elapsed:.1f} s = {total / elapsed:,.0f} events/s "
              f"({concurrency} halls at a time; batch p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms)")
    finally:
        proc.terminate()
        proc.wait(10)


# ---- 2. a year in bulk ------------------------------------------------------------------------------


def year_span(days: int) -> tuple[dt.date, dt.date]:
    end = dt.date.today().replace(day=1) - dt.timedelta(days=1)  # the last full month
    return end - dt.timedelta(days=days - 1), end


async def bulk_year(cluster: Cluster, halls: int, days: int, tickets: int, jobs: int) -> None:
    """Migrate, make the months' partitions, then load the halls in `jobs` processes at once."""
    import asyncpg

    from central import db
    conn = await asyncpg.connect(cluster.url)
    await db.migrate(conn)
    start, end = year_span(days)
    d, months = start.replace(day=1), set()
    while d <= end:
        months.add(d)
        d = db.next_month(d)
    await db.Partitions().ensure(conn, months)
    await conn.close()
    import concurrent.futures
    import multiprocessing
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        futures = [pool.submit(_load_halls, cluster.url, list(range(1 + j, halls + 1, jobs)), days, tickets)
                   for j in range(jobs)]
        total = 0
        for f in concurrent.futures.as_completed(futures):
            total += f.result()
    el = time.perf_counter() - t0
    print(f"year: {halls} halls × {days} days: {total:,} events loaded in {el:.0f} s ({total / el:,.0f} events/s,"
          f" {jobs} processes)", flush=True)
    conn = await asyncpg.connect(cluster.url)
    for table in ("review_daily", "review_reasons", "queue_daily", "tickets", "cases", "halls"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    await conn.close()


def _load_halls(url: str, halls: list[int], days: int, tickets: int) -> int:
    import uvloop
    return uvloop.run(_load(url, halls, days, tickets))


async def _load(url: str, halls: list[int], days: int, tickets: int) -> int:
    import asyncpg
    conn = await asyncpg.connect(url)
    start, _ = year_span(days)
    t0 = time.perf_counter()
    n_events = 0
    for h in halls:
        hall = f"h{h}"
        await conn.execute("INSERT INTO halls (id, name, profile) VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING",
                           hall, profile(h)["name"], json.dumps(profile(h), ensure_ascii=False))
        rng = random.Random(h * 7919)
        prof = projector.Profile(profile(h))
        seq, serial = 0, 1
        ev_rows, t_rows, c_rows, f_rows, q_rows = [], [], [], [], []
        lines = tuple(profile(h)["warn_wait_s"])
        review: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(projector.COUNTS))
        reasons: dict[tuple, int] = defaultdict(int)
        for i in range(days):
            day = start + dt.timedelta(days=i)
            n = max(20, int(rng.gauss(tickets, tickets * 0.15)))
            events = hall_day(h, day, n, rng, serial)
            serial += n
            ds = day.isoformat()
            p = projector.BatchProjection(prof, {}, {}, {}, {})
            for at, kind, data in events:
                seq += 1
                ev_rows.append((hall, seq, day, at, kind, json.dumps(data, ensure_ascii=False, separators=(",", ":"))))
                p.apply(kind, ds, data)
            for t in p.tickets.values():
                t_rows.append((hall, *[day if c == "day" else t[c] for c in projector.TICKET_COLUMNS]))
            for r in queue_rollup.rows_of(p.tickets.values(), lines):
                q_rows.append((hall, *[day if c == "day" else r[c] for c in queue_rollup.COLUMNS]))
            for c in p.cases.values():
                c_rows.append((hall, *[day if k == "day" else c[k] for k in projector.CASE_COLUMNS]))
            for f in p.followups.values():
                f_rows.append((hall, *[dt.date.fromisoformat(f[k]) if k in ("day", "deadline") else f[k]
                                       for k in projector.FOLLOWUP_COLUMNS]))
            for k, v in p.review.items():
                row = review[(hall, day, *k[1:])]
                for j, x in enumerate(v):
                    row[j] += x
            for k, v in p.reasons.items():
                reasons[(hall, day, *k[1:])] += v
        n_events += len(ev_rows)
        await conn.copy_records_to_table("events", records=ev_rows,
                                         columns=("hall", "seq", "day", "at", "kind", "data"))
        await conn.copy_records_to_table("tickets", records=t_rows, columns=("hall", *projector.TICKET_COLUMNS))
        await conn.copy_records_to_table("cases", records=c_rows, columns=("hall", *projector.CASE_COLUMNS))
        await conn.copy_records_to_table("followups", records=f_rows, columns=("hall", *projector.FOLLOWUP_COLUMNS))
        await conn.copy_records_to_table("review_daily", records=[(*k, *v) for k, v in review.items()],
                                         columns=("hall", "day", "window", "clerk", "business", "dept",
                                                  *projector.COUNTS))
        await conn.copy_records_to_table("queue_daily", records=q_rows, columns=("hall", *queue_rollup.COLUMNS))
        await conn.copy_records_to_table("review_reasons", records=[(*k, v) for k, v in reasons.items()],
                                         columns=("hall", "day", "window", "clerk", "business", "dept", "reason", "n"))
        await conn.execute("UPDATE halls SET last_seq = $2, events = $2 WHERE id = $1", hall, seq)
        el = time.perf_counter() - t0
        print(f"year: hall {h} loaded; this process {n_events:,} events in {el:.0f} s", flush=True)
    await conn.close()
    return n_events


async def report(cluster: Cluster) -> None:
    import asyncpg

    from central import db, reports
    pool = await db.connect_pool(cluster.url, 4)
    span = await pool.fetchrow("SELECT min(day) AS a, max(day) AS b, count(*) AS n FROM review_daily")
    events = await pool.fetchval("SELECT sum(events) FROM halls")
    start, end = span["a"].isoformat(), span["b"].isoformat()
    queue_rows = await pool.fetchval("SELECT count(*) FROM queue_daily")
    print(f"report: {events:,} events, {span['n']:,} review rollup rows, {queue_rows:,} queue rollup rows,"
          f" {start} … {end}")
    for group in ("hall", "day", "window"):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            rows, _, _ = await reports.reviews(pool, start, end, group)
            times.append(time.perf_counter() - t0)
        times.sort()
        print(f"report: city reviews over the year, group_by={group}: {len(rows)} rows, median {times[2] * 1000:.0f} ms"
              f" (best {times[0] * 1000:.0f}, worst {times[-1] * 1000:.0f})")
    for group in ("hall", "day", "window"):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            rows = await reports.queues(pool, start, end, group)
            times.append(time.perf_counter() - t0)
        times.sort()
        print(f"report: city queues over the year, group_by={group}: {len(rows)} rows, median {times[2] * 1000:.0f} ms"
              f" (best {times[0] * 1000:.0f}, worst {times[-1] * 1000:.0f})")
    conn: asyncpg.Connection
    async with pool.acquire() as conn:
        plan = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT hall AS k0, sum(served)::int AS served, sum(rated)::int AS rated,"
            " sum(defaulted)::int AS defaulted, sum(excluded)::int AS excluded, sum(l1)::int AS l1, sum(l2)::int AS l2,"
            " sum(l3)::int AS l3, sum(l4)::int AS l4, sum(l5)::int AS l5 FROM review_daily"
            " WHERE day BETWEEN $1 AND $2 GROUP BY k0", span["a"], span["b"])
    print("EXPLAIN ANALYZE reviews (group_by=hall):")
    for r in plan:
        print("    " + r[0])
    await explain_queues(pool, start, end)
    await pool.close()


async def explain_queues(pool, start: str, end: str) -> None:
    """EXPLAIN ANALYZE of the queue report's two statements, as central/reports.py sends them."""
    import asyncpg

    from central import reports
    seen: list[tuple] = []
    fetch = asyncpg.Connection.fetch

    async def recording(self, query, *args, **kw):
        if "queue_daily" in query:
            seen.append((query, args))
        return await fetch(self, query, *args, **kw)

    asyncpg.Connection.fetch = recording
    try:
        await reports.queues(pool, start, end, "hall")
    finally:
        asyncpg.Connection.fetch = fetch
    async with pool.acquire() as conn:
        for i, (query, args) in enumerate(seen, 1):
            print(f"EXPLAIN ANALYZE queues (group_by=hall), statement {i} of {len(seen)}:")
            for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *args):
                print("    " + r[0])


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="100 halls' days and 100 halls × 365 days")
    ap.add_argument("--halls", type=int, help="halls shipping a busy day (default 10, full 100)")
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--year-halls", type=int, help="halls of the bulk year (default 10, full 100)")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--year-tickets", type=int, default=275, help="tickets a hall day in the year (~5 events each)")
    ap.add_argument("--jobs", type=int, default=2, help="processes generating the year")
    ap.add_argument("--keep", help="make the year's cluster in this folder and keep it")
    ap.add_argument("--reuse", help="only query the year kept in this folder")
    ap.add_argument("--skip-ingest", action="store_true")
    args = ap.parse_args()
    halls = args.halls or (100 if args.full else 10)
    year_halls = args.year_halls or (100 if args.full else 10)
    if args.reuse:
        cluster = Cluster(args.reuse, port=int((Path(args.reuse) / "port").read_text())).start()
        try:
            await report(cluster)
        finally:
            cluster.stop()
        return
    if not args.skip_ingest:
        folder = Path(tempfile.mkdtemp(prefix="bench-central-"))
        cluster = Cluster(tempfile.mkdtemp(prefix="bench-central-pg-")).start()
        try:
            await ingest(cluster, folder, halls, args.tickets, args.concurrency)
        finally:
            cluster.destroy()
            shutil.rmtree(folder, ignore_errors=True)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-central-year-"))
    cluster = Cluster(folder).start()
    (folder / "port").write_text(str(cluster.port))
    try:
        t0 = time.perf_counter()
        await bulk_year(cluster, year_halls, args.days, args.year_tickets, args.jobs)
        print(f"year: generated and loaded in {time.perf_counter() - t0:.0f} s")
        await report(cluster)
    finally:
        if args.keep:
            cluster.stop()
        else:
            cluster.destroy()


if __name__ == "__main__":
    import uvloop
    uvloop.run(main())
