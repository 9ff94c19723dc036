"""PadState, the sans-IO pad: EVT numbering, acknowledgement, power loss, rating prompts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_bridge.emulator import PadState
from firmware_bridge.errors import PadStateError
from firmware_bridge.frames import (
    Key,
    KeyCode,
    Nak,
    NakCode,
    Poll,
    RateCancel,
    RateRequest,
    RateTimeout,
    Rating,
    SetTime,
    ShowClerk,
    ShowParked,
    ShowState,
    Status,
    StatusFlags,
    WindowState,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def poll(pad: PadState, ack: int, seq: int = 1):
    return pad.handle(Poll(ack, addr=pad.address, seq=seq))


def test_poll_with_nothing_pending_answers_status_with_same_seq():
    pad = PadState(3)
    assert poll(pad, 0, seq=77) == Status(StatusFlags(0), 1, 0, 0, addr=3, seq=77)


def test_evt_counts_1_to_255_and_wraps_to_1_never_0():
    pad = PadState(1, queue_limit=1)
    seen = []
    for _ in range(256):
        event = pad.press(KeyCode.CALL_NEXT)
        seen.append(event.evt)
        assert poll(pad, 0) == replace(event, seq=1)  # sent
        assert isinstance(poll(pad, event.evt), Status)  # acknowledged and dropped
    assert seen[:3] == [1, 2, 3]
    assert seen[254:] == [255, 1]
    assert 0 not in seen


def test_unacknowledged_event_is_resent_with_same_evt_then_dropped_on_ack():
    pad = PadState(2)
    pad.press(KeyCode.CALL_NEXT)
    pad.press(KeyCode.TRANSFER, 3)
    first = poll(pad, 0, seq=1)
    assert first == Key(1, KeyCode.CALL_NEXT, 0, addr=2, seq=1)
    again = poll(pad, 0, seq=2)  # the reply was lost: the host still says ACK 0
    assert (again.evt, again.key, again.seq) == (1, KeyCode.CALL_NEXT, 2)
    assert pad.resends == 1
    second = poll(pad, 1, seq=3)
    assert second == Key(2, KeyCode.TRANSFER, 3, addr=2, seq=3)
    assert poll(pad, 2) == Status(addr=2, seq=1)


def test_ack_of_an_event_not_yet_sent_does_not_drop_it():
    # After a power cycle the host may still send ACK 1 for the old EVT 1.
    pad = PadState(1)
    pad.power_cycle()
    event = pad.press(KeyCode.SKIP)
    assert event.evt == 1
    assert poll(pad, 1) == replace(event, seq=1)


def test_power_cycle_forgets_queue_screens_and_restarts_evt():
    pad = PadState(4)
    pad.handle(ShowClerk(5, "007", "李四", addr=4, seq=1))
    for _ in range(3):
        pad.press(KeyCode.RECALL)
    assert pad.pending == 3 and pad.next_evt == 4
    pad.power_cycle()
    assert pad.pending == 0 and pad.next_evt == 1
    assert pad.clerk_name == "" and pad.stars == 0
    assert pad.press(KeyCode.PAUSE).evt == 1


def test_commands_update_both_screens_and_answer_status():
    pad = PadState(5)
    reply = pad.handle(ShowClerk(4, "1001", "张三", addr=5, seq=9))
    assert reply == Status(addr=5, seq=9)
    pad.handle(ShowState(WindowState.PAUSED, 7, "A003", addr=5, seq=10))
    assert "张三" in pad.citizen_screen()[0] and "★★★★☆" in pad.citizen_screen()[0]
    assert "暂停服务" in pad.citizen_screen()
    assert "A003" in pad.clerk_screen()[0] and "等候 7 人" in pad.clerk_screen()[0]
    assert pad.handle(SetTime(1_800_000_000, addr=5, seq=11)) == Status(addr=5, seq=11)


def test_frames_for_other_pads_are_ignored_and_broadcasts_apply_silently():
    pad = PadState(5)
    assert pad.handle(ShowState(WindowState.SERVING, 1, "A1", addr=6, seq=1)) is None
    assert pad.state == WindowState.IDLE
    assert pad.handle(ShowState(WindowState.CLOSED, 0, "", addr=0, seq=1)) is None
    assert pad.state == WindowState.CLOSED
    assert pad.handle(Poll(0, addr=0)) is None


def test_rating_prompt_rate_once():
    pad = PadState(1, clock=FakeClock())
    with pytest.raises(PadStateError):
        pad.rate(5)
    status = pad.handle(RateRequest(42, 30, "A001", addr=1, seq=1))
    assert status.flags & StatusFlags.RATING_PROMPT_OPEN
    assert "A001" in pad.citizen_screen()[-1]
    event = pad.rate(2, 0b101)
    assert event == Rating(1, 42, 2, 0b101, addr=1)
    assert pad.prompt is None
    with pytest.raises(PadStateError):
        pad.rate(5)


def test_rating_prompt_times_out_by_itself_on_the_injected_clock():
    clock = FakeClock()
    pad = PadState(1, clock=clock)
    pad.handle(RateRequest(42, 30, "A001", addr=1, seq=1))
    clock.now += 29.9
    pad.tick()
    assert pad.prompt is not None and pad.pending == 0
    clock.now += 0.2
    assert poll(pad, 0) == RateTimeout(1, 42, addr=1, seq=1)  # a POLL also lets time pass
    assert pad.prompt is None


def test_rate_cancel_closes_only_its_case_and_timeout_0_waits():
    clock = FakeClock()
    pad = PadState(1, clock=clock)
    pad.handle(RateRequest(42, 0, "A001", addr=1, seq=1))
    clock.now += 10_000
    pad.tick()
    assert pad.prompt is not None
    pad.handle(RateCancel(41, addr=1, seq=2))
    assert pad.prompt is not None
    pad.handle(RateCancel(42, addr=1, seq=3))
    assert pad.prompt is None and pad.pending == 0


def test_explicit_rating_timeout_and_busy_nak_and_queue_limit():
    pad = PadState(1, queue_limit=2)
    pad.handle(RateRequest(7, 30, "", addr=1, seq=1))
    assert pad.time_out_rating() == RateTimeout(1, 7, addr=1)
    pad.busy = True
    assert pad.handle(ShowState(WindowState.IDLE, 0, "", addr=1, seq=5)) == Nak(NakCode.BUSY, addr=1, seq=5)
    pad.press(KeyCode.FINISH)
    with pytest.raises(PadStateError):
        pad.press(KeyCode.FINISH)


def test_locked_keys_do_nothing():
    pad = PadState(1)
    pad.keys_locked = True
    assert pad.press(KeyCode.CALL_NEXT) is None
    assert poll(pad, 0).flags == StatusFlags.KEYS_LOCKED


def test_the_emulator_counts_an_ack_that_falls_back_to_0():
    pad = PadState(7)
    event = pad.press(KeyCode.CALL_NEXT)
    poll(pad, 0)  # sends it
    assert isinstance(poll(pad, event.evt), Status)
    poll(pad, event.evt)  # right: the ACK stays
    assert pad.ack_fallbacks == 0
    poll(pad, 0)  # wrong (protocol 1.1): counted
    assert pad.ack_fallbacks == 1
    pad.power_cycle()  # a new power-up: the host may start again from 0
    poll(pad, 0)
    assert pad.ack_fallbacks == 1


def test_show_parked_is_shown_on_the_clerk_side_and_an_old_pad_answers_nak_2():
    pad = PadState(5)
    assert pad.handle(ShowParked(("A012", "B003"), addr=5, seq=3)) == Status(addr=5, seq=3)
    assert pad.parked == ("A012", "B003") and pad.clerk_screen()[1] == "挂起 2 件: A012 B003"
    pad.handle(ShowParked(("A012",), 7, addr=5, seq=4))  # 7 parked, only one number fitted
    assert pad.clerk_screen()[1] == "挂起 7 件: A012 …"
    pad.handle(ShowParked(addr=5, seq=5))
    assert pad.parked_count == 0 and len(pad.clerk_screen()) == 1
    pad.handle(ShowParked(("A012",), addr=5, seq=6))
    pad.power_cycle()
    assert pad.parked == () and pad.parked_line() == ""
    old = PadState(6, unknown_commands={ShowParked.CMD})  # firmware older than the extension
    assert old.handle(ShowParked(("A012",), addr=6, seq=7)) == Nak(NakCode.UNKNOWN_COMMAND, addr=6, seq=7)
    assert old.parked == () and old.handle(ShowState(WindowState.IDLE, 1, "", addr=6, seq=8)) == Status(addr=6, seq=8)
