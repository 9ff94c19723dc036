"""For the hot-path benchmarks run side by side with and without `[central]`: a throwaway
PostgreSQL cluster and a real `queued central serve`, and the `[central]` table a hall needs to
ship to it (hall id `main`). Not a benchmark itself (make bench runs bench_*.py only).

    with ShippingTarget() as target:
        hall_toml += target.toml
        ...
        print(target.summary())
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from central.pgcluster import Cluster, free_port

ROOT = Path(__file__).resolve().parent.parent
QUEUED = str(ROOT / ".venv" / "bin" / "queued")


@contextmanager
def pinned_halls(directory: Path, cpus: str | None):
    """Every `queued` that tests.support starts inside this block runs on `cpus` only (a taskset
    wrapper as tests.support.QUEUED); `cpus=None` changes nothing. For benchmarks that keep the
    hall on one CPU and the central side, the platform and the load on the other."""
    import tests.support as support

    queued = support.QUEUED
    if cpus is not None:
        wrapper = Path(directory) / f"queued-cpu{cpus}"
        wrapper.write_text(f'#!/bin/sh\nexec taskset -c {cpus} {queued} "$@"\n')
        wrapper.chmod(0o755)
        support.QUEUED = str(wrapper)
    try:
        yield
    finally:
        support.QUEUED = queued


def pin(pid: int, cpus: str) -> None:
    """A running process and all its threads onto `cpus` (a broker started before the pinning)."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True, capture_output=True)


def idle_on(cpus: str) -> list[str]:
    """The command prefix that starts a process on `cpus` only (none: anywhere) as SCHED_IDLE: it
    takes only the time the hall and the load generator leave, and gives way at once when one wakes."""
    return (["taskset", "-c", cpus] if cpus else []) + ["chrt", "--idle", "0"]


def wait_ready(url: str) -> None:
    """Until a just-started service answers `url` with 200, for at most ~30 s."""
    for _ in range(300):
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def alternated(i: int) -> tuple[bool, bool]:
    """Round i's order of (without, with): ABBA, so neither always runs second and a drift of the
    machine falls on both."""
    return (False, True) if i % 2 == 0 else (True, False)


