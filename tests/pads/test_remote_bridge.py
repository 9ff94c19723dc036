"""The bridge in its own process (firmware_bridge.mqtt_bridge) and the daemon, through a real Mosquitto."""

from __future__ import annotations

import json
import subprocess
import sys

import aiomqtt
import pytest

from firmware_bridge.errors import FrameError
from firmware_bridge.frames import KeyCode
from firmware_bridge.mqtt_bridge import command_from_json, event_from_json, event_to_json
from tests.pads.support import PadHall, metric, pad_windows, wait_until
from tests.support import ROOT


def test_json_forms_match_mqtt_md():
    from firmware_bridge.frames import Key, Rating, RatingLevel

    assert event_to_json(Key(7, KeyCode.CALL_NEXT)) == {"evt": 7, "type": "key", "key": "call_next"}
    assert event_to_json(Rating(8, 1234, RatingLevel(5), 0)) == {"evt": 8, "type": "rating", "case": 1234,
                                                                 "level": 5, "reasons": []}
    assert event_from_json(b'{"evt": 9, "type": "key", "key": "transfer", "arg": 2}', 4) == Key(
        9, KeyCode.TRANSFER, 2, addr=4)
    assert event_from_json({"evt": 8, "type": "rating", "case": 1, "level": 2, "reasons": [1, 3]}).reasons == 0b101
    for bad in (b"nope", b"[]", b'{"evt": 0, "type": "key", "key": "recall"}', b'{"evt": 1, "type": "key"}',
                b'{"evt": 1, "type": "rating", "case": 1, "level": 9}'):
        with pytest.raises(FrameError):
            event_from_json(bad)
    with pytest.raises(FrameError):
        command_from_json({"type": "show_state", "state": "dancing", "waiting": 1})
    with pytest.raises(FrameError):
        command_from_json({"type": "show_state", "state": "idle", "waiting": 70000})
    # Extension (docs/pads.md): show_parked, the JSON of SHOW_PARKED (0x07).
    from firmware_bridge.frames import ShowParked
    from firmware_bridge.mqtt_bridge import command_to_json

    assert command_to_json(ShowParked(("A012",), 3)) == {"type": "show_parked", "tickets": ["A012"], "count": 3}
    assert command_from_json(b'{"type": "show_parked", "tickets": ["A012", "B003"]}') == ShowParked(("A012", "B003"))
    assert command_from_json({"type": "show_parked"}) == ShowParked()
    for bad in ({"type": "show_parked", "tickets": "A012"}, {"type": "show_parked", "tickets": [12]},
                {"type": "show_parked", "tickets": ["A1", "A2"], "count": 1},
                {"type": "show_parked", "count": 256}):
        with pytest.raises(FrameError):
            command_from_json(bad)


@pytest.fixture
async def remote_hall(make_daemon, mosquitto):
    url = f"mqtt://127.0.0.1:{mosquitto.port}"
    h = PadHall(make_daemon)
    await h.emulator.start()
    bridge = subprocess.Popen(
        [sys.executable, "-m", "firmware_bridge.mqtt_bridge", "--port", h.path, "--address", "4", "--address", "5",
         "--mqtt", url, "--prefix", "queued", "--hall", "main", "--reply-timeout-ms", "100"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await h.start_daemon(pad_windows("hall-bus-a", remote=True), mqtt_url=url)
    h.url = url
    yield h
    bridge.terminate()
    try:
        bridge.wait(5)
    except subprocess.TimeoutExpired:
        bridge.kill()
        bridge.wait()
    await h.stop()


async def test_pads_through_a_remote_bridge(remote_hall):
    hall = remote_hall
    pad = hall.pad4
    await wait_until(lambda: hall.adapter.is_online("4") and hall.adapter.is_online("5"), timeout=10,
                     what="the bridge's retained online=true")
    r = await hall.post("/api/v1/windows/4/sign-in", {"clerk": "1001", "pin": "1001"})
    assert r.status_code == 200
    await wait_until(lambda: pad.clerk_name == "张三", what="show_clerk through the broker")
    await hall.issue("A")
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001", what="the call and its show_state")
    recall = pad.press(KeyCode.RECALL)

    async def recalled_once():  # the pad's ACK follows the broker's PUBACK, not the daemon's commit
        return (await hall.window("4"))["recalls"] == 1

    await wait_until(recalled_once, what="the recall through the broker")
    # The same event again (a bridge restarted before the pad got its ACK): dropped by (address, EVT).
    async with aiomqtt.Client("127.0.0.1", int(hall.url.rsplit(":", 1)[1])) as client:
        await client.publish("queued/main/pad/4/event", json.dumps(event_to_json(recall)), qos=1)
    await wait_until(lambda: hall.adapter.remote.duplicates["hall-bus-a"] == 1)
    assert (await hall.window("4"))["recalls"] == 1
    assert metric(await hall.metrics(), "queued_pad_duplicate_events_total", port="hall-bus-a") == 1
    pad.press(KeyCode.FINISH)
    await wait_until(lambda: pad.prompt is not None, what="rate_request through the broker")
    case = pad.prompt.case
    pad.rate(4)
    await wait_until(lambda: pad.pending == 0)

    async def rated():
        review = (await hall.get(f"/api/v1/reviews/{case}", role="supervisor")).json()
        return (review["level"], review["channel"]) == (4, "pad")

    await wait_until(rated, what="the pad's rating recorded")
    # 挂起 reaches the pad through the broker as show_parked.
    await hall.issue("A")
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A002")
    assert (await hall.post("/api/v1/windows/4/start")).status_code == 200
    assert (await hall.post("/api/v1/windows/4/park")).status_code == 200
    await wait_until(lambda: pad.parked == ("A002",) and pad.ticket == "", what="show_parked through the broker")
    # A pad the bridge cannot hear is reported offline through the retained topic.
    hall.emulator.set_silent(5)
    await wait_until(lambda: not hall.adapter.is_online("5"), what="online=false from the bridge")
    body = (await hall.get("/api/v1/pads", role="supervisor")).json()
    assert {p["window"]: (p["online"], p["remote"]) for p in body["pads"]} == {"4": (True, True),
                                                                                "5": (False, True)}
    hall.emulator.set_silent(5, False)
    await wait_until(lambda: hall.adapter.is_online("5"))
