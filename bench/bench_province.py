"""Provincial push benchmark: push throughput against the fake platform, and the hot path with the
push on vs off, side by side in one run.

    .venv/bin/python bench/bench_province.py [--records 600] [--profiles zhejiang,shandong]
                                             [--backlog 3000] [--seconds 5] [--windows 20] [--rounds 10]
                                             [--repeat 3] [--within] [--pin] [--aa]

1. Throughput: a real `queued serve` per profile; `--records` ratings are made (办件 bound) while
   the fake platform (tests/province/fake_platform.py, a loopback HTTP server in this process)
   holds the sender's first request at the door; then it lets everything in and we time until
   every record is accepted. shandong sends two SM2
   requests per rating (service, then rating); the fake decrypts them in this process (with
   snowland here: gmssl's decryption, used by the tests, is slower than our encryption).
2. Hot path: the same hall (20 windows, real Mosquitto) with the same `--backlog` ratings made
   first, twice: without [province], and with the zhejiang push draining that backlog while we measure durable ticket issue
   (wrk, 32 connections) and clerk call-next → `led` message (bench_led's clients, one window at a
   time). Target: both within 10% of push off. The figures say how many records were pushed during
   the measurement, so a run where the backlog ran out early shows it. `--aa` is the control:
   the "on" halls have the push off too, so the ratios it prints are this bench's own spread
   between two halls that differ in nothing.

The machine is shared with other work while developing: run it on a quiet machine for figures.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from bench.bench_http import LUA, parse_wrk  # noqa: E402
from bench.bench_led import Clerk, LedWatcher, one_call, pct  # noqa: E402
from bench.central_side import alternated, pin, pinned_halls  # noqa: E402
from tests.province.fake_platform import FakePlatform  # noqa: E402
from tests.support import Mosquitto, ServeProcess, free_port, token  # noqa: E402

PIN = False  # --pin: the hall (daemon and broker) on CPU 0; this process, wrk and the fake on CPU 1


def hall_config(db: str, http_port: int, mqtt_port: int, windows: int, province: str) -> str:
    parts = [f'[daemon]\nhttp = "127.0.0.1:{http_port}"\ndatabase = "{db}"\nlog_level = "warning"\n',
             f'[mqtt]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\n',
             '[hall]\nid = "main"\nname = "压测大厅"\n',
             '[[business]]\ncode = "A"\nname = "综合受理"\n']
    parts += [f'[[window]]\nid = "{i}"\nbusinesses = ["A"]\n' for i in range(1, windows + 1)]
    return "\n".join(parts) + province


class BenchHall:
    def __init__(self, tmp: Path, broker: Mosquitto, windows: int, province: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db = str(tmp / "hall.sqlite3")
        (tmp / "hall.toml").write_text(hall_config(self.db, self.port, broker.port, windows, province), "utf-8")
        with pinned_halls(tmp, "0" if PIN else None):
            self.proc = ServeProcess(tmp / "hall.toml", tmp).start(self.base, 30)
        self.admin = {"Authorization": f"Bearer {token(self.db, 'admin')}"}
        self.windows = windows

    async def ratings(self, n: int) -> None:
        """n tickets issued, served across the windows, each bound to a 办件 and rated by its holder."""
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as http:
            sem = asyncio.Semaphore(16)

            async def post(path, body=None):
                async with sem:
                    r = await http.post(path, json=body or {}, headers=self.admin)
                    r.raise_for_status()
                    return r.json()

            tickets = await asyncio.gather(*(post("/api/v1/tickets", {"business": "A"}) for _ in range(n)))

            async def window(w: int, count: int):
                for _ in range(count):
                    await post(f"/api/v1/windows/{w}/call-next")
                    await post(f"/api/v1/windows/{w}/finish")

            per = [n // self.windows + (1 if i < n % self.windows else 0) for i in range(self.windows)]
            await asyncio.gather(*(window(w + 1, c) for w, c in enumerate(per)))
            conn = sqlite3.connect(self.db, timeout=30)
            with conn:  # bind every case (what the 一窗受理 system's POST …/cases stores)
                conn.execute("UPDATE cases SET project_no = 'B-' || window || '-' || case_id,"
                             " item_code='330201001000123456789012345678901', item_name='企业设立登记',"
                             " applicant_name='王小明', applicant_id='330201199001011234',"
                             " applicant_phone='13800138000', bound_at=finished_at WHERE project_no IS NULL")
            conn.close()

            async def rate(t):
                async with sem:
                    body = {"ticket": t["id"], "level": 5}
                    if t.get("rating_key"):
                        body["key"] = t["rating_key"]
                    (await http.post("/api/v1/ratings", json=body)).raise_for_status()

            await asyncio.gather(*(rate(t) for t in tickets))

    def delivered(self) -> tuple[int, int]:
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            done, total = conn.execute("SELECT SUM(state IN ('accepted','duplicate')), COUNT(*) FROM province_outbox"
                                       " WHERE step='rating'").fetchone()
        finally:
            conn.close()
        return done or 0, total or 0

    def stop(self) -> None:
        self.proc.stop()


def throughput(profile: str, records: int, broker: Mosquitto) -> None:
    fake = FakePlatform(decrypt_with="snowland").start()
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-province-{profile}-"))
    hall = None
    try:
        fake.pause()  # the sender's first request waits at the door; the backlog builds, no retries
        hall = BenchHall(tmp, broker, 8, fake.province_toml(profile, tmp, timeout_s=120, retry_base_s=0.05,
                                                             retry_max_s=0.2))
        asyncio.run(hall.ratings(records))
        fake.resume()
        t0 = time.perf_counter()
        while hall.delivered()[0] < records:
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
        kind = "zhejiang" if profile == "zhejiang" else "rating"
        assert len(fake.stored(kind)) == records, (len(fake.stored(kind)), records)
        requests = records * (2 if profile == "shandong" else 1)
        print(f"push {profile:<9} {records} ratings in {elapsed:6.2f} s: {records / elapsed:7.1f} records/s"
              f" ({requests / elapsed:.1f} requests/s; each on the platform once: {len(fake.stored(kind))})")
    finally:
        if hall is not None:
            hall.stop()
        fake.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def led_sequential(hall: BenchHall, mqtt_port: int, rounds: int) -> list[float]:
    bearer = hall.admin["Authorization"].split()[1]
    watcher = LedWatcher(mqtt_port)
    ready = asyncio.Event()
    task = asyncio.create_task(watcher.run(ready))
    await ready.wait()
    clerks = [Clerk(hall.port, str(w), bearer) for w in range(1, hall.windows + 1)]
    ms = []
    async with httpx.AsyncClient(base_url=hall.base, timeout=30) as http:
        for _ in range(hall.windows * (rounds + 1)):
            (await http.post("/api/v1/tickets", json={"business": "A"}, headers=hall.admin)).raise_for_status()
        for c in clerks[:3]:  # warm-up
            await c.open()
            await one_call(c, watcher)
            (await http.post(f"/api/v1/windows/{c.window}/finish", headers=hall.admin)).raise_for_status()
        for _ in range(rounds):
            for c in clerks:
                await c.open()
                ms.append(await one_call(c, watcher))
            for c in clerks:
                (await http.post(f"/api/v1/windows/{c.window}/finish", headers=hall.admin)).raise_for_status()
    for c in clerks:
        c.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return ms


class PlatformProcess:
    """The fake platform in a process of its own for the hot-path part: in this process it would
    share the GIL with the LED clients whose latency we measure (and answer 20 requests a second
    on their time). pause/resume/province_toml/stop as FakePlatform's."""

    def __init__(self):
        import multiprocessing

        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.get_context("fork").Process(target=self._serve, args=(child,), daemon=True)
        self._proc.start()

    @staticmethod
    def _serve(conn) -> None:
        fake = FakePlatform().start()
        while True:
            op, args = conn.recv()
            if op == "stop":
                fake.stop()
                conn.send(None)
                return
            conn.send(getattr(fake, op)(*args))

    def _call(self, op: str, *args):
        self._conn.send((op, args))
        return self._conn.recv()

    def pause(self) -> None:
        self._call("pause")

    def resume(self) -> None:
        self._call("resume")

    def province_toml(self, profile: str, directory: Path, timeout_s: float, retry_base_s: float,
                      retry_max_s: float) -> str:
        return self._call("province_toml", profile, directory, timeout_s, retry_base_s, retry_max_s)

    def stop(self) -> None:
        self._call("stop")
        self._proc.join(10)


