"""`queued led-sim` as an installer runs it: a real process subscribed to a real Mosquitto."""

from __future__ import annotations

import asyncio
import time

from display.led_sim import LedSim, Strip, render
from tests.support import QUEUED


async def test_led_sim_draws_the_call_and_says_it_is_alive(own_mosquitto, hall_with_screens):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{own_mosquitto.port}")
    proc = await asyncio.create_subprocess_exec(
        QUEUED, "led-sim", "--url", f"mqtt://127.0.0.1:{own_mosquitto.port}", "--windows", "1,2",
        "--screen-id", "sim-1", "--plain", "--duration", "2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.time() + 5
        screens = []
        while time.time() < deadline and not screens:  # its first heartbeat: it has subscribed
            await asyncio.sleep(0.05)
            r = await hall.http.get("/api/v1/screens", headers=hall.headers["supervisor"])
            screens = r.json()["screens"]
        assert [(s["id"], s["windows"], s["online"]) for s in screens] == [("sim-1", ["1", "2"], True)]
        await hall.issue("A")
        await hall.act("1", "call-next")
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert "daemon: online" in text
    last = text.split("LED 模拟器")[-1]
    assert "1号窗口  [呼叫]" in last and "A001" in last and "请到1号窗口" in last
    assert "2号窗口  [关闭]" in last and "本窗口暂停办理" in last
    assert "3号窗口" not in text  # only the windows it was told to show


def test_stale_or_repeated_messages_are_dropped():
    sim = LedSim("mqtt://127.0.0.1:1", "queued", "main", None, "t", color=False)
    topic = "queued/main/window/3/led"
    msg = b'{"window":"3","seq":5,"state":"calling","lines":["A001","\xe8\xaf\xb7"],"flash":true}'
    assert sim.handle(topic, msg, 0.0)
    assert not sim.handle(topic, msg, 0.1)  # repeated
    assert not sim.handle(topic, msg.replace(b'"seq":5', b'"seq":4'), 0.2)  # stale
    assert not sim.handle(topic, b"garbage", 0.3)
    assert not sim.handle(topic, b'{"window":"3","seq":"x","lines":[]}', 0.3)
    assert sim.handle("queued/main/status", b"online", 0.4)  # the daemon restarted: seq may start again
    assert sim.handle(topic, msg.replace(b'"seq":5', b'"seq":1'), 0.5)
    assert sim.strips["3"].lines == ["A001", "请"]


def test_render_keeps_wide_characters_in_the_box():
    s = Strip("3", ["本窗口暂停办理很长很长的一行字", "A001"], "closed", 7)
    text = render({"3": s}, "online", 0.0, color=False)
    rows = text.splitlines()
    box = [r for r in rows if r.startswith("│")]
    assert len(box) == 2
    from display.led_sim import width
    assert width(box[0]) == width(box[1]) == width(rows[-1])


async def test_led_sim_shows_the_halls_clock_not_the_machines(own_mosquitto, tmp_path):
    """An installer's laptop on UTC: the simulator's clock is the hall's (Asia/Shanghai), from its config."""
    import os
    import re
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from tests.support import hall_toml

    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(tmp_path / "h.sqlite3"), mqtt_url=f"mqtt://127.0.0.1:{own_mosquitto.port}"))
    proc = await asyncio.create_subprocess_exec(
        QUEUED, "led-sim", "--config", str(conf), "--plain", "--duration", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "TZ": "UTC"})
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    shown = re.findall(r"LED 模拟器  daemon: \S+  \((\d\d:\d\d:\d\d)\)", out.decode())
    assert shown, out.decode()
    hall_now = datetime.now(ZoneInfo("Asia/Shanghai"))
    at = datetime.combine(hall_now.date(), datetime.strptime(shown[-1], "%H:%M:%S").time(), hall_now.tzinfo)
    assert abs((hall_now - at + timedelta(hours=12)) % timedelta(days=1) - timedelta(hours=12)) < timedelta(seconds=10)
