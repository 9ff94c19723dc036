"""The embedded broker as a stranger on the hall LAN meets it: a real `queued serve` with no [mqtt],
so the daemon runs and configures its own Mosquitto (mqtt.md 1.1, "Access").

Accounts come from the file the daemon writes beside its database, as an installer's would.
"Nothing arrived" is shown by order, not by sleeping alone: after the refused message, something
the daemon itself publishes later is awaited on the same subscription.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.pads.support import metric, pad_windows
from tests.security.broker_clients import Client, accounts, login
from tests.support import ServeProcess, free_port, hall_toml, token


class Hall:
    def __init__(self, base: str, mqtt_port: int, database: str):
        self.base, self.mqtt_port, self.database = base, mqtt_port, database
        self.http = httpx.Client(base_url=base, timeout=5)
        self.kiosk = {"Authorization": f"Bearer {token(database, 'kiosk')}"}
        self.clerk4 = {"Authorization": f"Bearer {token(database, 'clerk', '4', '1001')}"}
        self.clerk1 = {"Authorization": f"Bearer {token(database, 'clerk', '1', '1002')}"}
        self.admin = {"Authorization": f"Bearer {token(database, 'admin')}"}

    @property
    def accounts(self) -> dict:
        return accounts(self.database)

    def login(self, user: str, **kw) -> Client:
        return login(self.mqtt_port, self.accounts, user, **kw)

    def issue(self, business: str = "A") -> dict:
        r = self.http.post("/api/v1/tickets", json={"business": business}, headers=self.kiosk)
        assert r.status_code == 201, r.text
        return r.json()

    def window(self, w: str) -> dict:
        return self.http.get(f"/api/v1/windows/{w}", headers=self.admin).json()

    def metric(self, name: str, **labels) -> float:
        return metric(self.http.get("/metrics").text, name, **labels)


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    d = tmp_path_factory.mktemp("broker-access")
    http_port, mqtt_port = free_port(), free_port()
    db = d / "hall.sqlite3"
    conf = d / "hall.toml"
    conf.write_text(hall_toml(str(db), http_port=http_port, mqtt_port=mqtt_port,
                              extra=pad_windows("remote-a", remote=True)), encoding="utf-8")
    base = f"http://127.0.0.1:{http_port}"
    proc = ServeProcess(conf, d).start(base)
    h = Hall(base, mqtt_port, str(db))
    yield h
    h.http.close()
    proc.stop()


def test_anonymous_clients_are_refused(hall):
    anonymous = Client(hall.mqtt_port)
    try:
        assert anonymous.refused, "the embedded broker took an anonymous client"
    finally:
        anonymous.close()
    wrong = Client(hall.mqtt_port, "queued", "not-the-password")
    try:
        assert wrong.refused
    finally:
        wrong.close()


def test_the_accounts_are_the_daemon_its_screens_and_one_per_bridge(hall):
    accts = hall.accounts["accounts"]
    roles = {name: a["role"] for name, a in accts.items()}
    assert roles["queued"] == "daemon" and roles["queued-pads"] == "daemon"
    assert roles["led-sim"] == "display" and roles["board"] == "display"
    assert {roles[f"led-{w}"] for w in ("1", "2", "3", "4", "5")} == {"display"}
    bridges = {name: a for name, a in accts.items() if a["role"] == "bridge"}
    assert list(bridges) == ["bridge-remote-a"] and bridges["bridge-remote-a"]["addresses"] == [4, 5]
    assert len({a["password"] for a in accts.values()}) == len(accts)  # no shared passwords
    assert hall.accounts["broker"] == f"mqtt://127.0.0.1:{hall.mqtt_port}"


def test_a_display_cannot_press_a_windows_keys(hall):
    r = hall.http.post("/api/v1/windows/4/sign-in", json={"clerk": "1001"}, headers=hall.clerk4)
    assert r.status_code == 200, r.text
    first, second = hall.issue("A"), hall.issue("A")
    display, bridge = hall.login("led-1"), hall.login("bridge-remote-a")
    try:
        display.publish("queued/main/pad/4/event", '{"evt": 7, "type": "key", "key": "call_next"}')
        display.publish("queued/main/pad/4/event", '{"evt": 8, "type": "rating", "case": 1, "level": 1, "reasons": []}')
        bridge.publish("queued/main/pad/4/event", '{"evt": 9, "type": "key", "key": "call_next"}')
        deadline = time.monotonic() + 5
        while hall.window("4")["ticket"] != first["number"]:
            assert time.monotonic() < deadline, f"the bridge's call_next never arrived: {hall.window('4')}"
            time.sleep(0.05)
        time.sleep(0.3)
        w = hall.window("4")
        assert w["ticket"] == first["number"], "a display's forged call_next was obeyed"
        assert hall.http.get(f"/api/v1/tickets/{second['id']}", headers=hall.admin).json()["status"] == "waiting"
        assert hall.metric("queued_pad_events_total", type="key") == 1
        assert hall.metric("queued_pad_events_total", type="rating") == 0
    finally:
        display.close()
        bridge.close()


def test_a_bridge_may_speak_only_for_its_own_pads_and_a_display_only_reads(hall):
    watcher, bridge, display = hall.login("led-2"), hall.login("bridge-remote-a"), hall.login("led-3")
    try:
        watcher.subscribe("queued/main/window/1/led")
        watcher.first(lambda m: m.topic == "queued/main/window/1/led")  # the retained screen
        forged = b'{"v":1,"hall":"main","window":"1","state":"paused","lines":["\xe6\x9a\x82\xe5\x81\x9c\xe6\x9c\x8d\xe5\x8a\xa1",""],"seq":99}'
        display.publish("queued/main/window/1/led", forged, retain=True)
        bridge.publish("queued/main/window/1/led", forged, retain=True)
        bridge.publish("queued/main/pad/9/event", '{"evt": 1, "type": "key", "key": "call_next"}')
        # The daemon's next screen for window 1 comes after the forgeries on the same subscription.
        hall.issue("A")
        r = hall.http.post("/api/v1/windows/1/call-next", headers=hall.clerk1)
        assert r.status_code == 200, r.text
        later = watcher.first(lambda m: m.topic == "queued/main/window/1/led" and b'"calling"' in m.payload)
        assert forged not in [m.payload for m in watcher.skipped] and later.payload != forged
        assert hall.metric("queued_screen_overwrites_total", topic="led") == 0  # nobody got through
    finally:
        for c in (watcher, bridge, display):
            c.close()
    fresh = hall.login("led-2")
    try:
        fresh.subscribe("queued/main/window/1/led")
        retained = fresh.first(lambda m: m.topic == "queued/main/window/1/led")
        assert b'"calling"' in retained.payload and retained.payload != forged
    finally:
        fresh.close()


def test_nobody_can_take_the_daemons_client_id(hall):
    before = hall.metric("queued_mqtt_connects_total"), hall.metric("queued_pad_remote_connects_total")
    assert before[0] >= 1 and before[1] >= 1
    squatters = []
    try:
        for cid in ("queued", "queued-pads", "queued-pads-main"):
            squatters.append(Client(hall.mqtt_port, client_id=cid))  # anonymous: refused
            squatters.append(hall.login("led-4", client_id=cid))  # becomes "led-4", not the daemon
        assert all(s.refused for s in squatters[::2])
        time.sleep(1.5)
        assert (hall.metric("queued_mqtt_connects_total"), hall.metric("queued_pad_remote_connects_total")) == before
        assert hall.metric("queued_mqtt_connected") == 1
    finally:
        for s in squatters:
            s.close()


def test_one_windows_text_topic_delivers_that_window_once(hall):
    display = hall.login("led-2")
    try:
        display.subscribe("queued/main/window/2/led/gbk")
        got = display.collect(1.5)
    finally:
        display.close()
    assert [(m.topic, m.retain, m.payload.decode("gbk")) for m in got] == [
        ("queued/main/window/2/led/gbk", True, "本窗口暂停办理\n请到其他窗口")]
