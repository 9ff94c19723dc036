"""What reading one central batch costs the hall's event loop: the shipper's query now vs the
rows-and-f-strings read it replaced, side by side in one run.

    .venv/bin/python bench/bench_shipper.py [--events 20000] [--batch 500] [--rounds 40]

A journal of `--events` events as a busy day writes them (ticket_issued with a rating key, most
with an openid; calls, starts, finishes), then, on a real aiosqlite read connection as the daemon
has, batches of `--batch` are read and turned into the ingest body, one after the other, while a
ticker task on the same loop asks to wake every 1 ms and records how late it woke: the delay any
request of the hall would see. Reported: the body's time on the loop per batch (what the loop
itself spends), and the ticker's lateness p50/p99/max during the reads (what the GIL held by the
reader thread adds). The end-to-end figure is `bench_cpu.py --pin` (issue p99 with [central]);
this one is steadier on a shared machine because it has no HTTP, no wrk and no PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiosqlite  # noqa: E402

from queued.central_link.shipper import BATCH_SQL  # noqa: E402
from queued.core import events as e  # noqa: E402
from queued.journal.schema import CORE_SCHEMA  # noqa: E402

# The read it replaced (until b189862): every row as a sqlite3.Row, then one f-string per event on
# the loop, ticket_issued blanked by a regex in its text.
OLD_SQL = "SELECT seq, day, at, kind, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
_ISSUED = re.compile(r'"(rating_key|openid)":("(?:[^"\\]|\\.)*"|null)')


def old_redact(kind: str, data: str) -> str:
    if kind == "ticket_issued":
        return _ISSUED.sub(lambda m: f'"{m.group(1)}":null', data)
    return data


def old_body(rows) -> bytes:
    events = ",".join(
        f'{{"seq":{seq},"day":"{day}","at":{at!r},"kind":{json.dumps(kind)},"data":{old_redact(kind, data)}}}'
        for seq, day, at, kind, data in (tuple(r) for r in rows))
    return (json.dumps({"hall": "main", "after": 0, "head": 0})[:-1] + f',"events":[{events}]}}').encode()


def new_body(row) -> bytes:
    return json.dumps({"hall": "main", "after": 0, "head": 0})[:-1].encode() + b',"events":[' + bytes(row[3]) + b"]}"


def day_of_events(n: int) -> list[tuple]:
    rng = random.Random(5)
    out, at = [], 1_764_547_200.0
    for i in range(n):
        at += rng.random() * 0.05
        t = f"t{i // 4:06d}{rng.getrandbits(40):010x}"
        step = i % 4
        if step == 0:
            ev = e.TicketIssued(at, t, i // 4, f"A{i // 4 % 1000:03d}", "A", rng.choice(["kiosk", "wechat"]),
                                "normal", openid=f"o{rng.getrandbits(100):x}" if rng.random() < 0.6 else None,
                                rating_key=f"{rng.getrandbits(128):032x}")
        elif step == 1:
            ev = e.TicketCalled(at, t, str(rng.randint(1, 20)), clerk="c01")
        elif step == 2:
            ev = e.ServiceStarted(at, t, str(rng.randint(1, 20)))
        else:
            ev = e.TicketIssued(at, t + "x", i, "B001", "B", "kiosk", "normal", rating_key="k" * 32)
        out.append(("2026-12-01", at, ev.kind, json.dumps(ev.to_dict(), ensure_ascii=False, separators=(",", ":"))))
    return out


async def measure(db_path: str, sql: str, body, batch: int, rounds: int, total: int) -> dict:
    conn = await aiosqlite.connect(db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    late: list[float] = []
    on_loop: list[float] = []
    stop = False

    async def ticker():
        while not stop:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            late.append((time.perf_counter() - t - 0.001) * 1000)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    late.clear()
    try:
        for r in range(rounds):
            if sql is None:
                on_loop.append(0.0)
                await asyncio.sleep(0.012)
                continue
            after = (r * batch) % max(1, total - batch)
            async with conn.execute(sql, (after, batch)) as cur:
                rows = await cur.fetchall()
            t = time.perf_counter()
            out = body(rows if sql is OLD_SQL else rows[0])
            on_loop.append((time.perf_counter() - t) * 1000)
            assert len(out) > batch * 50
            await asyncio.sleep(0.01)  # a pause between batches, as the shipper's request would be
    finally:
        stop = True
        await task
        await conn.close()
    late.sort()
    return {"loop_ms": statistics.median(on_loop), "p50": late[len(late) // 2],
            "p99": late[int(len(late) * 0.99)], "max": late[-1], "n": len(late)}


def main() -> None:
    sys.setswitchinterval(0.001)  # as the daemon (queued/daemon.py)
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "journal.sqlite3")
        db = sqlite3.connect(path)
        db.executescript(CORE_SCHEMA)
        db.executemany("INSERT INTO events (day, at, kind, data) VALUES (?,?,?,?)", day_of_events(a.events))
        db.commit()
        db.close()
        print(f"batches of {a.batch} from a journal of {a.events:,} events, {a.rounds} per run, alternated:")
        for _ in range(a.repeat):
            for name, sql, body in (("nothing read (the floor)", None, None),
                                    ("rows + f-strings (before)", OLD_SQL, old_body),
                                    ("one row from SQLite (now)", BATCH_SQL, new_body)):
                r = asyncio.run(measure(path, sql, body, a.batch, a.rounds, a.events))
                print(f"  {name:<26} body on the loop {r['loop_ms']:6.3f} ms a batch   a 1 ms tick woke late by"
                      f" p50 {r['p50']:5.3f}  p99 {r['p99']:6.3f}  max {r['max']:6.3f} ms  (n={r['n']})")


if __name__ == "__main__":
    main()
