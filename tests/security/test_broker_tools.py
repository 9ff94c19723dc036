"""The demo's tools against the embedded broker, which refuses anonymous clients: `queued led-sim`
and the remote pad bridge take their accounts from the daemon's state directory, as the README runs
them (`queued pad-emu` makes the pads' pty)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.pads.support import metric, pad_windows
from tests.support import QUEUED, ROOT, ServeProcess, free_port, hall_toml


@pytest.fixture
def demo(tmp_path):
    http_port, mqtt_port = free_port(), free_port()
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(tmp_path / "hall.sqlite3"), http_port=http_port, mqtt_port=mqtt_port,
                              extra=pad_windows("remote-a", remote=True)), encoding="utf-8")
    base = f"http://127.0.0.1:{http_port}"
    proc = ServeProcess(conf, tmp_path).start(base)
    yield tmp_path, conf, base, mqtt_port
    proc.stop()


def test_led_sim_logs_in_with_the_account_beside_the_database(demo):
    state, conf, _, mqtt_port = demo
    for args in (["--state-dir", str(state), "--url", f"mqtt://127.0.0.1:{mqtt_port}"], ["--config", str(conf)]):
        out = subprocess.run([QUEUED, "led-sim", *args, "--windows", "1,2", "--plain", "--duration", "2"],
                             capture_output=True, text=True, timeout=20, cwd=state)
        assert out.returncode == 0, out.stderr
        last = out.stdout.split("LED 模拟器")[-1]
        assert "daemon: online" in last and "1号窗口" in last and "本窗口暂停办理" in last, out.stdout[-600:]


def test_the_remote_bridge_logs_in_with_its_own_account(demo):
    state, _, base, mqtt_port = demo
    emu = subprocess.Popen([QUEUED, "pad-emu", "--address", "4", "--address", "5"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    bridge = None
    try:
        line = emu.stdout.readline()
        pty = re.search(r"pty ready: (\S+)", line).group(1)
        bridge = subprocess.Popen(
            [sys.executable, "-m", "firmware_bridge.mqtt_bridge", "--port", pty, "--address", "4", "--address", "5",
             "--mqtt", f"mqtt://127.0.0.1:{mqtt_port}", "--state-dir", str(state)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        while True:
            m = httpx.get(base + "/metrics").text
            if metric(m, "queued_pad_online", window="4") == 1 and metric(m, "queued_pad_online", window="5") == 1:
                break
            assert bridge.poll() is None, bridge.stderr.read()
            assert time.monotonic() < deadline, "the bridge's pads never came online through the embedded broker"
            time.sleep(0.1)
    finally:
        for p in (bridge, emu):
            if p is not None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
