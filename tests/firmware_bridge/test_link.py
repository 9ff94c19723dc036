"""PadLink, the host's sans-IO view of one pad: ACK, duplicate filter, liveness, command queue."""

from __future__ import annotations

import asyncio

from firmware_bridge.frames import (
    Key,
    KeyCode,
    Nak,
    NakCode,
    RateRequest,
    ShowParked,
    ShowState,
    Status,
    WindowState,
)
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


def test_empty_queue_status_clears_the_filter_but_the_ack_never_falls_back_to_0():
    link = PadLink(1, last_evt=1)
    assert link.ack == 1  # from the journal after a restart
    link.status_seen(Status(pending=1))  # e.g. the answer to SHOW_STATE before the ACK went out
    assert link.ack == 1 and link.is_retry(Key(1, KeyCode.CALL_NEXT))
    link.status_seen(Status(pending=0))
    assert link.ack == 1  # protocol 1.1: ACK keeps the last processed EVT
    assert not link.is_retry(Key(1, KeyCode.CALL_NEXT))  # a rebooted pad's new EVT 1 is heard
    link.event_processed(Key(2, KeyCode.RECALL))
    link.status_seen(Status(pending=0))
    assert link.ack == 2


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
    cmd = PendingCommand(ShowState(WindowState.IDLE, 0), loop.create_future(), 1)
    link.queue_command(cmd, 16)
    busy = Nak(NakCode.BUSY)
    assert link.command_answered(cmd, busy, 3) is None
    assert link.command_answered(cmd, None, 3) is None
    assert link.command_answered(cmd, busy, 3) is cmd
    assert not link.commands


async def test_a_newer_screen_queued_while_the_older_is_on_the_wire_is_still_sent():
    # The older SHOW_STATE is being exchanged; a newer one arrives. Answering the older must not
    # mark the newer done (the pad would keep showing the older number).
    loop = asyncio.get_running_loop()
    link = PadLink(1)
    older = PendingCommand(ShowState(WindowState.CALLING, 3, "A001"), loop.create_future(), 1)
    link.queue_command(older, 16)
    older.on_wire = True  # what the poller does before the exchange
    newer = PendingCommand(ShowState(WindowState.CALLING, 2, "A002"), loop.create_future(), 2)
    assert link.queue_command(newer, 16) == []  # the older is on the wire: not replaced
    assert link.command_answered(older, Status(0, 1, 0, 0), 3) is older
    assert list(link.commands) == [newer]  # still to be sent


async def test_nak_2_is_remembered_until_the_pad_restarts():
    loop = asyncio.get_running_loop()
    link = PadLink(1)
    link.reply_seen()
    link.status_seen(Status(fw_major=1, fw_minor=0))
    parked = PendingCommand(ShowParked(("A012",)), loop.create_future(), 1)
    link.queue_command(parked, 16)
    assert link.command_answered(parked, Nak(NakCode.UNKNOWN_COMMAND), 3) is parked  # finished, not retried
    assert not link.knows(ShowParked()) and link.knows(ShowState(WindowState.IDLE, 0))
    link.status_seen(Status(fw_major=1, fw_minor=0))
    assert not link.knows(ShowParked())  # the same pad, still old
    link.status_seen(Status(fw_major=1, fw_minor=2))
    assert link.knows(ShowParked())  # upgraded: try again
    link.unknown.add(ShowParked.CMD)
    for _ in range(3):
        link.reply_missed()
    assert not link.knows(ShowParked())
    assert link.reply_seen() is True and link.knows(ShowParked())  # back online: maybe rebooted, try again
