"""Clerk action → LED message latency, end to end through real parts.

    .venv/bin/python bench/bench_led.py [--windows 200] [--rounds 3] [--rate 100] [--embedded]
    .venv/bin/python bench/bench_led.py --pairs 4 --pin [--windows 50]   ± [central], side by side

A real `queued serve` process on a generated 200-window hall publishes to a real Mosquitto (a
separate one, or with --embedded the daemon's own, the controller logging in as `led-sim`); this
process is the clerks (HTTP call-next) and a subscribed LED controller (aiomqtt on
`queued/main/window/+/led`). Latency = from sending the HTTP request to receiving the window's
`led` message that shows the called ticket ("http only": until the reply). Three patterns:
  sequential — one window at a time, round-robin over all windows (the unloaded path);
  paced      — all windows calling, open loop at --rate calls/s (a real hall: < 1 call/s);
  burst      — every window presses 呼叫 in the same instant (the worst case, a stress test).
Target: p99 ≤ 15 ms.

`--central` ships to a real central service and PostgreSQL during the run; `--pairs N` runs N
alternated pairs without and with it and compares the pooled figures; `--pin` keeps the hall (the
daemon and the broker) on CPU 0 and this process, the central service and PostgreSQL on CPU 1:
the nearest this one machine comes to the central side on another. Two controls for the pairs:
`--stub` ships to bench/central_stub.py (the hall does all its shipping, the other CPU stays nearly
idle) and `--spinner DUTY` has no [central] at all, only a SCHED_IDLE process busy DUTY of the time
on CPU 1 (the machine's own answer to load there).
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
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiomqtt  # noqa: E402
import httpx  # noqa: E402

from tests.support import Mosquitto, ServeProcess, free_port, token  # noqa: E402


def hall_config(db: str, http_port: int, mqtt_port: int, windows: int, embedded: bool = False) -> str:
    parts = [f'[daemon]\nhttp = "127.0.0.1:{http_port}"\ndatabase = "{db}"\nlog_level = "warning"\n'
             + (f'embedded_mqtt = "127.0.0.1:{mqtt_port}"\n' if embedded else ""),
             "" if embedded else f'[mqtt]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\n',
             '[hall]\nid = "main"\nname = "压测大厅"\n',
             '[[business]]\ncode = "A"\nname = "综合受理"\n']
    parts += [f'[[window]]\nid = "{i}"\nbusinesses = ["A"]\n' for i in range(1, windows + 1)]
    return "\n".join(parts)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def report(name: str, ms: list[float]) -> None:
    print(f"{name:<12} n={len(ms):5d}  median {statistics.median(ms):6.2f} ms  p95 {pct(ms, 95):6.2f} ms  "
          f"p99 {pct(ms, 99):6.2f} ms  max {max(ms):6.2f} ms")


class LedWatcher:
    """A subscribed controller: resolves a future when window w shows ticket t as calling."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None):
        self.port = port
        self.username, self.password = username, password
        self.waiting: dict[tuple[str, str], asyncio.Future] = {}
        self.early: dict[tuple[str, str], float] = {}

    def expect(self, window: str, ticket: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        key = (window, ticket)
        if key in self.early:
            fut.set_result(self.early.pop(key))
        else:
            self.waiting[key] = fut
        return fut

    async def run(self, ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, protocol=aiomqtt.ProtocolVersion.V311,
                                  max_queued_incoming_messages=0, username=self.username,
                                  password=self.password) as c:
            await c.subscribe("queued/main/window/+/led", qos=1)
            ready.set()
            async for m in c.messages:
                now = time.perf_counter()
                data = json.loads(m.payload)
                if data["state"] != "calling":
                    continue
                key = (data["window"], data["ticket"])
                fut = self.waiting.pop(key, None)
                if fut is not None and not fut.done():
                    fut.set_result(now)
                elif fut is None:
                    self.early[key] = now  # the message beat the HTTP reply


HTTP_MS: list[float] = []  # the reply alone, to tell the journal's share from the screens'
HOP_MS: list[float] = []  # led message after the HTTP reply (negative: it came first): the display's share


class Clerk:
    """One window's clerk on a keep-alive HTTP/1.1 connection, with a hand-written request: httpx
    costs milliseconds of client CPU per request, which a burst of 200 would measure instead."""

    def __init__(self, port: int, window: str, bearer: str):
        self.port = port
        self.window = window
        self.request = (f"POST /api/v1/windows/{window}/call-next HTTP/1.1\r\nHost: hall\r\n"
                        f"Authorization: Bearer {bearer}\r\nContent-Length: 0\r\n\r\n").encode()

    async def open(self) -> None:
        # Fresh before every round: uvicorn drops a connection idle for 5 s.
        if getattr(self, "writer", None) is not None:
            self.writer.close()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def call_next(self) -> dict:
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        raw = await self.reader.readexactly(length)
        if status != 200:
            raise RuntimeError(f"window {self.window}: {head.decode(errors='replace').splitlines()[0]} {raw[:200]!r}")
        return json.loads(raw)

    def close(self) -> None:
        self.writer.close()


async def one_call(clerk: Clerk, watcher: LedWatcher) -> float:
    t0 = time.perf_counter()
    body = await clerk.call_next()
    replied = time.perf_counter()
    HTTP_MS.append((replied - t0) * 1000)
    t1 = await asyncio.wait_for(watcher.expect(clerk.window, body["ticket"]["number"]), 10)
    HOP_MS.append((t1 - replied) * 1000)
    return (t1 - t0) * 1000


async def bench(base: str, mqtt_port: int, db: str, windows: int, rounds: int, rate: float,
                login: dict | None = None, burst: bool = True) -> dict[str, list[float]]:
    bearer = token(db, "admin")
    admin = {"Authorization": f"Bearer {bearer}"}
    watcher = LedWatcher(mqtt_port, **(login or {}))
    ready = asyncio.Event()
    task = asyncio.create_task(watcher.run(ready))
    await ready.wait()
    ids = [str(i) for i in range(1, windows + 1)]
    port = int(base.rsplit(":", 1)[1])
    clerks = [Clerk(port, w, bearer) for w in ids]

    async def reopen():
        await asyncio.gather(*(c.open() for c in clerks))

    await reopen()
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        sem = asyncio.Semaphore(16)

        async def post(path: str, body: dict | None = None):
            async with sem:
                (await http.post(path, json=body, headers=admin)).raise_for_status()

        await asyncio.gather(*(post("/api/v1/tickets", {"business": "A"}) for _ in range(windows * (3 * rounds + 1))))

        async def finish_all(which=ids):
            await asyncio.gather(*(post(f"/api/v1/windows/{w}/finish") for w in which))

        # Fresh connections after the tickets: a connection that sends nothing for the server's
        # request deadline is answered 408 (the slow-client guard), as --rounds 6 ran into.
        await reopen()
        for c in clerks[:5]:  # warm-up: code paths, the subscriber
            await one_call(c, watcher)
        await finish_all(ids[:5])

        results: dict[str, tuple[list[float], list[float], list[float]]] = {}

        HTTP_MS.clear()
        HOP_MS.clear()
        ms = []
        for _ in range(rounds):
            await reopen()
            for c in clerks:
                ms.append(await one_call(c, watcher))
            await finish_all()
        results["sequential"] = (ms, list(HTTP_MS), list(HOP_MS))

        HTTP_MS.clear()
        HOP_MS.clear()
        ms = []
        for _ in range(rounds):  # open loop: a call every 1/rate s, whatever the replies do
            await reopen()
            calls = []
            for c in clerks:
                calls.append(asyncio.create_task(one_call(c, watcher)))
                await asyncio.sleep(1 / rate)
            ms += await asyncio.gather(*calls)
            await finish_all()
        results[f"paced {rate:g}/s"] = (ms, list(HTTP_MS), list(HOP_MS))

        HTTP_MS.clear()
        HOP_MS.clear()
        ms = []
        for _ in range(rounds if burst else 0):
            await reopen()
            ms += await asyncio.gather(*(one_call(c, watcher) for c in clerks))
            await finish_all()
        if burst:
            results["burst"] = (ms, list(HTTP_MS), list(HOP_MS))
    for c in clerks:
        c.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    print(f"clerk HTTP call-next → `led` message via Mosquitto; {windows} windows, {rounds} rounds each")
    for name, (e2e, http_ms, hop_ms) in results.items():
        report(name, e2e)
        report("  http only", http_ms)
        report("  led-reply", hop_ms)
    for name, (e2e, _, _) in results.items():
        verdict = "met" if pct(e2e, 99) <= 15 else "NOT met"
        print(f"target p99 ≤ 15 ms, {name}: {verdict} ({pct(e2e, 99):.2f} ms)")
    return {name: e2e for name, (e2e, _, _) in results.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=100.0, help="calls per second in the paced run")
    ap.add_argument("--embedded", action="store_true", help="through the daemon's own Mosquitto")
    ap.add_argument("--central", action="store_true", help="ship to a central service during the run")
    ap.add_argument("--voice", default="auto", help="[voice] engine (auto, espeak, off): what each call's speech costs")
    ap.add_argument("--no-burst", action="store_true", help="sequential and paced only")
    ap.add_argument("--pairs", type=int, default=0, help="alternated runs without and with [central], compared")
    ap.add_argument("--pin", action="store_true", help="the hall on CPU 0; this process and the central side on CPU 1")
    ap.add_argument("--stub", action="store_true",
                    help="with --pairs: ship to bench/central_stub.py (acknowledges, stores nothing), a control for the central side's own load")
    ap.add_argument("--spinner", type=float, default=0.0, metavar="DUTY",
                    help="with --pairs: no [central], a SCHED_IDLE process busy DUTY (0..1) of the time on CPU 1 instead: a control for the machine")
    a = ap.parse_args()
    if a.pin:
        os.sched_setaffinity(0, {1})
    if a.pairs:
        compare(a)
        return
    if a.central:
        from central_side import ShippingTarget
        with ShippingTarget(cpus="1" if a.pin else "") as target:
            run(a, target.toml)
            print(target.summary())
        return
    run(a, "")


def compare(a) -> None:
    from central_side import AckingTarget, IdleSpinner, ShippingTarget, alternated

    Target = partial(IdleSpinner, a.spinner) if a.spinner else AckingTarget if a.stub else ShippingTarget
    against = " (the acknowledging stub)" if a.stub else f" (a spinner {a.spinner:.0%} busy instead)" if a.spinner else ""

    pooled: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    per_run: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    for i in range(a.pairs):
        for central in alternated(i):
            if central:  # a store of its own each run (a new hall's seqs start at 1 again)
                with Target(cpus="1" if a.pin else "") as target:
                    got = run(a, target.toml)
                    print(target.summary())
            else:
                got = run(a, "")
            for name, ms in got.items():
                pooled[central].setdefault(name, []).extend(ms)
                per_run[central].setdefault(name, []).append(statistics.median(ms))
    print(f"\ncall → LED without vs with [central]{against},"
          f" {a.pairs} alternated pairs{', pinned' if a.pin else ''}:")
    for name in pooled[False]:
        off, on = pooled[False][name], pooled[True][name]
        runs = {c: " ".join(f"{x:.2f}" for x in per_run[c][name]) for c in (False, True)}
        print(f"  {name:<12} without: median {statistics.median(off):5.2f} p99 {pct(off, 99):6.2f} ms (runs {runs[False]})"
              f"\n  {'':<12} with:    median {statistics.median(on):5.2f} p99 {pct(on, 99):6.2f} ms (runs {runs[True]})"
              f"\n  {'':<12} with/without: median {statistics.median(on) / statistics.median(off):.0%},"
              f" p99 {pct(on, 99) / pct(off, 99):.0%}")
        # Each pair's with/without ratio of run medians: a drift of the machine between pairs
        # cancels within a pair, so the median of these is steadier than the pooled figures.
        ratios = sorted(w / o for o, w in zip(per_run[False][name], per_run[True][name], strict=True))
        print(f"  {'':<12} pair by pair (run medians): {' '.join(f'{r:.0%}' for r in ratios)};"
              f" median {statistics.median(ratios):.0%}")


def run(a, extra: str) -> dict[str, list[float]]:
    if a.voice != "auto":
        extra += f'\n[voice]\nengine = "{a.voice}"\n'

    tmp = Path(tempfile.mkdtemp(prefix="bench-led-"))
    broker = None if a.embedded else Mosquitto().start()
    mqtt_port = free_port() if broker is None else broker.port
    http_port = free_port()
    db = str(tmp / "hall.sqlite3")
    conf = tmp / "hall.toml"
    conf.write_text(hall_config(db, http_port, mqtt_port, a.windows, a.embedded) + extra, encoding="utf-8")
    base = f"http://127.0.0.1:{http_port}"
    from central_side import pin, pinned_halls

    if a.pin and broker is not None:
        pin(broker.proc.pid, "0")
    with pinned_halls(tmp, "0" if a.pin else None):
        proc = ServeProcess(conf, tmp).start(base)
    login = {}
    if a.embedded:
        accounts = json.loads((tmp / "hall-mqtt" / "accounts.json").read_text(encoding="utf-8"))["accounts"]
        login = {"username": "led-sim", "password": accounts["led-sim"]["password"]}
    try:
        return asyncio.run(bench(base, mqtt_port, db, a.windows, a.rounds, a.rate, login, not a.no_burst))
    finally:
        proc.stop()
        if broker is not None:
            broker.cleanup()


if __name__ == "__main__":
    main()
