"""The embedded Mosquitto as a child of a real `queued serve`: private files, restarted when it dies,
gone with the daemon (also after kill -9), and a clear word when it cannot run."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.security.broker_clients import accounts, login
from tests.support import QUEUED, ServeProcess, free_port, hall_toml


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def mosquitto_child(pid: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in children(pid):
            try:
                if b"mosquitto" in Path(f"/proc/{c}/cmdline").read_bytes():
                    return c
            except FileNotFoundError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no mosquitto child of {pid}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs after {timeout} s"
        time.sleep(0.05)


class Served:
    def __init__(self, d: Path, env: dict | None = None):
        self.dir = d
        self.http_port, self.mqtt_port = free_port(), free_port()
        self.db = d / "hall.sqlite3"
        self.conf = d / "hall.toml"
        self.conf.write_text(hall_toml(str(self.db), http_port=self.http_port, mqtt_port=self.mqtt_port),
                             encoding="utf-8")
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.proc = ServeProcess(self.conf, d, env=env)

    def start(self) -> Served:
        self.proc.start(self.base)
        return self

    def health(self) -> dict:
        return httpx.get(self.base + "/healthz", timeout=2).json()


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path).start()
    yield s
    s.proc.stop()


def test_the_broker_files_are_private_and_say_what_the_spec_says(served):
    d = served.db.parent / "hall-mqtt"
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    names = {p.name for p in d.iterdir()}
    assert {"accounts.json", "passwd", "acl", "mosquitto.conf"} <= names
    for p in d.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    conf = (d / "mosquitto.conf").read_text()
    for line in ("allow_anonymous false", "use_username_as_clientid true", "persistence false",
                 f"listener {served.mqtt_port} 127.0.0.1"):
        assert line in conf.splitlines(), line
    assert "password" not in (d / "passwd").read_text().lower()
    secret = accounts(served.db)["accounts"]["queued"]["password"]
    assert secret not in (d / "passwd").read_text() and secret not in conf


def test_a_broker_that_dies_is_started_again(served):
    first = mosquitto_child(served.proc.proc.pid)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        kids = [c for c in children(served.proc.proc.pid) if c != first and alive(c)]
        if kids and served.health()["checks"].get("mqtt"):
            break
        assert time.monotonic() < deadline, f"the broker was not restarted: {served.health()}"
        time.sleep(0.1)
    client = login(served.mqtt_port, accounts(served.db), "led-1")
    client.subscribe("queued/main/status")
    assert client.first(lambda m: m.topic == "queued/main/status").payload == b"online"
    client.close()
    text = httpx.get(served.base + "/metrics").text
    assert "queued_broker_restarts_total 1.0" in text


def test_kill_9_of_the_daemon_leaves_no_broker_behind(served):
    broker = mosquitto_child(served.proc.proc.pid)
    served.proc.kill(signal.SIGKILL)
    wait_gone(broker, 5)
    again = ServeProcess(served.conf, served.dir).start(served.base)  # the same ports are free again
    try:
        assert served.health()["checks"]["mqtt"] is True
    finally:
        again.stop()


def test_sigterm_stops_daemon_and_broker(served):
    broker = mosquitto_child(served.proc.proc.pid)
    served.proc.proc.send_signal(signal.SIGTERM)
    assert served.proc.proc.wait(10) == 0
    wait_gone(broker, 2)


def test_a_missing_mosquitto_is_named(tmp_path):
    s = Served(tmp_path)
    env = {**os.environ, "QUEUED_MOSQUITTO": str(tmp_path / "no-such-mosquitto")}
    t0 = time.monotonic()
    proc = subprocess.run([QUEUED, "serve", "--config", str(s.conf)], capture_output=True, text=True, env=env,
                          timeout=20)
    assert time.monotonic() - t0 < 10
    assert proc.returncode != 0
    assert "mosquitto" in proc.stderr and "apt-get install mosquitto" in proc.stderr and "[mqtt] url" in proc.stderr
    assert "Traceback" not in proc.stderr
