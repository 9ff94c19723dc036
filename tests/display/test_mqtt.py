"""The spec's topics against a real Mosquitto: what LED strips, the board and announcers receive."""

from __future__ import annotations

import asyncio
import json
import time

import aiomqtt
import httpx

from tests.display.helpers import Subscriber, led

LED1 = "queued/main/window/1/led"


async def test_call_publishes_led_gbk_and_speech(mosquitto, hall_with_screens):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}")
    async with Subscriber(mosquitto.port, "queued/main/#") as sub:
        before = (await sub.wait_for(led("1"))).json()["seq"]  # the retained state from connect
        await hall.issue("A")
        await hall.act("1", "call-next")
        calling = (await sub.wait_for(led("1", state="calling"))).json()
        assert calling["ticket"] == "A001" and calling["business"] == "A"
        assert calling["lines"] == ["A001", "请到1号窗口"]
        assert calling["flash"] is True
        assert calling["seq"] > before
        assert calling["at"].endswith("+08:00") and calling["v"] == 1 and calling["hall"] == "main"
        gbk = await sub.wait_for(lambda m: m.topic == LED1 + "/gbk" and m.payload.startswith(b"A001"))
        assert gbk.payload.decode("gbk") == "A001\n请到1号窗口"
        call = (await sub.wait_for(lambda m: m.topic == "queued/main/calls")).json()
        assert call["speech"] == "请A001号到1号窗口办理"
        assert (call["kind"], call["ticket"], call["window"]) == ("call", "A001", "1")

        await hall.act("1", "recall")
        recall = (await sub.wait_for(lambda m: m.topic == "queued/main/calls" and m.json()["kind"] == "recall")).json()
        assert recall["speech"] == "请A001号到1号窗口办理"
        again = (await sub.wait_for(led("1", state="calling", seq=calling["seq"] + 1))).json()
        assert again["flash"] is True  # a recall flashes again

        await hall.act("1", "start")
        serving = (await sub.wait_for(led("1", state="serving"))).json()
        assert serving["lines"] == ["A001", "正在办理"] and serving["flash"] is False
        assert serving["seq"] == again["seq"] + 1  # one publish, one step

        await hall.act("1", "finish")
        await hall.act("1", "pause")
        paused = (await sub.wait_for(led("1", state="paused"))).json()
        assert paused["lines"] == ["暂停服务", ""] and paused["ticket"] is None
        # Every window's seq counts its own publishes: no gaps, no repeats.
        seqs = [m.json()["seq"] for m in sub.on(LED1)]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_retained_led_shows_the_parked_case_after_park_and_not_after_unpark(mosquitto, hall_with_screens):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}")
    first = await hall.issue("A")
    await hall.act("1", "call-next")
    await hall.act("1", "start")

    async def retained_led():
        """What a screen that boots now gets first: the retained led and led/gbk of window 1."""
        async with Subscriber(mosquitto.port, LED1, LED1 + "/gbk") as late:
            m = await late.wait_for(led("1"))
            gbk = await late.wait_for(lambda m: m.topic == LED1 + "/gbk")
            assert m.retain and gbk.retain
            return m.json(), gbk.payload.decode("gbk")

    async with Subscriber(mosquitto.port, LED1) as sub:
        r = await hall.http.post("/api/v1/windows/1/park", json={"reason": "缺材料"}, headers=hall.headers["1"])
        assert r.status_code == 200, r.text
        await sub.wait_for(led("1", state="idle", parked=["A001"]))
    shown, text = await retained_led()
    assert (shown["state"], shown["ticket"], shown["parked"]) == ("idle", None, ["A001"])
    assert shown["lines"] == ["1号窗口", "挂起 A001"] and text == "1号窗口\n挂起 A001"
    async with Subscriber(mosquitto.port, LED1) as sub:
        r = await hall.http.post("/api/v1/windows/1/unpark", json={"ticket": first["id"]}, headers=hall.headers["1"])
        assert r.status_code == 200, r.text
        serving = (await sub.wait_for(led("1", state="serving"))).json()
        assert serving["ticket"] == "A001" and "parked" not in serving and serving["seq"] > shown["seq"]
    shown, text = await retained_led()
    assert "parked" not in shown and shown["lines"] == ["A001", "正在办理"] and text == "A001\n正在办理"


async def test_late_subscriber_gets_current_state(mosquitto, hall_with_screens):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}")
    await hall.issue("A")
    await hall.issue("B")
    await hall.act("2", "call-next")  # window 2 prefers B
    async with Subscriber(mosquitto.port, "queued/main/#") as early:
        await early.wait_for(led("2", state="calling", ticket="B001"))
    async with Subscriber(mosquitto.port, "queued/main/#") as late:
        m = await late.wait_for(led("2", state="calling"))
        assert m.retain and m.json()["ticket"] == "B001"
        status = await late.wait_for(lambda m: m.topic == "queued/main/status")
        assert status.retain and status.payload == b"online"
        board = await late.wait_for(lambda m: m.topic == "queued/main/board")
        assert board.retain
        assert board.json()["recent"][0]["ticket"] == "B001" and board.json()["recent"][0]["window"] == "2"
        assert board.json()["waiting"] == {"A": 1, "B": 0, "C": 0}
        w1 = await late.wait_for(led("1"))
        assert w1.json()["state"] == "closed"
        assert not late.on("queued/main/calls")  # announcements are not retained


