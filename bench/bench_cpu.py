"""CPU the daemon spends per unit of work, read from /proc around a run (steadier than a rate).

    .venv/bin/python bench/bench_cpu.py [--seconds 8] [--repeat 2] [--pin]   durable issue, ± [central]
    .venv/bin/python bench/bench_cpu.py --province [--seconds 10]       a provincial push backlog

1. Durable issue (wrk, 32 connections, as bench_http.py): tickets/s and the daemon's CPU per
   ticket (all its threads; its embedded broker is counted apart), alternated without and with
   `[central]` shipping to a real central service and PostgreSQL (bench/central_side.py).
   `--pin`: the hall (daemon and broker) on CPU 0, wrk, the central service and PostgreSQL on
   CPU 1, in both runs: the nearest this one machine comes to the central side on another.
2. `--province`: a hall that has made 3,000 ratings drains them to the fake platform (in a process
   of its own) while nothing else happens: the daemon's CPU per pushed record.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import LUA  # noqa: E402
from central_side import ShippingTarget, alternated, pinned_halls  # noqa: E402

from tests.support import serve_hall, token  # noqa: E402

TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TCK


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(x) for x in out]


def issue(seconds: int, extra: str, pin: bool = False) -> str:
    wrk = ["taskset", "-c", "1", "wrk"] if pin else ["wrk"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with pinned_halls(tmp, "0" if pin else None):
            proc, base, db = serve_hall(tmp, extra=extra)
        try:
            script = tmp / "post.lua"
            script.write_text(LUA % token(db, "kiosk"))
            subprocess.run([*wrk, "-t2", "-c8", "-d2s", "-s", str(script), base + "/api/v1/tickets"],
                           capture_output=True)
            pid = proc.proc.pid
            kids = children(pid)
            c0, k0 = cpu_s(pid), {k: cpu_s(k) for k in kids}
            out = subprocess.run([*wrk, "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(script),
                                  base + "/api/v1/tickets"], capture_output=True, text=True).stdout
            c1 = cpu_s(pid)
            k1 = sum(cpu_s(k) - k0[k] for k in kids if Path(f"/proc/{k}").exists())
            n = int(re.search(r"(\d+) requests in", out).group(1))
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            p99 = re.search(r"99%\s+(\S+)", out).group(1)
            return (f"{rps:7,.0f} tickets/s  p99 {p99:>8}  daemon {1e6 * (c1 - c0) / n:6.1f} µs a ticket"
                    f"  (broker {1e6 * k1 / n:4.1f})")
        finally:
            proc.stop()


def province(seconds: int) -> None:
    import bench_province as bp

    from tests.support import Mosquitto

    broker = Mosquitto().start()
    fake = bp.PlatformProcess()
    fake.pause()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cpu-province-"))
    hall = bp.BenchHall(tmp, broker, 20, fake.province_toml("zhejiang", tmp, 120, 0.05, 0.2))
    try:
        asyncio.run(hall.ratings(3000))
        time.sleep(3)  # the ratings' load passes: the sender paces at max_rate again
        pid = hall.proc.proc.pid
        fake.resume()
        d0, c0, t0 = hall.delivered()[0], cpu_s(pid), time.time()
        time.sleep(seconds)
        d1, c1 = hall.delivered()[0], cpu_s(pid)
        pushed = max(1, d1 - d0)
        print(f"push zhejiang: {d1 - d0} records in {time.time() - t0:.1f} s; daemon CPU "
              f"{c1 - c0:.2f} s = {1000 * (c1 - c0) / pushed:.2f} ms a record")
    finally:
        hall.stop()
        fake.stop()
        broker.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--province", action="store_true")
    ap.add_argument("--pin", action="store_true", help="hall on CPU 0; wrk, central and PostgreSQL on CPU 1")
    a = ap.parse_args()
    if a.province:
        province(a.seconds)
        return
    for i in range(a.repeat):
        for central in alternated(i):
            if not central:
                print("without [central] " + issue(a.seconds, "", a.pin))
                continue
            # A central store of its own each run: a new hall's seqs start at 1 again, and a store
            # that already held them would take them as resends (stored once: no inserts to make).
            with ShippingTarget(cpus="1" if a.pin else "") as target:
                line = issue(a.seconds, target.toml, a.pin)
                print(f"with [central]    {line}  ({target.summary()})")


if __name__ == "__main__":
    main()
