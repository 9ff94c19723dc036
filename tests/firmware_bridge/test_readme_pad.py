"""The README's walk through a pad, as a newcomer types it: `queued pad-emu --address 3 --link …`
in one terminal, `queued serve --config docs/examples/pad_hall.toml` in another (its window 3 has
`pad = { port = …, address = 3 }`); the pad comes online and its 呼叫 key calls the next ticket at
window 3. The example file is used as shipped, with only the link path (a fixed /tmp path in the
file) and the ports moved to this test's own."""

from __future__ import annotations

import re
import subprocess
import time

import httpx

from tests.pads.support import metric
from tests.support import QUEUED, ROOT, ServeProcess, free_port, token

EXAMPLE = ROOT / "docs" / "examples" / "pad_hall.toml"


def wait_for(check, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_the_readme_pad_walkthrough(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert 'pad = { port = "/tmp/queued-pad3", address = 3 }' in text
    assert "queued pad-emu --address 3 --link /tmp/queued-pad3" in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "queued pad-emu --address 3 --link /tmp/queued-pad3" in readme and "docs/examples/pad_hall.toml" in readme
    link = tmp_path / "queued-pad3"
    conf = tmp_path / "pad_hall.toml"
    conf.write_text(text.replace("/tmp/queued-pad3", str(link)), encoding="utf-8")
    http, mqtt = free_port(), free_port()
    env = {"QUEUED_HTTP": f"127.0.0.1:{http}", "QUEUED_EMBEDDED_MQTT": f"127.0.0.1:{mqtt}"}
    base = f"http://127.0.0.1:{http}"

    emu = subprocess.Popen([QUEUED, "pad-emu", "--address", "3", "--link", str(link)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, bufsize=1)
    serve = None
    try:
        lines = [emu.stdout.readline(), emu.stdout.readline()]
        assert re.match(r"pty ready: /dev/pts/\d+", lines[0]), lines
        assert lines[1].startswith(f"link ready: {link} -> /dev/pts/"), lines
        assert link.is_symlink()
        serve = ServeProcess(conf, tmp_path, env).start(base)
        wait_for(lambda: metric(httpx.get(base + "/metrics").text, "queued_pad_online", window="3") == 1,
                 "the emulated pad at window 3 never came online")
        db = str(tmp_path / "queued-pad.sqlite3")
        kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
        r = httpx.post(base + "/api/v1/tickets", json={"business": "B"}, headers=kiosk, timeout=5)
        assert r.status_code == 201, r.text
        emu.stdin.write("c\n")  # the clerk presses 呼叫 on the pad
        emu.stdin.flush()
        viewer = {"Authorization": f"Bearer {token(db, 'supervisor')}"}
        window = wait_for(lambda: (w := httpx.get(base + "/api/v1/windows/3", headers=viewer).json())["ticket"] and w,
                          "the pad's 呼叫 key called nothing at window 3")
        assert (window["ticket"], window["state"]) == ("B001", "calling")
        # The LED strips in a terminal, found from the same config (the broker's port from the state).
        sim = subprocess.run([QUEUED, "led-sim", "--config", str(conf), "--windows", "3", "--plain",
                              "--duration", "2"], capture_output=True, text=True, timeout=20, cwd=tmp_path)
        assert sim.returncode == 0, sim.stderr
        assert "B001" in sim.stdout.split("LED 模拟器")[-1], sim.stdout[-600:]
        for key in ("f", "5"):  # 办结, then the citizen's 非常满意 on the pad
            emu.stdin.write(key + "\n")
            emu.stdin.flush()
            time.sleep(0.3)
        wait_for(lambda: metric(httpx.get(base + "/metrics").text, "queued_ratings_total", level="5", channel="pad") == 1,
                 "the pad's rating never arrived")
        live = httpx.get(base + "/api/v1/hall/live", headers=viewer).json()
        w3 = next(w for w in live["windows"] if w["window"] == "3")
        assert (w3["pad"], w3["served_today"]) == ("online", 1)  # what /admin shows: 在线, one case
    finally:
        if serve is not None:
            serve.stop()
        emu.stdin.write("q\n")
        emu.stdin.flush()
        try:
            emu.wait(5)
        except subprocess.TimeoutExpired:
            emu.kill()
    assert not link.exists() and not link.is_symlink()  # pad-emu removes its link when it quits
