"""Appointments benchmark against a real `queued serve` (all adapters, SQLite WAL synchronous=FULL):

- booking under contention: 2,000 POST /api/v1/appointments from 64 concurrent connections (httpx
  in this process; the daemon in its own) at 50 slots of 4 seats: exactly 200 must be booked, the
  rest refused `slot_full`; requests per second and reply latency;
- booking throughput of the server: wrk (C, leaves the CPU to the daemon) posting committed bookings
  (random openids, ample capacity, so every request is a real booking written to the journal);
- the printed slip: ESC/POS render time per ticket.

Run: .venv/bin/python bench/bench_appointments.py
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.bench_http import parse_wrk  # noqa: E402
from queued.channels.printing import render_ticket  # noqa: E402
from tests.support import ServeProcess, free_port, hall_toml, token  # noqa: E402

WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local slots = %(slots)s
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  local s = slots[math.random(#slots)]
  local body = string.format('{"business":"A","day":"%%s","start":"%%s","openid":"o%%08x%%08x"}',
                             s[1], s[2], math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  return wrk.format(nil, nil, nil, body)
end
"""

REQUESTS = 2000
CONNECTIONS = 64


def ms(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000


async def contention(base: str, headers: dict) -> None:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as api:
        days = (await api.get("/api/v1/appointments/slots", params={"business": "A"})).json()["days"][-5:]  # not today: its morning slots may have begun
        slots = [(day, s["start"]) for day in days
                 for s in (await api.get("/api/v1/appointments/slots", params={"business": "A", "day": day})
                           ).json()["slots"][:10]]
        assert len(slots) == 50
        latencies: list[float] = []
        sem = asyncio.Semaphore(CONNECTIONS)

        async def one(i: int) -> int:
            day, start = slots[i % 50]
            async with sem:
                t0 = time.perf_counter()
                r = await api.post("/api/v1/appointments", headers=headers,
                                   json={"business": "A", "day": day, "start": start, "openid": f"o{i}"})
                latencies.append(time.perf_counter() - t0)
            return r.status_code

        t0 = time.perf_counter()
        codes = await asyncio.gather(*(one(i) for i in range(REQUESTS)))
        wall = time.perf_counter() - t0
    print(f"booking: {REQUESTS} requests, {CONNECTIONS} connections, 50 slots x 4 seats: "
          f"{codes.count(201)} booked (expected 200), {codes.count(409)} refused, {REQUESTS / wall:,.0f} requests/s, "
          f"median {ms(latencies, .5):.1f} ms, p99 {ms(latencies, .99):.1f} ms")
    assert codes.count(201) == 200 and codes.count(409) == REQUESTS - 200


def throughput(tmp_path: Path, seconds: int = 8) -> None:
    """Committed bookings per second at 32 connections, measured by wrk."""
    if not shutil.which("wrk"):
        print("booking throughput: skipped (needs wrk: apt-get install wrk)")
        return
    db = str(tmp_path / "wrk.sqlite3")
    port = free_port()
    cfg = tmp_path / "wrk.toml"
    cfg.write_text(hall_toml(db, http_port=port, extra="\n[appointments]\ncapacity = 1000000\n"), encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    proc = ServeProcess(cfg, tmp_path).start(base)
    try:
        slots = []
        days = httpx.get(base + "/api/v1/appointments/slots", params={"business": "A"}).json()["days"][-5:]
        for day in days:
            for sl in httpx.get(base + "/api/v1/appointments/slots", params={"business": "A", "day": day}).json()["slots"]:
                slots.append([day, sl["start"]])
        lua = tmp_path / "book.lua"
        lua.write_text(WRK_LUA % {"token": token(db, "kiosk"),
                                  "slots": "{" + ",".join(json.dumps(x).replace("[", "{").replace("]", "}") for x in slots) + "}"})
        out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(lua),
                              base + "/api/v1/appointments"], capture_output=True, text=True, check=True).stdout
    finally:
        proc.stop()
    r = parse_wrk(out)
    with sqlite3.connect(db) as conn:
        booked = conn.execute("SELECT COUNT(*) FROM appointments").fetchone()[0]
    print(f"booking throughput (wrk, 32 connections, {seconds} s, every request a committed booking): "
          f"{r['rps']:,.0f} bookings/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms; "
          f"non-2xx {r['non2xx']}, bookings in the database {booked:,}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        db = str(tmp_path / "bench.sqlite3")
        port = free_port()
        cfg = tmp_path / "hall.toml"
        cfg.write_text(hall_toml(db, http_port=port), encoding="utf-8")
        base = f"http://127.0.0.1:{port}"
        proc = ServeProcess(cfg, tmp_path).start(base)
        try:
            headers = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
            asyncio.run(contention(base, headers))
        finally:
            proc.stop()
        with sqlite3.connect(db) as conn:
            over = conn.execute("SELECT COUNT(*) FROM (SELECT day, start_minute, COUNT(*) n FROM appointments"
                                " GROUP BY day, start_minute HAVING n > 4)").fetchone()[0]
            total = conn.execute("SELECT COUNT(*) FROM appointments").fetchone()[0]
        print(f"database: {total} bookings, {over} slots over capacity")
        assert total == 200 and over == 0
        throughput(tmp_path)

    t0 = time.perf_counter()
    for i in range(1000):
        render_ticket(hall_name="高新区政务服务中心", business_name="综合受理", number=f"A{i:03d}", ahead=i,
                      eta_seconds=300 * i, issued_at="2026-11-16 10:00", url=f"https://q.example.cn/m/t/{i:016d}")
    print(f"ESC/POS slip render: {(time.perf_counter() - t0):.3f} ms per slip (1000 slips)")


if __name__ == "__main__":
    main()
