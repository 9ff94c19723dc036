"""Clerk keys on a pad drive the window like the HTTP actions, and the pad shows the truth."""

from __future__ import annotations

from firmware_bridge.frames import KeyCode, WindowState
from tests.pads.support import metric, wait_until


async def test_sign_in_shows_the_clerk_and_call_next_key_calls_and_pad_shows_number(signed_in):
    hall = signed_in
    pad = hall.pad4
    await wait_until(lambda: pad.clerk_name == "张三", what="SHOW_CLERK on the pad")
    assert (pad.clerk_id, pad.stars) == ("1001", 5)
    assert "张三" in pad.citizen_screen()[0] and "1001" in pad.citizen_screen()[0]
    await hall.issue("A")
    await hall.issue("A")
    await wait_until(lambda: pad.waiting == 2, what="waiting count on the pad")
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001", what="SHOW_STATE with the called number")
    assert pad.state == WindowState.CALLING and pad.waiting == 1
    assert "A001" in pad.clerk_screen()[0] and "呼叫中" in pad.clerk_screen()[0]
    w = await hall.window("4")
    assert (w["state"], w["ticket"], w["clerk"]) == ("calling", "A001", "1001")
    # The other pad on the same bus was not touched.
    assert hall.emulator.pad(5).ticket == ""
    text = await hall.metrics()
    assert metric(text, "queued_pad_keys_total", key="call_next") == 1
    assert metric(text, "queued_pad_events_total", type="key") == 1


async def test_keys_act_like_the_http_actions(signed_in):
    hall = signed_in
    pad = hall.pad4
    for _ in range(3):
        await hall.issue("A")
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001")
    pad.press(KeyCode.RECALL)
    await wait_until(lambda: pad.pending == 0)
    assert (await hall.window("4"))["recalls"] == 1
    pad.press(KeyCode.FINISH)  # from calling: the start is implied
    await wait_until(lambda: pad.state == WindowState.IDLE and pad.ticket == "")
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A002")
    pad.press(KeyCode.SKIP)
    await wait_until(lambda: pad.ticket == "" and pad.state == WindowState.IDLE)
    assert hall.daemon.runtime.engine.by_number["A002"].status == "skipped"
    pad.press(KeyCode.PAUSE)
    await wait_until(lambda: pad.state == WindowState.PAUSED)
    assert "暂停服务" in pad.citizen_screen()
    pad.press(KeyCode.RESUME)
    await wait_until(lambda: pad.state == WindowState.IDLE)
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A003")
    pad.press(KeyCode.TRANSFER, 2)  # business number 2 of the hall: B (不动产登记)
    await wait_until(lambda: pad.state == WindowState.IDLE and pad.ticket == "")
    eng = hall.daemon.runtime.engine
    t = eng.by_number["A003"]
    assert (t.status, t.business) == ("waiting", "B")
    await wait_until(lambda: hall.emulator.pad(5).waiting == 1, what="window 5's pad sees the transferred ticket")


async def test_refused_key_is_journaled_and_the_pad_is_shown_the_truth_again(signed_in):
    hall = signed_in
    pad = hall.pad4
    await wait_until(lambda: pad.clerk_name == "张三")
    # The pad believes something the hall does not (a stale screen): a refused key corrects it.
    pad.state, pad.ticket = WindowState.SERVING, "A999"
    pad.press(KeyCode.RECALL)  # nothing is being called: invalid_state
    await wait_until(lambda: pad.pending == 0, what="the refused key acknowledged")
    await wait_until(lambda: pad.state == WindowState.IDLE and pad.ticket == "", what="SHOW_STATE again")
    pad.press(KeyCode.TRANSFER, 9)  # there is no business number 9
    await wait_until(lambda: pad.pending == 0)
    rows = await hall.daemon.runtime.journal.fetchall(
        "SELECT data FROM events WHERE kind='pad_event_processed' ORDER BY seq")
    assert ['"outcome":"invalid_state"' in r["data"] for r in rows] == [True, False]
    assert '"outcome":"unknown_business"' in rows[1]["data"]
    text = await hall.metrics()
    assert metric(text, "queued_pad_refused_total", type="key", reason="invalid_state") == 1
    assert metric(text, "queued_pad_refused_total", type="key", reason="unknown_business") == 1
    assert (await hall.window("4"))["state"] == "idle"


async def test_lost_reply_resends_the_same_evt_and_it_counts_once(signed_in):
    hall = signed_in
    pad = hall.pad4
    await hall.issue("A")
    await hall.issue("A")
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001")
    hall.emulator.drop_replies(4, 1)  # the KEY reply is lost on the wire: the pad sends it again
    pad.press(KeyCode.RECALL)
    await wait_until(lambda: pad.pending == 0)
    assert pad.resends >= 1 and hall.emulator.replies_dropped == 1
    w = await hall.window("4")
    assert (w["ticket"], w["recalls"]) == ("A001", 1)  # recalled once, not twice
    rows = await hall.daemon.runtime.journal.fetchall(
        "SELECT COUNT(*) AS n FROM events WHERE kind='ticket_recalled'")
    assert rows[0]["n"] == 1


async def test_waiting_count_follows_the_queue(signed_in):
    hall = signed_in
    pad, pad5 = hall.pad4, hall.emulator.pad(5)
    for _ in range(5):
        await hall.issue("A")
    await hall.issue("B")
    await wait_until(lambda: pad.waiting == 5 and pad5.waiting == 1)
    r = await hall.post("/api/v1/windows/1/call-next")  # another window takes one of window 4's queue
    assert r.status_code == 200
    await wait_until(lambda: pad.waiting == 4)
    assert pad.state == WindowState.IDLE
