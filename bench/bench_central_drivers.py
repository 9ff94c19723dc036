"""Which PostgreSQL driver for the central service: asyncpg or psycopg 3 (both async), measured on
the work the service does: an ingest batch (500 events, jsonb, one transaction: the multi-row
upsert the service uses, and COPY), and small report-style queries (one round trip each).

    .venv/bin/python bench/bench_central_drivers.py [--batches 40]

Runs against a throwaway cluster it starts (central.pgcluster). psycopg is optional: without it
only asyncpg is measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from central.pgcluster import Cluster  # noqa: E402

DDL = """
DROP TABLE IF EXISTS drv_events;
CREATE TABLE drv_events (hall text, seq bigint, day date, at double precision, kind text, data jsonb,
                         PRIMARY KEY (hall, seq));
"""


def batch(start: int, n: int = 500) -> list[tuple]:
    import datetime as dt
    day = dt.date(2026, 11, 2)
    return [("h1", start + i, day, 1.7e9 + i, "ticket_called",
             json.dumps({"at": 1.7e9 + i, "ticket": f"t{start + i}", "window": "3", "clerk": "1001"}))
            for i in range(n)]


async def run_asyncpg(url: str, batches: int) -> dict[str, float]:
    import asyncpg
    conn = await asyncpg.connect(url)
    await conn.execute(DDL)
    out = {}
    t0 = time.perf_counter()
    for b in range(batches):
        rows = batch(b * 500)
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO drv_events SELECT * FROM unnest($1::text[], $2::bigint[], $3::date[],"
                " $4::float8[], $5::text[], $6::jsonb[]) ON CONFLICT DO NOTHING",
                *[list(col) for col in zip(*rows, strict=True)])
    out["upsert unnest ev/s"] = batches * 500 / (time.perf_counter() - t0)
    await conn.execute("TRUNCATE drv_events")
    t0 = time.perf_counter()
    for b in range(batches):
        async with conn.transaction():
            await conn.copy_records_to_table("drv_events", records=batch(b * 500))
    out["COPY ev/s"] = batches * 500 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    n = 2000
    for i in range(n):
        await conn.fetchrow("SELECT kind, data FROM drv_events WHERE hall=$1 AND seq=$2", "h1", i)
    out["point query µs"] = (time.perf_counter() - t0) / n * 1e6
    await conn.close()
    return out


async def run_psycopg(url: str, batches: int) -> dict[str, float]:
    import psycopg
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await conn.execute(DDL)
    out = {}
    t0 = time.perf_counter()
    for b in range(batches):
        rows = batch(b * 500)
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO drv_events SELECT * FROM unnest(%s::text[], %s::bigint[], %s::date[],"
                " %s::float8[], %s::text[], %s::jsonb[]) ON CONFLICT DO NOTHING",
                [list(col) for col in zip(*rows, strict=True)])
    out["upsert unnest ev/s"] = batches * 500 / (time.perf_counter() - t0)
    await conn.execute("TRUNCATE drv_events")
    t0 = time.perf_counter()
    for b in range(batches):
        async with conn.transaction():
            async with conn.cursor().copy("COPY drv_events FROM STDIN") as cp:
                for r in batch(b * 500):
                    await cp.write_row(r)
    out["COPY ev/s"] = batches * 500 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    n = 2000
    for i in range(n):
        cur = await conn.execute("SELECT kind, data FROM drv_events WHERE hall=%s AND seq=%s", ("h1", i))
        await cur.fetchone()
    out["point query µs"] = (time.perf_counter() - t0) / n * 1e6
    await conn.close()
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=40)
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-drivers-")
    cluster = Cluster(folder).start()
    try:
        results = {"asyncpg": await run_asyncpg(cluster.url, args.batches)}
        try:
            import psycopg  # noqa: F401
            results["psycopg3"] = await run_psycopg(cluster.url, args.batches)
        except ImportError:
            print("psycopg not installed: only asyncpg measured")
        for name, figures in results.items():
            print(f"{name:9} " + "  ".join(f"{k}: {v:,.0f}" for k, v in figures.items()))
    finally:
        cluster.destroy()


if __name__ == "__main__":
    import uvloop
    uvloop.run(main())
