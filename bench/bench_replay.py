"""Replay benchmark: a day of 100,000 events restored into the engine at start (target ≤ 2 s).

The day is produced by the real engine and journal (issue, call, start, finish in a busy hall),
then a fresh runtime starts on the file and replays it.

Run: .venv/bin/python bench/bench_replay.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queued.config import parse_config  # noqa: E402
from queued.core import commands as c  # noqa: E402
from queued.runtime import Runtime  # noqa: E402
from tests.support import Clock, hall_toml  # noqa: E402

TARGET_EVENTS = 100_000


async def fill(db: str, clock: Clock) -> int:
    rt = Runtime(parse_config(hall_toml(db)), clock=clock)
    await rt.start()
    n = 0
    i = 0
    futures = []
    while n < TARGET_EVENTS:
        for w, b in (("1", "A"), ("2", "B"), ("3", "C")):
            clock.advance(0.05)
            for cmd in (c.IssueTicket(b if b != "C" else "A", f"r{i}"), c.CallNext(w), c.Start(w), c.Finish(w)):
                try:
                    evs = rt.decide(cmd)
                except Exception:
                    continue
                n += len(evs)
                futures.append(rt.journal.append(evs))
            i += 1
        if len(futures) > 5000:
            await asyncio.gather(*futures)
            futures.clear()
    await asyncio.gather(*futures)
    await rt.stop()
    return n


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "day.sqlite3")
        clock = Clock()
        clock.now -= 2 * 3600  # 08:00, so the day holds everything
        t0 = time.perf_counter()
        n = await fill(db, clock)
        print(f"replay: wrote {n:,} events in {time.perf_counter() - t0:.1f} s")
        results = []
        for _ in range(3):
            rt = Runtime(parse_config(hall_toml(db)), clock=clock)
            t0 = time.perf_counter()
            await rt.start()
            total = time.perf_counter() - t0
            results.append((total, rt.replay_seconds, rt.replayed, len(rt.engine.tickets)))
            await rt.stop()
        best = min(results)
        print(f"replay: {best[2]:,} events ({best[3]:,} tickets) restored: start() {best[0]:.2f} s, "
              f"load+apply {best[1]:.2f} s (best of 3; runs: {', '.join(f'{r[0]:.2f}' for r in results)} s)")


if __name__ == "__main__":
    asyncio.run(main())
