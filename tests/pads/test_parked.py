"""挂起/回呼 on the pad: SHOW_PARKED (extension 0x07, docs/pads.md) on a real pty, and an old pad that
does not know it (NAK 2) keeps working without it."""

from __future__ import annotations

from firmware_bridge.frames import KeyCode, ShowParked, WindowState
from tests.pads.support import metric, wait_until


async def _serving(hall, number: str) -> None:
    pad = hall.pad4
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == number, what=f"{number} called from the pad")
    r = await hall.post("/api/v1/windows/4/start")
    assert r.status_code == 200, r.text
    await wait_until(lambda: pad.state == WindowState.SERVING)


async def test_park_shows_the_parked_ticket_on_the_pad_unpark_clears_it_and_a_returning_pad_gets_it(signed_in):
    hall = signed_in
    pad = hall.pad4
    first = await hall.issue("A")
    await hall.issue("A")
    await _serving(hall, "A001")
    r = await hall.post("/api/v1/windows/4/park", {"reason": "缺身份证复印件"})
    assert r.status_code == 200, r.text
    await wait_until(lambda: pad.parked == ("A001",), what="SHOW_PARKED after 挂起")
    assert pad.state == WindowState.IDLE and pad.ticket == ""
    assert pad.clerk_screen()[1] == "挂起 1 件: A001"
    assert hall.emulator.pad(5).parked == ()  # the other pad on the bus is not told
    # The window calls on; the parked case stays on the pad's list.
    await _serving(hall, "A002")
    assert pad.parked == ("A001",)
    pad.press(KeyCode.FINISH)
    await wait_until(lambda: pad.state == WindowState.IDLE and pad.ticket == "")
    r = await hall.post("/api/v1/windows/4/unpark", {"ticket": first["id"]})
    assert r.status_code == 200, r.text
    await wait_until(lambda: pad.parked == () and pad.ticket == "A001", what="SHOW_PARKED after 回呼")
    assert pad.state == WindowState.SERVING and len(pad.clerk_screen()) == 1
    # Parked again; the pad is unplugged, loses power, and comes back: it is told again.
    r = await hall.post("/api/v1/windows/4/park")
    assert r.status_code == 200, r.text
    await wait_until(lambda: pad.parked == ("A001",))
    hall.emulator.set_silent(4)
    await wait_until(lambda: not hall.adapter.is_online("4"), what="pad 4 offline")
    pad.power_cycle()
    assert pad.parked == ()
    hall.emulator.set_silent(4, False)
    await wait_until(lambda: pad.parked == ("A001",) and pad.clerk_name == "张三",
                     what="SHOW_PARKED again once the pad is back online")
    assert pad.clerk_screen()[1] == "挂起 1 件: A001"


async def test_an_old_pad_that_naks_show_parked_still_shows_the_window_and_is_not_asked_again(signed_in):
    hall = signed_in
    pad = hall.pad4
    await wait_until(lambda: pad.clerk_name == "张三")
    pad.unknown_commands = frozenset({ShowParked.CMD})  # firmware older than the extension
    await hall.issue("A")
    await hall.issue("A")
    await _serving(hall, "A001")
    r = await hall.post("/api/v1/windows/4/park")
    assert r.status_code == 200, r.text
    poller = hall.adapter.pollers[hall.path]
    await wait_until(lambda: not poller.links[4].knows(ShowParked()), what="the NAK 2 remembered")
    body = (await hall.get("/api/v1/pads", role="supervisor")).json()
    assert {p["window"]: p["shows_parked"] for p in body["pads"]} == {"4": False, "5": True}
    retries = hall.adapter.screen_retries
    await _serving(hall, "A002")  # SHOW_STATE still reaches it
    pad.press(KeyCode.FINISH)
    await wait_until(lambda: pad.state == WindowState.IDLE and pad.ticket == "")
    ticket = hall.daemon.runtime.engine.by_number["A001"].id
    r = await hall.post("/api/v1/windows/4/unpark", {"ticket": ticket})
    assert r.status_code == 200, r.text
    await wait_until(lambda: pad.ticket == "A001" and pad.state == WindowState.SERVING)
    assert pad.parked == () and hall.adapter.screen_retries == retries  # not resent, not retried
    assert poller.stats.commands_unknown >= 1  # the 回呼's SHOW_PARKED was not put on the wire
    assert poller.stats.naks[2] == 1
    body = (await hall.get("/api/v1/pads", role="supervisor")).json()
    assert body["buses"][0]["commands_unknown"] == poller.stats.commands_unknown
    assert metric(await hall.metrics(), "queued_pad_online", window="4") == 1
