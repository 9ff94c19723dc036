"""PadLink, the host's sans-IO view of one pad: ACK, duplicate filter, liveness, command queue."""

from __future__ import annotations

import asyncio

from firmware_bridge.frames import Key, KeyCode, Nak, NakCode, RateRequest, ShowState, Status, WindowState
from firmware_bridge.link import PadLink, PendingCommand


def test_ack_follows_processed_events_and_retry_is_recognised():
    link = PadLink(1)
    assert link.ack == 0
    event = Key(1, KeyCode.CALL_NEXT)
    assert not link.is_retry(event)
    link.event_processed(event)
    assert link.ack == 1
    assert link.is_retry(Key(1, KeyCode.CALL_NEXT, seq=9))
    assert not link.is_retry(Key(2, KeyCode.CALL_NEXT))


def test_empty_queue_status_forgets_last_evt_so_a_rebooted_pad_is_heard():
    link = PadLink(1, last_evt=1)
    link.status_seen(Status(pending=1))  # e.g. the answer to SHOW_STATE before the ACK went out
    assert link.ack == 1
    link.status_seen(Status(pending=0))
    assert link.ack == 0
    assert not link.is_retry(Key(1, KeyCode.CALL_NEXT))


def test_three_misses_offline_first_reply_online():
    link = PadLink(1)
    assert link.reply_seen() is True  # unknown -> online
    assert link.reply_seen() is False
    assert [link.reply_missed() for _ in range(4)] == [False, False, True, False]
    assert link.online is False
    assert link.reply_seen() is True and link.misses == 0


async def test_latest_show_state_replaces_older_and_limit_pushes_out_oldest():
    loop = asyncio.get_running_loop()
    link = PadLink(1)

    def command(frame, order):
        return PendingCommand(frame, loop.create_future(), order)

    first = command(ShowState(WindowState.CALLING, 3, "A1"), 1)
    rate = command(RateRequest(5, 30, "A1"), 2)
    assert link.queue_command(first, 16) == []
    link.queue_command(rate, 16)
    newer = command(ShowState(WindowState.SERVING, 2, "A1"), 3)
    assert link.queue_command(newer, 16) == [first]
    assert [c.frame for c in link.commands] == [rate.frame, newer.frame]
    assert link.queue_command(command(RateRequest(6, 30, "A2"), 4), 2) == [rate]


async def test_busy_nak_retries_until_max_attempts():
    loop = asyncio.get_running_loop()
    link = PadLink(1)
    link.queue_command(PendingCommand(ShowState(WindowState.IDLE, 0), loop.create_future(), 1), 16)
    busy = Nak(NakCode.BUSY)
    assert link.command_answered(busy, 3) is None
    assert link.command_answered(None, 3) is None
    assert link.command_answered(busy, 3) is not None
    assert not link.commands