class ShippingTarget:
    def __init__(self, hall: str = "main", cpus: str = ""):
        self.hall = hall
        self.cpus = cpus  # e.g. "1": the central service and PostgreSQL kept to these CPUs (taskset), SCHED_IDLE
        self.dir = Path(tempfile.mkdtemp(prefix="bench-central-side-"))

    def __enter__(self) -> ShippingTarget:
        # PostgreSQL's files in RAM when the machine has /dev/shm: the central store is another
        # machine with its own disk in a deployment. On the hall's disk its WAL flushes (fsync on)
        # queue with the hall's journal commits (synchronous=FULL), and the hall's durable issue
        # measured the shared disk: −12% with the central inserting, within the noise without.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self.cluster = Cluster(tempfile.mkdtemp(prefix="bench-central-side-pg-", dir=shm)).start()
        # Pinned, the central side shares its CPU with the load generator (wrk, the LED clients),
        # which stands for kiosks and clerks on other machines: as SCHED_IDLE it takes only what they
        # leave and gives way at once when one wakes (at nice 19 a woken LED client still waited for
        # it), so neither a starved wrk nor the central's inserts show up as the hall's latency.
        prefix = idle_on(self.cpus) if self.cpus else []
        if self.cpus:  # the postmaster and every backend it forks from now on
            postmaster = (Path(self.cluster.data) / "postmaster.pid").read_text().split()[0]
            pin(int(postmaster), self.cpus)
            subprocess.run(["chrt", "--idle", "-a", "-p", "0", postmaster], check=True, capture_output=True)
        port = free_port()
        conf = self.dir / "central.toml"
        conf.write_text(f'[central]\ndatabase = "{self.cluster.url}"\nhttp = "127.0.0.1:{port}"\n')
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([*prefix, QUEUED, "central", "serve", "--config", str(conf)],
                                     stdout=open(self.dir / "central.log", "ab"), stderr=subprocess.STDOUT)
        wait_ready(self.url + "/healthz")

        def create(*args):
            out = subprocess.run([QUEUED, "central", "token", "create", *args, "--config", str(conf)],
                                 capture_output=True, text=True, check=True)
            return out.stdout.strip().splitlines()[-1]

        token_file = self.dir / "hall.token"
        token_file.write_text(create("--hall", self.hall) + "\n")
        self.supervisor = create("--role", "supervisor")
        self.toml = f'\n[central]\nurl = "{self.url}"\ntoken_file = "{token_file}"\n'
        return self

    def summary(self) -> str:
        halls = httpx.get(self.url + "/api/v1/halls", headers={"Authorization": f"Bearer {self.supervisor}"}).json()
        h = next((x for x in halls["halls"] if x["id"] == self.hall), None)
        return ("central: nothing shipped" if h is None else (
            f"central: {h['events']:,} events shipped during the run (last seq {h['last_seq']:,})")
            + f"; the central side used {self.cpu_seconds():.1f} s of CPU")

    def cpu_seconds(self) -> float:
        """CPU time so far of the central service and of PostgreSQL (the postmaster, its living
        children and those that have exited), from /proc: what the central side put on its CPU."""
        postmaster = int((Path(self.cluster.data) / "postmaster.pid").read_text().split()[0])
        ticks = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                fields = (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(pid) in (postmaster, self.proc.pid) or int(fields[1]) == postmaster:
                ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.cluster.destroy()
        shutil.rmtree(self.dir, ignore_errors=True)


class AckingTarget:
    """A control for ShippingTarget: `[central]` pointed at bench/central_stub.py, which answers
    every batch as the central service would and stores nothing. The hall ships exactly as it does
    to the real service; only the central side's own CPU load (its inserts, PostgreSQL) is gone."""

    def __init__(self, cpus: str = ""):
        self.cpus = cpus
        self.dir = Path(tempfile.mkdtemp(prefix="bench-central-stub-"))

    def __enter__(self) -> AckingTarget:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        prefix = idle_on(self.cpus) if self.cpus else []
        self.proc = subprocess.Popen([*prefix, sys.executable, str(ROOT / "bench" / "central_stub.py"), str(port)])
        wait_ready(self.url + "/stats")
        token_file = self.dir / "hall.token"
        token_file.write_text("stub-token-for-the-bench\n")
        self.toml = f'\n[central]\nurl = "{self.url}"\ntoken_file = "{token_file}"\n'
        return self

    def summary(self) -> str:
        s = httpx.get(self.url + "/stats").json()
        return f"central stub: {s['events']:,} events acknowledged in {s['batches']:,} batches (last seq {s['last_seq']:,})"

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class IdleSpinner:
    """A control with no `[central]` at all: a SCHED_IDLE process on `cpus` busy `duty` of every
    10 ms, the CPU load a central side puts there and nothing else. If the hall's figures move as
    much with it as with the central service, the machine is what moved them, not the shipping."""

    def __init__(self, duty: float = 0.3, cpus: str = ""):
        self.duty = duty
        self.cpus = cpus
        self.toml = ""

    def __enter__(self) -> IdleSpinner:
        code = ("import time\nwhile True:\n    t = time.perf_counter()\n"
                f"    while time.perf_counter() - t < {self.duty * 0.01}: pass\n"
                f"    time.sleep({(1 - self.duty) * 0.01})\n")
        self.proc = subprocess.Popen([*idle_on(self.cpus), sys.executable, "-c", code])
        return self

    def summary(self) -> str:
        return f"spinner: busy {self.duty:.0%} of every 10 ms, SCHED_IDLE{' on CPU ' + self.cpus if self.cpus else ''}"

    def __exit__(self, *exc) -> None:
        self.proc.kill()
        self.proc.wait(10)