async def test_broker_restart_is_survived(own_mosquitto, hall_with_screens):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{own_mosquitto.port}")
    svc = hall.service
    await hall.issue("A")
    await hall.issue("A")
    await hall.act("1", "call-next")
    own_mosquitto.stop()
    deadline = time.time() + 3
    while svc.link.connected and time.time() < deadline:
        await asyncio.sleep(0.02)
    assert not svc.link.connected
    r = await hall.http.get("/healthz")
    assert r.status_code == 503 and r.json()["checks"]["mqtt"] is False

    # Tickets go on while the broker is away, and quickly.
    t0 = time.perf_counter()
    await hall.act("1", "finish")
    await hall.act("1", "call-next")
    assert time.perf_counter() - t0 < 0.5

    own_mosquitto.start()  # a fresh broker: it lost every retained message
    started = time.perf_counter()
    async with Subscriber(own_mosquitto.port, "queued/main/#") as sub:
        m = await sub.wait_for(led("1", state="calling", ticket="A002"), timeout=2.0)
        assert m.at - started < 2.0
        await sub.wait_for(lambda m: m.topic == "queued/main/status" and m.payload == b"online", timeout=2.0)
    r = await hall.http.get("/healthz")
    assert r.status_code == 200 and r.json()["checks"]["mqtt"] is True


async def test_status_goes_offline_when_the_daemon_stops(own_mosquitto, hall_with_screens):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{own_mosquitto.port}")
    await hall.daemon.stop()
    async with Subscriber(own_mosquitto.port, "queued/main/status") as sub:
        m = await sub.wait_for(lambda m: True)
        assert m.payload == b"offline" and m.retain


async def test_garbage_on_the_broker_does_not_disturb_the_daemon(mosquitto, hall_with_screens, clock):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}")
    base = "queued/main/screen"
    junk = [
        (f"{base}/s1/alive", b"{not json"),
        (f"{base}/s2/alive", b"\xff\xfe\x00garbage"),
        (f"{base}/s3/alive", json.dumps({"v": 1, "windows": "3"}).encode()),  # wrong type
        (f"{base}/s4/alive", json.dumps({"v": 2, "windows": []}).encode()),  # unknown version
        (f"{base}/s5/alive", json.dumps([1, 2, 3]).encode()),
        (f"{base}/s6/alive", json.dumps({"v": 1, "windows": [1, None]}).encode()),
        (f"{base}/s7/alive", b"x" * 2_000_000),  # huge
        (f"{base}/s8/alive", b""),
        (f"{base}/{'z' * 200}/alive", json.dumps({"v": 1}).encode()),  # absurd id
        ("queued/main/window/1/led", b"not from the daemon"),  # a foreign publisher on our topic
        ("queued/main/pad/9/event", b"\x00\x01"),
        ("elsewhere/main/screen/s9/alive", json.dumps({"v": 1, "windows": ["1"]}).encode()),
    ]
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, protocol=aiomqtt.ProtocolVersion.V311) as c:
        for topic, payload in junk:
            await c.publish(topic, payload, qos=1)
        await c.publish(f"{base}/gate-1/alive", json.dumps({"v": 1, "windows": ["1", "2"]}).encode(), qos=1)
        await asyncio.sleep(0.3)

    r = await hall.http.get("/healthz")
    assert r.status_code == 200, r.text
    r = await hall.http.get("/api/v1/screens", headers=hall.headers["supervisor"])
    assert r.status_code == 200
    screens = r.json()["screens"]
    assert [(s["id"], s["windows"], s["online"]) for s in screens] == [("gate-1", ["1", "2"], True)]
    metrics = (await hall.http.get("/metrics")).text
    assert "queued_screens_online 1.0" in metrics

    # The daemon still calls and publishes, and repairs the foreign message on its own topic.
    async with Subscriber(mosquitto.port, "queued/main/#") as sub:
        await hall.issue("A")
        await hall.act("1", "call-next")
        await sub.wait_for(led("1", state="calling", ticket="A001"))
        await sub.wait_for(lambda m: m.topic == "queued/main/calls")

    clock.advance(31)  # no heartbeat for 31 s: offline
    r = await hall.http.get("/api/v1/screens", headers=hall.headers["supervisor"])
    assert r.json()["screens"][0]["online"] is False and r.json()["online"] == 0
    assert "queued_screens_online 0.0" in (await hall.http.get("/metrics")).text


async def test_screens_list_needs_a_token(mosquitto, hall_with_screens):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}")
    r = await hall.http.get("/api/v1/screens")
    assert r.status_code == 401
    r = await hall.http.get("/api/v1/screens", headers=hall.headers["kiosk"])
    assert r.status_code == 403


async def test_absent_broker_never_delays_tickets(hall_with_screens):
    from tests.support import free_port

    t0 = time.perf_counter()
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{free_port()}")  # nobody listens
    assert time.perf_counter() - t0 < 4
    t0 = time.perf_counter()
    for _ in range(20):
        await hall.issue("A")
    await hall.act("1", "call-next")
    assert time.perf_counter() - t0 < 1.0
    assert hall.service.outbox.windows  # the screens' state waits in the outbox
    assert isinstance(hall.http, httpx.AsyncClient)
