"""docker/mosquitto/acl against a real Mosquitto on a free port, with a password file made by the
repo's recipe (docker/mosquitto/make-passwords.sh → mosquitto_passwd).

"Nothing arrives" is shown without sleeping: after the message that must be dropped, the same
client sends one it may send (same QoS, same connection); Mosquitto keeps a client's order, so
once the second arrives the first would have arrived before it had it been allowed.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
import yaml

from tests.support import ROOT, Mosquitto, free_port

ACL = ROOT / "docker" / "mosquitto" / "acl"
RECIPE = ROOT / "docker" / "mosquitto" / "make-passwords.sh"

pytestmark = pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="needs mosquitto_passwd")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    d = tmp_path_factory.mktemp("acl-broker")
    env = {**os.environ, "MOSQ_PASSWD_FILE": str(d / "passwd"), "QUEUED_SECRETS_DIR": str(d / "secrets")}
    out = subprocess.run([str(RECIPE), "init"], env=env, check=True, capture_output=True, text=True).stdout
    out += subprocess.run([str(RECIPE), "add", "led-3", "led-4"], env=env, check=True, capture_output=True,
                          text=True).stdout
    passwords = dict(re.findall(r"(?:display )?(\S+) password \(shown once\): (\S+)", out))
    passwords["queued"] = passwords["queued-pads"] = (d / "secrets" / "mqtt-queued.pass").read_text().strip()
    port = free_port()
    conf = d / "mosquitto.conf"
    # `user root` keeps a broker started by root from dropping to the `mosquitto` user (which could not
    # read these files); started by anyone else Mosquitto changes no user at all.
    conf.write_text(f"allow_anonymous false\npassword_file {d / 'passwd'}\n"
                    f"acl_file {ACL}\npersistence false\nuser root\nlog_dest stderr\nlog_type error\n"
                    f"listener {port} 127.0.0.1\nuse_username_as_clientid true\n")
    proc = subprocess.Popen([Mosquitto.binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while True:
        try:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            c.connect("127.0.0.1", port)
            c.disconnect()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"mosquitto did not start: {proc.stderr.read().decode()}") from None
            time.sleep(0.05)
    yield port, passwords
    proc.terminate()
    proc.wait(5)


class Account:
    """A connected MQTT client whose received messages land in a queue."""

    def __init__(self, port: int, user: str, password: str):
        self.got: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.granted: queue.Queue[list] = queue.Queue()
        self.connected: queue.Queue = queue.Queue()
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-{time.monotonic_ns()}")
        c.username_pw_set(user, password)
        c.on_message = lambda _c, _u, m: self.got.put((m.topic, m.payload))
        c.on_subscribe = lambda _c, _u, _mid, codes, _p: self.granted.put(codes)
        c.on_connect = lambda _c, _u, _f, rc, _p: self.connected.put(rc)
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.rc = self.connected.get(timeout=5)

    def subscribe(self, topic: str) -> list:
        self.client.subscribe(topic, qos=1)
        return self.granted.get(timeout=5)

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def until(self, topic: str) -> list[tuple[str, bytes]]:
        """Everything received up to and including the first message on `topic`."""
        seen = []
        while True:
            msg = self.got.get(timeout=5)
            seen.append(msg)
            if msg[0] == topic:
                return seen

    def close(self) -> None:
        self.client.disconnect()  # first: the network thread then ends at once
        self.client.loop_stop()


@pytest.fixture
def accounts(broker):
    port, pw = broker
    made = []

    def login(user: str) -> Account:
        a = Account(port, user, pw[user])
        assert not a.rc.is_failure, f"{user} could not connect: {a.rc}"
        made.append(a)
        return a

    yield login
    for a in made:
        a.close()


def topics(msgs):
    return [t for t, _ in msgs]


def test_a_display_cannot_publish_a_led_topic_the_daemon_can(accounts):
    daemon, display = accounts("queued"), accounts("led-3")
    daemon.subscribe("queued/#")
    assert not display.subscribe("queued/main/window/+/led/#")[0].is_failure

    display.publish("queued/main/window/3/led", "forged")
    display.publish("queued/main/screen/led-3/alive", '{"v":1,"windows":["3"]}')  # its own: allowed
    assert topics(daemon.until("queued/main/screen/led-3/alive")) == ["queued/main/screen/led-3/alive"]

    daemon.publish("queued/main/window/3/led", '{"v":1,"state":"calling"}')
    assert display.until("queued/main/window/3/led") == [("queued/main/window/3/led", b'{"v":1,"state":"calling"}')]


def test_a_display_says_only_its_own_screen_is_alive(accounts):
    daemon, display = accounts("queued"), accounts("led-3")
    daemon.subscribe("queued/+/screen/+/alive")
    display.publish("queued/main/screen/led-4/alive", "{}")
    display.publish("queued/main/screen/led-3/alive", "{}")
    assert topics(daemon.until("queued/main/screen/led-3/alive")) == ["queued/main/screen/led-3/alive"]


def test_a_display_subscribing_to_pad_commands_is_granted_but_gets_nothing(accounts):
    daemon, display, bridge = accounts("queued"), accounts("led-3"), accounts("bridge")
    granted = display.subscribe("queued/main/pad/3/command")
    assert not granted[0].is_failure  # Mosquitto grants the SUBACK and then delivers nothing
    display.subscribe("queued/main/board")
    bridge.subscribe("queued/main/pad/3/command")

    daemon.publish("queued/main/pad/3/command", '{"cmd":"show_state"}')
    daemon.publish("queued/main/board", '{"v":1}')
    assert topics(display.until("queued/main/board")) == ["queued/main/board"]
    assert topics(bridge.until("queued/main/pad/3/command")) == ["queued/main/pad/3/command"]


def test_the_bridge_publishes_pad_events_and_nothing_for_displays(accounts):
    daemon, bridge = accounts("queued"), accounts("bridge")
    daemon.subscribe("queued/#")
    bridge.subscribe("queued/main/board")

    bridge.publish("queued/main/window/3/led", "forged")
    bridge.publish("queued/main/screen/bridge/alive", "{}")
    bridge.publish("queued/main/pad/3/online", "true")
    bridge.publish("queued/main/pad/3/event", '{"evt":7,"type":"key","key":"call_next"}')
    assert topics(daemon.until("queued/main/pad/3/event")) == ["queued/main/pad/3/online", "queued/main/pad/3/event"]

    daemon.publish("queued/main/board", "{}")  # the bridge may not read the board
    daemon.publish("queued/main/pad/3/command", "{}")
    bridge.subscribe("queued/main/pad/+/command")
    daemon.publish("queued/main/pad/3/command", '{"cmd":"rate_cancel"}')
    assert topics(bridge.until("queued/main/pad/3/command")) == ["queued/main/pad/3/command"]
    assert bridge.got.empty()


def test_nobody_takes_the_daemons_client_id(accounts, broker):
    port, pw = broker
    daemon, pads = accounts("queued"), accounts("queued-pads")  # the daemon's two links coexist
    gone = []
    daemon.client.on_disconnect = lambda *a: gone.append(a)
    daemon.subscribe("queued/main/screen/+/alive")
    squatter = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="queued")
    squatter.username_pw_set("led-3", pw["led-3"])
    squatter.connect("127.0.0.1", port)
    squatter.loop_start()
    try:
        squatter.publish("queued/main/screen/led-3/alive", "{}", qos=1).wait_for_publish(5)
        assert topics(daemon.until("queued/main/screen/led-3/alive")) == ["queued/main/screen/led-3/alive"]
        assert not gone and pads.client.is_connected()
    finally:
        squatter.disconnect()
        squatter.loop_stop()


def test_a_wrong_password_is_refused(broker):
    port, _ = broker
    a = Account(port, "led-3", "not-the-password")
    try:
        assert a.rc.is_failure
    finally:
        a.close()


def test_the_compose_healthcheck_tells_a_running_broker_from_a_stopped_one(broker):
    port, _ = broker
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8"))
    kind, command = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    command = command.replace("$$", "$")  # compose's escape
    assert subprocess.run(["sh", "-c", command.replace("-p 1883", f"-p {port}")], timeout=10).returncode == 0
    assert subprocess.run(["sh", "-c", command.replace("-p 1883", f"-p {free_port()}")], timeout=10).returncode != 0