def hot_path(push: bool, backlog: int, seconds: int, windows: int, rounds: int, broker: Mosquitto) -> dict:
    # The fake platform runs for both halls (only one talks to it): the same processes on the
    # machine either way, so only the push differs.
    fake = PlatformProcess()
    tmp = Path(tempfile.mkdtemp(prefix="bench-province-hot-"))
    hall = None
    try:
        province = ""
        if push:
            fake.pause()
            province = fake.province_toml("zhejiang", tmp, timeout_s=120, retry_base_s=0.05, retry_max_s=0.2)
        hall = BenchHall(tmp, broker, windows, province)
        # Both halls have made the same ratings (the same day's state): only the push differs.
        asyncio.run(hall.ratings(backlog))
        if push:
            fake.resume()  # the sender drains the backlog while we measure
        run = measure(hall, broker, seconds, rounds, backlog)
        return run if push else {**run, "pushed": 0, "left": 0}
    finally:
        if hall is not None:
            hall.stop()
        fake.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def measure(hall: BenchHall, broker: Mosquitto, seconds: int, rounds: int, backlog: int) -> dict:
    """Durable issue (wrk, 32 connections) then sequential call→LED on one hall, with what the
    push delivered meanwhile and what it has left."""
    before = hall.delivered()[0]
    script = Path(hall.db).parent / "post.lua"
    script.write_text(LUA % token(hall.db, "kiosk"))
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "--timeout", "5s", "-s",
                          str(script), hall.base + "/api/v1/tickets"], capture_output=True, text=True,
                         check=True).stdout
    led = asyncio.run(led_sequential(hall, broker.port, rounds))
    done = hall.delivered()[0]
    return {"issue": parse_wrk(out), "led": led, "pushed": done - before, "left": backlog - done}


