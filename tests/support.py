"""Shared test helpers: free ports, a hall config, a settable clock, real Mosquitto, a real daemon process."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
QUEUED = str(VENV_BIN / "queued")
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and exports a person can look at after a run
# What a browser on the hall's own pages sends with every POST: in-process clients that stand in
# for a page send it too (cookie-authenticated state changes need it: queued/web/same_origin.py).
PAGE_ORIGIN = {"Origin": "http://hall"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HALL_TOML = """
[daemon]
http = "127.0.0.1:{http_port}"
database = "{database}"
public_url = "{public_url}"
embedded_mqtt = "127.0.0.1:{mqtt_port}"

{mqtt}

[hall]
id = "main"
name = "高新区政务服务中心"
max_wait_minutes = 60
rating_timeout_s = 30
{service_days}
{hall_extra}

[[business]]
code = "A"
name = "综合受理"

[[business]]
code = "B"
name = "不动产登记"

[[business]]
code = "C"
name = "社保医保"
daily_cap = 5

[[clerk]]
id = "1001"
name = "张三"
stars = 5
pin = "1001"

[[clerk]]
id = "1002"
name = "李四"
stars = 4
pin = "1002"

[[window]]
id = "1"
businesses = ["A", "B"]

[[window]]
id = "2"
businesses = ["B", "A"]

[[window]]
id = "3"
businesses = ["C"]
{extra}
"""


def hall_toml(database: str, http_port: int | None = None, mqtt_port: int | None = None,
              mqtt_url: str | None = None, extra: str = "", hall_extra: str = "", every_day: bool = True,
              public_url: str | None = None) -> str:
    """The test hall; `extra` is appended (more tables), `hall_extra` goes inside [hall].
    `public_url` (QR codes and WeChat links need one): by default the address the test reaches the
    hall at, http://127.0.0.1:PORT for a served hall, http://hall for in-process clients.
    `every_day`: the hall also serves on weekends (service_days), so tests that issue tickets at
    today's date behave the same whatever day of the week they run; calendar tests turn it off."""
    mqtt = f'[mqtt]\nurl = "{mqtt_url}"\n' if mqtt_url else ""
    service_days = 'service_days = ["sat", "sun"]' if every_day else ""
    if public_url is None:
        public_url = f"http://127.0.0.1:{http_port}" if http_port else "http://hall"
    return HALL_TOML.format(http_port=http_port or free_port(), database=database, public_url=public_url,
                            mqtt_port=mqtt_port or free_port(), mqtt=mqtt, extra=extra, hall_extra=hall_extra,
                            service_days=service_days)


class Clock:
    """A settable clock for the runtime: tests move time instead of sleeping."""

    def __init__(self, now: float | None = None):
        # Default: 10:00 hall time today, so issuing hours and closing times behave the same whenever CI runs.
        if now is None:
            t = time.time()
            day_start = t - ((t + 8 * 3600) % 86400)
            now = day_start + 10 * 3600
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Mosquitto:
    """A real Mosquitto broker on a free loopback port, with its own config (never the system one)."""

    def __init__(self, extra_conf: str = "", port: int | None = None):
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mosq-"))
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def binary() -> str:
        return shutil.which("mosquitto") or "/usr/sbin/mosquitto"

    def start(self) -> Mosquitto:
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\n"
            f"{self.extra_conf}\n"
        )
        self.proc = subprocess.Popen([self.binary(), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode()}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ServeProcess:
    """A real `queued serve` process (for crash tests and browser tests)."""

    def __init__(self, config_path: Path, cwd: Path, env: dict | None = None):
        self.config_path = config_path
        self.cwd = cwd
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = cwd / "serve.log"

    def start(self, base_url: str, timeout: float = 20) -> ServeProcess:
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen([QUEUED, "serve", "--config", str(self.config_path)], cwd=self.cwd,
                                     stdout=self._logf, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"queued serve exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(base_url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"queued serve did not become healthy:\n{self.log.read_text()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        if getattr(self, "_logf", None):
            self._logf.close()


def serve_hall(tmp_path: Path, extra: str = "", hall_extra: str = "") -> tuple[ServeProcess, str, str]:
    """A real `queued serve` of the test hall on free ports: (process, base URL, database path)."""
    port = free_port()
    db = tmp_path / "hall.sqlite3"
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(db), http_port=port, extra=extra, hall_extra=hall_extra), encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    return ServeProcess(conf, tmp_path).start(base), base, str(db)


# Debian's Chromium as root, headless, with nothing that reaches out to the (closed) network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


# The one flag a hall's screen PC starts Chromium with so that calls sound without a first tap
# (docs/screens.md); without it Chromium refuses to play sound until someone touches the page.
AUTOPLAY = "--autoplay-policy=no-user-gesture-required"


def launch_chromium(playwright, *extra_args: str):
    """`playwright.chromium.launch(...)` for the sync or the async API (await it in async tests)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])


def token(database: str, role: str, window: str | None = None, clerk: str | None = None) -> str:
    from queued.auth import create_token

    return create_token(database, role, window, clerk)


def sox_stat(path: str | Path) -> dict[str, float]:
    """`sox FILE -n stat` as numbers: {"Length (seconds)": 4.5, "RMS     amplitude": 0.09, ...}."""
    done = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    out = {}
    for line in done.stderr.splitlines():
        name, sep, value = line.partition(":")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            continue
    return out



async def eventually(predicate, timeout: float = 10.0, step: float = 0.02, what: str = "condition"):
    """Poll `predicate()` (awaited when it returns a coroutine) every `step` s until its value is
    true, and return that value; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s")
        await asyncio.sleep(step)

class InProcessHall:
    """An in-process daemon on one SQLite file with `adapters`, started, stopped and restarted on
    the same file, and `client`: an httpx client that stands in for the hall's own pages (it sends
    their Origin). A subclass says what its config is (`config_text()`)."""

    def __init__(self, db: str, clock, adapters: list[str]):
        self.db = db
        self.clock = clock
        self.adapters = adapters
        self.daemon = None
        self.client: httpx.AsyncClient | None = None

    def config_text(self) -> str:
        return hall_toml(self.db)

    async def start(self):
        from queued.config import parse_config
        from queued.daemon import Daemon

        self.daemon = Daemon(parse_config(self.config_text(), source="test"), clock=self.clock,
                             adapters=self.adapters)
        await self.daemon.start()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.daemon.app), base_url="http://hall",
                                        headers=PAGE_ORIGIN)
        return self

    async def stop(self):
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        if self.daemon is not None:
            await self.daemon.stop()
            self.daemon = None

    async def restart(self):
        await self.stop()
        return await self.start()
