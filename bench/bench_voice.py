"""The spoken call: how long a phrase takes to render, and whether the `calls` message waits for it.

    .venv/bin/python bench/bench_voice.py [--phrases 30] [--windows 20]

1. Rendering alone (this process): espeak-ng (cmn-latn-pinyin) as the command, as the library in
   this process and through its worker process (the daemon's default), and a clips folder made
   with sox (the standard library's `wave` concatenating 11 clips).
2. Through a real `queued serve` and Mosquitto: a clerk's HTTP call-next → the `calls` message
   (which names the audio URL at once) → the WAV answered by GET /audio/calls/{id}.wav, asked for the
   moment the message arrives (the render starts with that GET). Sequential (one call at a time)
   and a burst (every window at once: the renders queue behind one worker).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiomqtt  # noqa: E402
import httpx  # noqa: E402

from display.voice.clips import ClipSet  # noqa: E402
from display.voice.espeak import Espeak  # noqa: E402
from display.voice.libespeak import EspeakWorker, LibEspeak  # noqa: E402
from display.voice.phrase import REQUIRED_UNITS, Phrase  # noqa: E402
from tests.support import Mosquitto, ServeProcess, free_port, token  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def _children_cpu() -> float:
    import os

    t = os.times()
    return t.children_user + t.children_system


def report(name: str, ms: list[float]) -> None:
    print(f"{name:<34} n={len(ms):4d}  median {statistics.median(ms):7.2f} ms  p95 {pct(ms, 95):7.2f} ms  "
          f"max {max(ms):7.2f} ms")


def render_alone(phrases: int) -> None:
    engine = Espeak()
    ms, cpu = [], []
    for i in range(phrases):
        t0, c0 = time.perf_counter(), _children_cpu()
        engine.render(Phrase(f"A{i:03d}", f"{i % 40 + 1}号窗口").engine_text())
        ms.append((time.perf_counter() - t0) * 1000)
        cpu.append((_children_cpu() - c0) * 1000)
    report("render espeak-ng, command", ms)
    print(f"{'':<34} CPU a call (the command's process): median {statistics.median(cpu):.1f} ms")
    lib = LibEspeak()
    lib.check()
    ms, cpu = [], []
    for i in range(phrases):
        t0, c0 = time.perf_counter(), time.process_time()
        lib.render(Phrase(f"A{i:03d}", f"{i % 40 + 1}号窗口").engine_text())
        ms.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    report("render libespeak-ng, in process", ms)
    print(f"{'':<34} CPU a call: median {statistics.median(cpu):.1f} ms")

    async def through_worker() -> list[float]:
        worker = EspeakWorker()
        await worker.render_async("请")  # the worker process starts
        out = []
        try:
            for i in range(phrases):
                t0 = time.perf_counter()
                await worker.render_async(Phrase(f"A{i:03d}", f"{i % 40 + 1}号窗口").engine_text())
                out.append((time.perf_counter() - t0) * 1000)
        finally:
            await worker.close()
        return out
    report("render libespeak-ng, worker process", asyncio.run(through_worker()))
    with tempfile.TemporaryDirectory() as tmp:
        for j, unit in enumerate([*REQUIRED_UNITS, "A"]):
            subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", "-b", "16", f"{tmp}/{unit}.wav", "synth", "0.35",
                            "sine", str(300 + 40 * j)], check=True, capture_output=True)
        clips = ClipSet.load(tmp, letters="A")
        ms = []
        for i in range(phrases):
            t0 = time.perf_counter()
            clips.render(Phrase(f"A{i:03d}", f"{i % 40 + 1}号窗口").units(clips.clips))
            ms.append((time.perf_counter() - t0) * 1000)
        report("render clips (wave, 11–12 clips)", ms)


def hall_config(db: str, http_port: int, mqtt_port: int, windows: int) -> str:
    parts = [f'[daemon]\nhttp = "127.0.0.1:{http_port}"\ndatabase = "{db}"\nlog_level = "warning"\n',
             f'[mqtt]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\n', '[hall]\nid = "main"\nname = "压测大厅"\n',
             '[[business]]\ncode = "A"\nname = "综合受理"\n']
    parts += [f'[[window]]\nid = "{i}"\nbusinesses = ["A"]\n' for i in range(1, windows + 1)]
    return "\n".join(parts)


async def through_the_daemon(base: str, mqtt_port: int, db: str, windows: int) -> None:
    admin = {"Authorization": f"Bearer {token(db, 'admin')}"}
    got: dict[str, asyncio.Future] = {}
    fetched: dict[str, float] = {}
    ready = asyncio.Event()
    loop = asyncio.get_running_loop()

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        async def fetch(ticket: str, audio: str) -> None:
            r = await http.get(audio)
            assert r.status_code == 200 and r.headers["content-type"] == "audio/wav", r.status_code
            fetched[ticket] = time.perf_counter()

        async def listen():
            async with aiomqtt.Client("127.0.0.1", mqtt_port, protocol=aiomqtt.ProtocolVersion.V311) as c:
                await c.subscribe("queued/main/calls", qos=1)
                ready.set()
                async for m in c.messages:
                    now = time.perf_counter()
                    call = json.loads(m.payload)
                    fut = got.setdefault(call["ticket"], loop.create_future())
                    if not fut.done():
                        fut.set_result(now)
                    asyncio.create_task(fetch(call["ticket"], call["audio"]))

        task = asyncio.create_task(listen())
        await ready.wait()
        for _ in range(windows * 4):
            (await http.post("/api/v1/tickets", json={"business": "A"}, headers=admin)).raise_for_status()

        async def call(w: int) -> tuple[str, float]:
            t0 = time.perf_counter()
            r = await http.post(f"/api/v1/windows/{w}/call-next", headers=admin)
            r.raise_for_status()
            return r.json()["ticket"]["number"], t0

        async def measure(started: list[tuple[str, float]]) -> tuple[list[float], list[float]]:
            msg, wav = [], []
            for ticket, t0 in started:
                at = await asyncio.wait_for(got.setdefault(ticket, loop.create_future()), 10)
                while ticket not in fetched:
                    await asyncio.sleep(0.002)
                msg.append((at - t0) * 1000)
                wav.append((fetched[ticket] - t0) * 1000)
            return msg, wav

        seq = []
        for w in range(1, windows + 1):
            seq.append(await call(w))
            await asyncio.sleep(0.3)  # one call at a time, its render done before the next
        msg, wav = await measure(seq)
        report("sequential: call → calls message", msg)
        report("sequential: call → WAV served", wav)
        await asyncio.gather(*(http.post(f"/api/v1/windows/{w}/finish", headers=admin) for w in range(1, windows + 1)))
        burst = await asyncio.gather(*(call(w) for w in range(1, windows + 1)))
        msg, wav = await measure(list(burst))
        report(f"burst of {windows}: call → calls message", msg)
        report(f"burst of {windows}: call → WAV served", wav)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phrases", type=int, default=30)
    ap.add_argument("--windows", type=int, default=20)
    args = ap.parse_args()
    render_alone(args.phrases)
    broker = Mosquitto().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    port = free_port()
    db = str(tmp / "bench.sqlite3")
    conf = tmp / "hall.toml"
    conf.write_text(hall_config(db, port, broker.port, args.windows), encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    serve = ServeProcess(conf, tmp).start(base)
    try:
        asyncio.run(through_the_daemon(base, broker.port, db, args.windows))
    finally:
        serve.stop()
        broker.cleanup()


if __name__ == "__main__":
    main()