def hot_path_within(backlog: int, seconds: int, windows: int, rounds: int, repeat: int, broker: Mosquitto,
                    aa: bool = False) -> dict:
    """One hall with the push on, its platform alternately holding the sender's request at the door
    (nothing flows: the daemon is as it would be with the push off, but for a listener and a count
    every 5 s) and letting everything through (the backlog draining), in the order ABBA BAAB…, so a
    drift of the machine or of the day's growing size falls on both. No spread between halls.
    With `aa` the platform holds the sender in both kinds of phase (the A/A control)."""
    fake = PlatformProcess()
    tmp = Path(tempfile.mkdtemp(prefix="bench-province-within-"))
    hall = None
    runs = {False: [], True: []}
    try:
        fake.pause()
        hall = BenchHall(tmp, broker, windows,
                         fake.province_toml("zhejiang", tmp, timeout_s=120, retry_base_s=0.05, retry_max_s=0.2))
        asyncio.run(hall.ratings(backlog))
        order = [(False, True, True, False), (True, False, False, True)]
        for i in range(repeat):
            for flowing in order[i % 2]:
                (fake.resume if flowing and not aa else fake.pause)()
                runs[flowing].append(measure(hall, broker, seconds, rounds, backlog))
        fake.resume()
    finally:
        if hall is not None:
            hall.stop()
        fake.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return runs


