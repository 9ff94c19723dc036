"""Noise never stops the bus; a silent pad goes offline, comes back, and is shown the truth again."""

from __future__ import annotations

from firmware_bridge.frames import KeyCode, WindowState
from tests.pads.support import metric, wait_until


async def test_noise_on_the_line_does_not_stop_the_bus(signed_in):
    hall = signed_in
    pad = hall.pad4
    for _ in range(3):
        await hall.issue("A")
    for i in range(3):
        hall.emulator.inject_noise(length=200)
        hall.emulator.inject_noise(b"\xa5\x5a\x04\x81\x01\xc8")  # a false frame start with LEN 200
        pad.press(KeyCode.CALL_NEXT if i == 0 else KeyCode.FINISH)
        await wait_until(lambda: pad.pending == 0, what="the key through the noise")
        if i == 1:
            pad.press(KeyCode.CALL_NEXT)
            await wait_until(lambda: pad.pending == 0)
    await wait_until(lambda: pad.ticket == "" and pad.state == WindowState.IDLE)
    assert hall.daemon.runtime.engine.windows["4"].served == 2
    text = await hall.metrics()
    port = hall.path
    bad = sum(metric(text, "queued_pad_frames_bad_total", port=port, reason=r)
              for r in ("bad_len", "bad_crc", "unknown_cmd", "bad_payload", "truncated"))
    assert bad > 0 and metric(text, "queued_pad_frames_good_total", port=port) > 10
    # Under a loaded machine a pad may miss three replies while the noise is read and go offline
    # for a moment; what must hold is that the bus carries on and both pads are back online.
    async def both_online():
        return metric(await hall.metrics(), "queued_pads_online", port=port) == 2
    await wait_until(both_online, what="both pads online after the noise")
    assert metric(text, "queued_pad_poll_cycle_seconds", port=port) > 0


async def test_silent_pad_goes_offline_and_back_and_gets_its_screens_again(signed_in):
    hall = signed_in
    pad = hall.pad4
    await wait_until(lambda: pad.clerk_name == "张三")
    hall.emulator.set_silent(4)
    await wait_until(lambda: not hall.adapter.is_online("4"), what="pad 4 offline")
    body = (await hall.get("/api/v1/pads", role="supervisor")).json()
    assert {p["window"]: p["online"] for p in body["pads"]} == {"4": False, "5": True}
    assert body["online"] == 1 and body["buses"][0]["pads_online"] == 1
    text = await hall.metrics()
    assert metric(text, "queued_pad_online", window="4") == 0 and metric(text, "queued_pad_online", window="5") == 1
    health = await hall.client.get("/healthz")
    assert health.status_code == 200  # pads come and go: not a reason to call the daemon unhealthy
    assert health.json()["details"]["pads"] == {"pads": 2, "online": 1, "offline": ["4"]}
    live = (await hall.get("/api/v1/hall/live", role="supervisor")).json()  # the supervisor's live hall
    assert {w["window"]: w["pad"] for w in live["windows"] if w["pad"]} == {"4": "offline", "5": "online"}
    # While away the pad loses power (screens and EVT counter gone) and the hall moves on.
    pad.power_cycle()
    await hall.issue("A")
    await hall.issue("A")
    pad.press(KeyCode.CALL_NEXT)  # pressed while the bus cannot hear it: delivered once it can
    hall.emulator.set_silent(4, False)
    await wait_until(lambda: pad.clerk_name == "张三" and pad.ticket == "A001" and pad.waiting == 1,
                     what="SHOW_CLERK and SHOW_STATE after coming back online")
    assert pad.clerk_id == "1001" and pad.state == WindowState.CALLING
    assert (await hall.get("/api/v1/pads", role="supervisor")).json()["online"] == 2
    assert (await hall.client.get("/healthz")).json()["details"]["pads"]["offline"] == []
    live = (await hall.get("/api/v1/hall/live", role="supervisor")).json()
    assert [w["pad"] for w in live["windows"] if w["window"] == "4"] == ["online"]


async def test_pads_endpoint_needs_a_token_and_shows_a_clerk_only_their_window(hall):
    assert (await hall.client.get("/api/v1/pads")).status_code == 401
    from tests.support import token

    clerk = {"Authorization": f"Bearer {token(hall.daemon.config.database, 'clerk', '4')}"}
    body = (await hall.client.get("/api/v1/pads", headers=clerk)).json()
    assert [p["window"] for p in body["pads"]] == ["4"] and "buses" not in body
    assert (await hall.client.get("/api/v1/pads", headers=hall.headers["kiosk"])).status_code == 403
