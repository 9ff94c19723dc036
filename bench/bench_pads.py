"""Pad key → LED latency: a clerk presses 呼叫 on the pad; how long until the window's LED topic shows it.

    .venv/bin/python bench/bench_pads.py [--presses 300] [--baud 9600]

A real daemon (display + evaluator + pads adapters, SQLite journal with synchronous=FULL) publishes to a
real Mosquitto started here; an emulated pad (address 4, window 4) sits on the master side of a pty and
the daemon's BusPoller on the slave path; a subscriber times `queued/main/window/4/led` until it shows
the called ticket. Each round: a ticket is issued, the pad presses CALL_NEXT (timed), then SKIP.

The path measured: poll wait (up to one cycle) → KEY reply → CallNext decided and committed (fsync)
together with its PadEventProcessed → post-commit listener → MQTT publish → broker → subscriber.
A pty ignores the baud rate, so this is the software path; on a 9600 baud line add the wire time of
one POLL/KEY exchange (~21 ms) and half a polling cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiomqtt  # noqa: E402

from firmware_bridge.emulator import PadBusEmulator, PadState  # noqa: E402
from firmware_bridge.frames import KeyCode  # noqa: E402
from queued.config import parse_config  # noqa: E402
from queued.core import commands as c  # noqa: E402
from queued.daemon import Daemon  # noqa: E402
from queued.runtime import new_ticket_id  # noqa: E402
from tests.pads.support import pad_windows  # noqa: E402
from tests.support import Mosquitto, hall_toml  # noqa: E402

ADAPTERS = ["display.service:DisplayService", "evaluator.service:EvaluatorAdapter", "queued.pads:PadAdapter"]
TOPIC = "queued/main/window/4/led"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


async def wait_for(queue: asyncio.Queue, match, timeout: float = 5.0) -> float:
    """Arrival time (perf_counter) of the first LED message that `match`es."""
    deadline = time.perf_counter() + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError("the LED message did not come")
        at, payload = await asyncio.wait_for(queue.get(), left)
        if match(payload):
            return at


async def main(presses: int, baud: int) -> None:
    broker = Mosquitto().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-pads-"))
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    url = f"mqtt://127.0.0.1:{broker.port}"
    extra = pad_windows(path).replace("reply_timeout_ms = 100", f"reply_timeout_ms = 100\nbaudrate = {baud}")
    cfg = parse_config(hall_toml(str(tmp / "bench.sqlite3"), mqtt_url=url, extra=extra), source="bench")
    daemon = Daemon(cfg, adapters=ADAPTERS)
    emulator = PadBusEmulator(master, [PadState(4), PadState(5)], baudrate=baud)
    pad = emulator.pad(4)
    queue: asyncio.Queue = asyncio.Queue()
    try:
        await emulator.start()
        await daemon.start()
        rt = daemon.runtime
        await rt.execute(c.SignIn("4", "1001"))
        async with aiomqtt.Client("127.0.0.1", broker.port) as sub:
            await sub.subscribe(TOPIC, qos=1)

            async def reader():
                async for msg in sub.messages:
                    queue.put_nowait((time.perf_counter(), json.loads(msg.payload)))

            reading = asyncio.create_task(reader())
            deadline = time.monotonic() + 10
            while not daemon.adapter("PadAdapter").is_online("4") and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            samples: list[float] = []
            for _ in range(presses):
                events, _ = await rt.execute(c.IssueTicket("A", new_ticket_id()))
                number = events[-1].number
                await asyncio.sleep(0.01)  # let the LED's waiting update pass, and the bus settle
                while not queue.empty():
                    queue.get_nowait()
                t0 = time.perf_counter()
                pad.press(KeyCode.CALL_NEXT)
                t1 = await wait_for(queue, lambda p, n=number: p["state"] == "calling" and p["ticket"] == n)
                samples.append(t1 - t0)
                pad.press(KeyCode.SKIP)
                await wait_for(queue, lambda p: p["state"] == "idle")
            reading.cancel()
        poller = next(iter(daemon.adapter("PadAdapter").pollers.values()))
        ms = [s * 1000 for s in samples]
        print(f"pad key → LED message, {presses} presses (CALL_NEXT; pty, {baud} baud configured; "
              f"in-process emulator; Mosquitto {broker.port})")
        print(f"  median {statistics.median(ms):.2f} ms   p95 {pct(ms, 95):.2f} ms   p99 {pct(ms, 99):.2f} ms   "
              f"mean {statistics.fmean(ms):.2f} ms   max {max(ms):.2f} ms")
        print(f"  bus: cycle {poller.stats.last_cycle_s * 1000:.2f} ms (min_cycle 5 ms), polls {poller.stats.polls_sent}, "
              f"missed {poller.stats.missed_replies}, duplicates {poller.stats.duplicate_events}, "
              f"bad frames {sum(poller.frames_bad.values())}")
    finally:
        await daemon.stop()
        await emulator.stop()
        os.close(master)
        os.close(slave)
        broker.cleanup()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=300)
    ap.add_argument("--baud", type=int, default=9600)
    args = ap.parse_args()
    asyncio.run(main(args.presses, args.baud))
