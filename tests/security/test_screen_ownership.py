"""The daemon owns its screens' retained state. On a hall's own broker without ACLs anybody can
retain "暂停服务" on a working window's topic; every screen that connects shows it from then on
unless the daemon notices and says its own state again (within seconds), counting the overwrite.

Each test runs twice: on Mosquitto, where the daemon speaks MQTT 5 and subscribes with No Local
(its own messages never come back), and through a gateway that speaks only 3.1.1, where the
daemon falls back and tells its own echoes apart."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import httpx
import pytest

from tests.pads.support import metric
from tests.security.broker_clients import Client, V311Gateway
from tests.support import Mosquitto, ServeProcess, free_port, hall_toml, token

PAUSED = "暂停服务"


@pytest.fixture(params=["mqtt5", "mqtt311"])
def hall(tmp_path, request):
    broker = Mosquitto().start()  # anonymous, no ACL: the misconfigured hall broker
    gateway = V311Gateway(broker.port) if request.param == "mqtt311" else None
    daemon_port = gateway.port if gateway else broker.port
    http_port = free_port()
    db = tmp_path / "hall.sqlite3"
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(db), http_port=http_port, mqtt_url=f"mqtt://127.0.0.1:{daemon_port}"),
                    encoding="utf-8")
    base = f"http://127.0.0.1:{http_port}"
    proc = ServeProcess(conf, tmp_path).start(base)
    clerk = {"Authorization": f"Bearer {token(str(db), 'clerk', '1', '1001')}"}
    kiosk = {"Authorization": f"Bearer {token(str(db), 'kiosk')}"}
    supervisor = {"Authorization": f"Bearer {token(str(db), 'supervisor')}"}
    with httpx.Client(base_url=base, timeout=5) as http:
        r = http.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
        assert r.status_code == 201
        r = http.post("/api/v1/windows/1/call-next", headers=clerk)
        assert r.status_code == 200
        if gateway:
            assert gateway.refused_v5 >= 1 and gateway.relayed >= 1  # it tried 5, then spoke 3.1.1
        yield SimpleNamespace(http=http, port=broker.port, kiosk=kiosk, clerk=clerk, supervisor=supervisor, proc=proc)
    proc.stop()
    if gateway:
        gateway.close()
    broker.cleanup()


def retained(port: int, topic: str) -> bytes:
    """What a screen that connects now is given for `topic`."""
    c = Client(port)
    try:
        c.subscribe(topic)
        return c.first(lambda m: m.topic == topic).payload
    finally:
        c.close()


def test_a_forged_retained_screen_is_put_right_within_seconds(hall):
    http, port = hall.http, hall.port
    led, gbk = "queued/main/window/1/led", "queued/main/window/1/led/gbk"
    # The call's reply comes after the commit; its led message follows off the hot path, so a
    # screen connecting at once may still be given the earlier state for a moment.
    deadline = time.monotonic() + 5
    while True:
        own = json.loads(retained(port, led))
        if own["state"] == "calling" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert own["state"] == "calling" and own["ticket"] == "A001"
    forged = dict(own, state="paused", ticket=None, lines=[PAUSED, ""], seq=own["seq"] + 1000, flash=False)
    forger = Client(port)
    try:
        forger.publish(led, json.dumps(forged, ensure_ascii=False).encode(), retain=True)
        forger.publish(gbk, PAUSED.encode("gbk"), retain=True)
        forger.publish("queued/main/status", b"offline", retain=True)
        forger.publish("queued/main/board", b'{"v":1,"hall":"main","recent":[],"waiting":{}}', retain=True)
    finally:
        forger.close()
    deadline = time.monotonic() + 5
    while True:
        now = json.loads(retained(port, led))
        text = retained(port, gbk).decode("gbk")
        status = retained(port, "queued/main/status")
        board = json.loads(retained(port, "queued/main/board"))
        if now["state"] == "calling" and text.startswith("A001") and status == b"online" and board["recent"]:
            break
        assert time.monotonic() < deadline, f"still forged after 5 s: {now}, {text!r}, {status}, {board}"
        time.sleep(0.2)
    # A display that drops stale messages by seq still takes the correction.
    assert now["ticket"] == "A001" and now["seq"] > forged["seq"]
    m = http.get("/metrics").text
    assert metric(m, "queued_screen_overwrites_total", topic="led") == 1
    assert metric(m, "queued_screen_overwrites_total", topic="led_gbk") == 1
    assert metric(m, "queued_screen_overwrites_total", topic="status") == 1
    assert metric(m, "queued_screen_overwrites_total", topic="board") == 1
    live = http.get("/api/v1/hall/live", headers=hall.supervisor).json()
    assert live["screen_overwrites"]["count"] == 4
    assert live["screen_overwrites"]["last_topic"] in (led, gbk, "queued/main/status", "queued/main/board")


def test_its_own_bursts_are_never_counted_as_overwrites(hall):
    http = hall.http
    watcher = Client(hall.port)
    watcher.subscribe("queued/main/#")
    try:
        for _ in range(20):  # quick changes of window 1 and the board: the daemon's echoes are in flight
            assert http.post("/api/v1/tickets", json={"business": "A"}, headers=hall.kiosk).status_code == 201
            assert http.post("/api/v1/windows/1/start", headers=hall.clerk).status_code == 200
            assert http.post("/api/v1/windows/1/call-next", headers=hall.clerk).status_code == 200
        watcher.first(lambda m: m.topic == "queued/main/window/1/led" and b'"A021"' in m.payload)
        time.sleep(0.5)
    finally:
        watcher.close()
    m = http.get("/metrics").text
    assert metric(m, "queued_mqtt_published_total") > 40
    assert sum(metric(m, "queued_screen_overwrites_total", topic=t) for t in ("led", "led_gbk", "status", "board")) == 0
    assert http.get("/api/v1/hall/live", headers=hall.supervisor).json()["screen_overwrites"]["count"] == 0


def test_its_own_offline_at_stop_is_not_taken_back(hall):
    assert retained(hall.port, "queued/main/status") == b"online"
    hall.proc.stop()
    assert hall.proc.proc.returncode == 0
    time.sleep(0.3)
    assert retained(hall.port, "queued/main/status") == b"offline"