def report(runs: dict, title: str) -> None:
    print(title)
    summary = {}
    for push, rs in runs.items():
        rates = [r["issue"]["rps"] for r in rs]
        led = [ms for r in rs for ms in r["led"]]
        summary[push] = (statistics.median(rates), statistics.median(led), pct(led, 99))
        extra = (f"   pushed during them {sum(r['pushed'] for r in rs):,} (left {rs[-1]['left']:,})" if push else "")
        print(f"  push {'on' if push else 'off':<3}  issue {' '.join(f'{x:,.0f}' for x in rates)} tickets/s "
              f"(median {summary[push][0]:,.0f})   call→LED n={len(led)} median {summary[push][1]:5.2f} ms "
              f"p99 {summary[push][2]:5.2f} ms{extra}")
    ratio_issue = summary[True][0] / summary[False][0]
    ratio_med = summary[True][1] / summary[False][1]
    ratio_p99 = summary[True][2] / summary[False][2]
    verdict = "met" if ratio_issue >= 0.9 and ratio_med <= 1.1 and ratio_p99 <= 1.1 else "NOT met"
    print(f"  on/off: issue rate {ratio_issue:.0%}, call→LED median {ratio_med:.0%}, p99 {ratio_p99:.0%}; "
          f"target within 10%: {verdict}")
    # Pair by pair (the i-th off run against the i-th on run, neighbours in the ABBA order): a
    # drift of the machine between pairs cancels within one.
    for name, of in (("issue rate", lambda r: r["issue"]["rps"]), ("call→LED median", lambda r: statistics.median(r["led"]))):
        ratios = sorted(of(on) / of(off) for off, on in zip(runs[False], runs[True], strict=True))
        print(f"  pair by pair, {name}: {' '.join(f'{x:.0%}' for x in ratios)}; median {statistics.median(ratios):.0%}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=600)
    ap.add_argument("--profiles", default="zhejiang,shandong")
    ap.add_argument("--backlog", type=int, default=3000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--windows", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="alternated off/on runs of the hot-path part")
    ap.add_argument("--skip-hot-path", action="store_true")
    ap.add_argument("--within", action="store_true",
                    help="one hall, its platform alternately holding and taking the push (hot_path_within)")
    ap.add_argument("--aa", action="store_true",
                    help="a control: the 'on' halls have the push off too (A/A), so the ratios show this bench's own spread")
    ap.add_argument("--pin", action="store_true",
                    help="the hall (daemon, broker) on CPU 0; this process, wrk and the fake platform on CPU 1")
    a = ap.parse_args()
    global PIN
    PIN = a.pin
    if a.pin:
        import os

        os.sched_setaffinity(0, {1})  # wrk and the fake platform's process inherit it
    broker = Mosquitto().start()
    if a.pin:
        pin(broker.proc.pid, "0")
    try:
        for profile in [p for p in a.profiles.split(",") if p]:
            throughput(profile, a.records, broker)
        if a.skip_hot_path:
            return
        if not shutil.which("wrk"):
            sys.exit("bench_province: the hot-path part needs wrk (apt-get install wrk)")
        if a.within:
            runs = hot_path_within(a.backlog, a.seconds, a.windows, a.rounds, a.repeat, broker, a.aa)
        else:
            runs = {False: [], True: []}
            for i in range(a.repeat):  # alternated ABBA, so neither always runs second
                for push in alternated(i):
                    runs[push].append(hot_path(push and not a.aa, a.backlog, a.seconds, a.windows, a.rounds, broker))
    finally:
        broker.cleanup()
    if a.within:
        report(runs, f"hot path within one hall, its platform holding vs {'holding again (A/A control)' if a.aa else 'taking'}"
                     f" the push (zhejiang, a backlog of {a.backlog}), {a.repeat * 2} phases each:")
    else:
        report(runs, f"hot path, push off vs {'off again (A/A control: the on side has the push off too)' if a.aa else 'on'}"
                     f" (zhejiang draining a backlog of {a.backlog}), {a.repeat} alternated runs each:")

if __name__ == "__main__":
    main()
