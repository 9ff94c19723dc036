"""The demo path: no [mqtt] section, so the daemon runs its own Mosquitto; and what a taken port says.
(What the embedded broker refuses is in tests/security/test_broker_access.py.)"""

from __future__ import annotations

import socket
import subprocess

import pytest

from queued.broker import BrokerStartError
from tests.display.helpers import Subscriber, led
from tests.support import QUEUED, free_port, hall_toml


async def test_embedded_broker_serves_the_screens(hall_with_screens):
    port = free_port()
    hall = await hall_with_screens(mqtt_port=port)  # no mqtt_url: embedded
    assert hall.service.link.connected
    assert hall.service.link.url == f"mqtt://127.0.0.1:{port}"
    login = {"username": "led-1", "password": hall.daemon.adapter("EmbeddedBroker").login("led-1")[1]}
    async with Subscriber(port, "queued/main/#", **login) as sub:
        await sub.wait_for(lambda m: m.topic == "queued/main/status" and m.payload == b"online")
    async with Subscriber(port, "queued/main/#", **login) as sub:
        await hall.issue("A")
        await hall.act("1", "call-next")
        m = (await sub.wait_for(led("1", state="calling"))).json()
        assert m["ticket"] == "A001" and m["lines"] == ["A001", "请到1号窗口"]
        call = (await sub.wait_for(lambda m: m.topic == "queued/main/calls")).json()
        assert call["speech"] == "请A001号到1号窗口办理"
    async with Subscriber(port, "queued/main/window/1/led", **login) as late:  # retained
        assert (await late.wait_for(led("1"))).json()["state"] == "calling"


async def test_taken_port_gives_a_clear_message(hall_with_screens):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(BrokerStartError) as err:
            await hall_with_screens(mqtt_port=port)
    msg = str(err.value)
    assert f"127.0.0.1:{port}" in msg and "already in use" in msg
    assert "embedded_mqtt" in msg and "QUEUED_EMBEDDED_MQTT" in msg and "[mqtt] url" in msg


def test_queued_serve_says_so_and_exits(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        cfg = tmp_path / "hall.toml"
        cfg.write_text(hall_toml(str(tmp_path / "hall.sqlite3"), mqtt_port=port), encoding="utf-8")
        proc = subprocess.run([QUEUED, "serve", "--config", str(cfg)], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2
    assert "cannot start the embedded MQTT broker" in proc.stderr and "QUEUED_EMBEDDED_MQTT" in proc.stderr
    assert "Traceback" not in proc.stderr
