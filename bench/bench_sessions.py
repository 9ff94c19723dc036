"""Sessions, cross-site refusal and PINs: what they add to a request.

- the edge layer (queued/web/edge.py) per request: a Bearer POST (the durable-issue path), a cookie POST with a
  same-origin Origin, a refused one (pure ASGI, against a no-op app);
- SessionStore.get: one cookie look-up (what every request of a signed-in page pays), with
  100,000 sessions held;
- sign-ins per second through the journal's group commit (SessionStore.create on real SQLite,
  64 at once), and whether they delay the hall's own commits;
- verify_pin: one scrypt check at the stored cost, off the loop.

Run: .venv/bin/python bench/bench_sessions.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queued.core.calendar import HallCalendar  # noqa: E402
from queued.journal.store import Journal  # noqa: E402
from queued.pins.hashing import hash_pin, pin_hash_matches  # noqa: E402
from queued.sessions.store import SessionStore  # noqa: E402
from queued.web.edge import Edge  # noqa: E402
from queued.web.same_origin import SameOrigin  # noqa: E402


def ns_per_call(fn, n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t0) / n


def bench_middleware() -> None:
    async def app(scope, receive, send):
        return None

    async def send(message):
        return None

    mw = Edge(app, same_origin=SameOrigin(public_url="https://hall.example.gov.cn"))
    common = [(b"host", b"hall:8080"), (b"user-agent", b"wrk"), (b"content-type", b"application/json"),
              (b"content-length", b"17")]
    cases = {
        "bearer POST /api/v1/tickets": common + [(b"authorization", b"Bearer qd_xxxxxxxxxxxxxxxx")],
        "cookie POST, same Origin": common + [(b"origin", b"http://hall:8080"), (b"cookie", b"queued_clerk=a.b")],
        "cookie POST, refused": common + [(b"origin", b"http://hall:3000"), (b"cookie", b"queued_clerk=a.b")],
        "GET": common,
    }
    loop = asyncio.new_event_loop()
    print("the edge (body limit, text rule, same origin), per request (pure ASGI, no-op app behind it):")
    for name, headers in cases.items():
        scope = {"type": "http", "method": "GET" if name == "GET" else "POST", "path": "/api/v1/tickets",
                 "scheme": "http", "headers": headers}

        def one(scope=scope):
            coro = mw(scope, None, send)
            try:
                coro.send(None)
            except StopIteration:
                pass

        one()
        samples = [ns_per_call(one, 20_000) for _ in range(5)]
        print(f"  {name:30} {statistics.median(samples) / 1000:6.2f} µs")
    loop.close()


async def bench_store() -> None:
    with tempfile.TemporaryDirectory() as d:
        db = str(Path(d) / "bench.sqlite3")
        journal = Journal(db, HallCalendar())
        await journal.open()
        clock = time.time
        store = SessionStore(journal, db, clock)
        await store.start()
        t0 = time.perf_counter()
        values = []
        batch = 64
        for _ in range(100_000 // batch):
            made = await asyncio.gather(*(store.create("mobile", openid="o" + "x" * 27) for _ in range(batch)))
            values += [v for v, _ in made]
        took = time.perf_counter() - t0
        print(f"sessions: {len(values):,} sign-ins through the group commit in {took:.2f} s "
              f"= {len(values) / took:,.0f}/s ({batch} at once)")
        value = values[len(values) // 2]
        samples = [ns_per_call(lambda: store.get("mobile", value), 20_000) for _ in range(5)]
        print(f"sessions: get() with {store.count('mobile'):,} held: median {statistics.median(samples) / 1000:.2f} µs")
        samples = [ns_per_call(lambda: store.get("mobile", "x" * 32 + ".forged"), 20_000) for _ in range(5)]
        print(f"sessions: get() of a forged cookie: median {statistics.median(samples) / 1000:.2f} µs")
        # The hall's own commits while sign-ins ride on them.
        lat = []
        for _ in range(200):
            t = time.perf_counter()
            await asyncio.gather(journal.append([]), store.create("clerk", window="1", clerk="1001"))
            lat.append(time.perf_counter() - t)
        lat.sort()
        print(f"sessions: a commit carrying a sign-in: p50 {lat[100] * 1000:.2f} ms, p99 {lat[197] * 1000:.2f} ms")
        await journal.close()


def bench_pin() -> None:
    stored = hash_pin("482913")
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        pin_hash_matches(stored, "482913")
        samples.append(time.perf_counter() - t)
    print(f"pins: one scrypt check (stored cost): median {statistics.median(samples) * 1000:.1f} ms (in a worker thread)")


def main() -> None:
    bench_middleware()
    asyncio.run(bench_store())
    bench_pin()


if __name__ == "__main__":
    main()
