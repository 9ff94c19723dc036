"""BusPoller against emulated pads over a real pty pair (2-3 addresses on one bus)."""

from __future__ import annotations

import asyncio
import os
import time
import tty
from dataclasses import replace

import pytest

from firmware_bridge.emulator import PadBusEmulator, PadState
from firmware_bridge.errors import EncodeError, FirmwareBridgeError
from firmware_bridge.frames import (
    Key,
    KeyCode,
    Nak,
    NakCode,
    Poll,
    RateRequest,
    Rating,
    ShowClerk,
    ShowParked,
    ShowState,
    Status,
    WindowState,
)
from firmware_bridge.poller import BusPoller


async def wait_until(condition, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


class Bus:
    """A pty pair: emulated pads on the master side, a BusPoller on the slave path."""

    def __init__(self, addresses=(1, 2, 3), **poller_options) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.emulator = PadBusEmulator(self.master, [PadState(a) for a in addresses])
        self.events: list[tuple[int, object]] = []
        self.online: list[int] = []
        self.offline: list[int] = []
        self.fail_next_events = 0
        options = {"offline_probe_interval_s": 0.05, "min_cycle_s": 0.001} | poller_options
        self.poller = BusPoller(self.path, addresses, self.on_event, on_online=self.online.append,
                                on_offline=self.offline.append, **options)

    async def on_event(self, addr, event) -> None:
        if self.fail_next_events:
            self.fail_next_events -= 1
            raise RuntimeError("journal unavailable")
        self.events.append((addr, event))

    def pad(self, addr: int) -> PadState:
        return self.emulator.pad(addr)

    async def start(self) -> None:
        await self.emulator.start()
        self.poller.start()
        await wait_until(lambda: self.poller.pads_online == len(self.poller.links))

    async def stop(self) -> None:
        await self.poller.stop()
        await self.emulator.stop()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
async def bus():
    bus = Bus()
    await bus.start()
    yield bus
    await bus.stop()


async def test_all_pads_come_online_and_key_event_is_delivered_once(bus):
    assert sorted(bus.online) == [1, 2, 3]
    pressed = bus.pad(2).press(KeyCode.CALL_NEXT)
    await wait_until(lambda: bus.events)
    await wait_until(lambda: bus.pad(2).pending == 0)  # the ACK reached the pad
    polls = bus.poller.stats.polls_sent
    await wait_until(lambda: bus.poller.stats.polls_sent > polls + 30)
    assert len(bus.events) == 1
    addr, event = bus.events[0]
    assert addr == 2 and isinstance(event, Key)
    assert (event.evt, event.key) == (pressed.evt, KeyCode.CALL_NEXT)
    assert bus.poller.stats.keys["call_next"] == 1 and bus.poller.stats.events["key"] == 1


async def test_lost_reply_is_resent_with_same_evt_and_counted_once(bus):
    bus.emulator.drop_replies(3, 1)
    bus.pad(3).press(KeyCode.TRANSFER, 2)
    await wait_until(lambda: bus.events)
    await wait_until(lambda: bus.pad(3).pending == 0)
    assert bus.emulator.replies_dropped == 1
    assert bus.pad(3).resends == 1  # the same event went out twice
    assert bus.poller.stats.missed_replies >= 1
    assert bus.events == [(3, Key(1, KeyCode.TRANSFER, 2, addr=3, seq=bus.events[0][1].seq))]
    assert bus.poller.is_online(3)  # one miss is not three


async def test_ack_advances_only_after_handler_returns(bus):
    bus.fail_next_events = 2  # the journal fails twice; the pad resends until it is committed
    bus.pad(1).press(KeyCode.FINISH)
    await wait_until(lambda: bus.events)
    await wait_until(lambda: bus.pad(1).pending == 0)
    assert bus.poller.stats.handler_errors == 2
    assert [e.evt for _, e in bus.events] == [1]
    assert bus.pad(1).resends == 2


async def test_events_keep_order_across_pads_and_ratings(bus):
    reply = await bus.poller.send(1, RateRequest(4242, 30, "A007"))
    assert isinstance(reply, Status) and bus.pad(1).prompt is not None
    bus.pad(1).rate(1, 0b11)
    for key in (KeyCode.CALL_NEXT, KeyCode.RECALL, KeyCode.SKIP):
        bus.pad(2).press(key)
    await wait_until(lambda: len(bus.events) == 4)
    assert [e for a, e in bus.events if a == 1][0].case == 4242
    assert isinstance([e for a, e in bus.events if a == 1][0], Rating)
    assert [e.key for a, e in bus.events if a == 2] == [KeyCode.CALL_NEXT, KeyCode.RECALL, KeyCode.SKIP]


async def test_commands_are_served_and_shown(bus):
    results = [bus.poller.send(2, ShowClerk(5, "1001", "张三")),
               bus.poller.send(2, ShowState(WindowState.SERVING, 12, "A001"))]
    replies = await asyncio.gather(*results)
    assert all(isinstance(r, Status) for r in replies)
    assert bus.pad(2).clerk_name == "张三" and bus.pad(2).ticket == "A001" and bus.pad(2).waiting == 12
    assert bus.poller.stats.commands_sent == 2
    with pytest.raises(EncodeError):
        bus.poller.send(2, ShowState(WindowState.SERVING, 70_000, "A001"))
    with pytest.raises(FirmwareBridgeError):
        bus.poller.send(9, ShowState(WindowState.SERVING, 1, "A001"))


async def test_noise_on_the_line_does_not_stop_the_bus(bus):
    for _ in range(20):
        bus.emulator.inject_noise()
        bus.emulator.inject_noise(b"\xa5\x5a\x01\x80\x00\xc8")  # a false header with LEN 200
        await asyncio.sleep(0.002)
    bus.pad(1).press(KeyCode.PAUSE)
    bus.pad(3).press(KeyCode.RESUME)
    await wait_until(lambda: len(bus.events) == 2)
    decoder = bus.poller.decoder
    assert decoder.discarded_bytes > 0 and decoder.bad_total > 0
    replies = bus.poller.stats.replies
    await wait_until(lambda: bus.poller.stats.replies > replies + 50)
    await wait_until(lambda: bus.poller.pads_online == 3)


async def test_silent_pad_goes_offline_after_3_misses_and_comes_back(bus):
    bus.emulator.set_silent(2)
    await wait_until(lambda: 2 in bus.offline)
    assert not bus.poller.is_online(2) and bus.poller.links[2].misses == 3
    assert bus.poller.pads_online == 2
    bus.pad(1).press(KeyCode.CALL_NEXT)  # the others keep working meanwhile
    await wait_until(lambda: bus.events)
    bus.online.clear()
    bus.emulator.set_silent(2, False)
    await wait_until(lambda: bus.online == [2])
    assert bus.poller.is_online(2)


async def test_power_cycled_pad_restarting_at_evt_1_is_still_heard(bus):
    bus.pad(1).press(KeyCode.CALL_NEXT)
    await wait_until(lambda: bus.events)
    await wait_until(lambda: bus.poller.links[1].last_evt is None)  # the pad reported an empty queue
    assert bus.poller.links[1].ack == 1  # and the ACK stays: it never falls back to 0
    bus.pad(1).power_cycle()
    assert bus.pad(1).press(KeyCode.CALL_NEXT).evt == 1
    await wait_until(lambda: len(bus.events) == 2)
    assert [e.evt for _, e in bus.events] == [1, 1]
    await wait_until(lambda: bus.pad(1).pending == 0)  # the stale ACK 1 did not drop the new EVT 1 unsent
    assert bus.pad(1).ack_fallbacks == 0


async def test_restart_with_journal_acks_does_not_deliver_again():
    bus = Bus(addresses=(1,))
    await bus.emulator.start()
    try:
        sent = bus.pad(1).press(KeyCode.FINISH)
        # The old daemon got the event and committed it to its journal, then crashed before the ACK.
        assert bus.pad(1).handle(Poll(0, addr=1)) == replace(sent, seq=0)
        bus.poller = BusPoller(bus.path, [1], bus.on_event, initial_acks={1: sent.evt})
        bus.poller.start()
        await wait_until(lambda: bus.pad(1).pending == 0)
        await asyncio.sleep(0.05)
        assert bus.events == []
    finally:
        await bus.stop()


async def test_port_that_cannot_be_opened_or_is_lost_does_not_kill_the_poller(bus, tmp_path):
    missing = BusPoller(str(tmp_path / "no-such-tty"), [1], bus.on_event, reopen_backoff_s=(0.01, 0.02))
    missing.start()
    await wait_until(lambda: missing.stats.port_failures >= 3)
    assert missing.is_running
    await missing.stop()

    bus.poller.reopen_backoff_s = (0.01, 0.02)
    await bus.emulator.stop()
    os.close(bus.master)  # the USB adapter is unplugged
    await wait_until(lambda: bus.poller.pads_online == 0)
    await wait_until(lambda: bus.poller.stats.port_failures >= 2)
    assert bus.poller.is_running


async def test_ack_never_falls_back_to_0_once_an_event_was_acknowledged(bus):
    # Protocol 1.1: after the first event, every POLL carries the EVT of the last event processed,
    # also while the pads report empty queues between events.
    for key in (KeyCode.CALL_NEXT, KeyCode.FINISH, KeyCode.PAUSE):
        bus.pad(2).press(key)
        await wait_until(lambda: bus.pad(2).pending == 0)
    polls = bus.poller.stats.polls_sent
    await wait_until(lambda: bus.poller.stats.polls_sent > polls + 30)  # many POLLs to an empty queue
    assert [e.evt for _, e in bus.events] == [1, 2, 3]
    assert bus.poller.links[2].ack == 3
    assert bus.pad(2).ack_fallbacks == 0


async def test_an_old_pad_that_naks_show_parked_is_not_sent_it_again_until_it_comes_back(bus):
    old = bus.pad(2)
    old.unknown_commands = frozenset({ShowParked.CMD})  # firmware older than SHOW_PARKED
    assert isinstance(await bus.poller.send(1, ShowParked(("A012",))), Status)
    assert bus.pad(1).parked == ("A012",)  # a pad that knows it shows it
    reply = await bus.poller.send(2, ShowParked(("A012",)))
    assert isinstance(reply, Nak) and reply.code == NakCode.UNKNOWN_COMMAND  # heard on the wire
    sent, heard = bus.poller.stats.commands_sent, bus.emulator.frames_received
    for tickets in (("A012", "A013"), ()):
        reply = await bus.poller.send(2, ShowParked(tickets))
        assert isinstance(reply, Nak) and reply.code == NakCode.UNKNOWN_COMMAND  # remembered, not sent
    assert bus.poller.stats.commands_sent == sent and bus.poller.stats.commands_unknown == 2
    assert isinstance(await bus.poller.send(2, ShowState(WindowState.IDLE, 3, "")), Status)  # the rest still goes
    assert bus.emulator.frames_received > heard and old.waiting == 3 and old.parked == ()
    # The pad goes away and comes back (it may have been upgraded meanwhile): it is asked again.
    bus.emulator.set_silent(2)
    await wait_until(lambda: 2 in bus.offline)
    old.unknown_commands = frozenset()
    bus.emulator.set_silent(2, False)
    await wait_until(lambda: bus.poller.is_online(2))
    assert isinstance(await bus.poller.send(2, ShowParked(("A014",))), Status)
    assert old.parked == ("A014",) and bus.poller.stats.commands_sent == sent + 2
