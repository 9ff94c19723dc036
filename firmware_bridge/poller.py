"""BusPoller: the bus master for one serial port.

It polls the configured pads round-robin as fast as the wire allows, serves queued commands before
the next plain POLL, delivers pad events exactly once to ``await on_event(addr, event)``, and tracks
which pads are online. The ACK for an event is advanced only after ``on_event`` returns, so a daemon
that commits the event to its journal inside ``on_event`` keeps exactly-once across a crash (restart
the poller with ``initial_acks`` from the journal).

A lost port (unplugged USB) is logged and reopened with back-off; noise on the line is counted by
the decoder and never stops the bus.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace

from .codec import Direction, FrameDecoder
from .errors import FirmwareBridgeError, PortError
from .frames import (
    BROADCAST_ADDR,
    EVENT_TYPE_NAMES,
    EVENT_TYPES,
    MAX_PAD_ADDR,
    HostCommand,
    Key,
    Nak,
    NakCode,
    PadEvent,
    PadReply,
    Poll,
    Status,
    encode,
    encode_payload,
)
from .link import PadLink, PendingCommand
from .serial_link import BusProtocol, open_link, wire_seconds
from .stats import BusStats

log = logging.getLogger(__name__)

EventHandler = Callable[[int, PadEvent], Awaitable[None]]
PadHook = Callable[[int], Awaitable[None] | None]  # on_online / on_offline: sync or async


class BusPoller:
    def __init__(
        self,
        port: str | int,
        addresses: Iterable[int],
        on_event: EventHandler,
        *,
        baudrate: int = 9600,
        reply_timeout_s: float = 0.1,
        offline_after: int = 3,
        offline_probe_interval_s: float = 1.0,
        on_online: PadHook | None = None,
        on_offline: PadHook | None = None,
        initial_acks: Mapping[int, int] | None = None,
        command_queue_limit: int = 16,
        command_max_attempts: int = 3,
        min_cycle_s: float = 0.0,
        reopen_backoff_s: tuple[float, float] = (0.5, 10.0),
    ) -> None:
        addresses = list(dict.fromkeys(addresses))
        for addr in addresses:
            if not 1 <= addr <= MAX_PAD_ADDR:
                raise FirmwareBridgeError(f"pad address {addr} is outside 1..{MAX_PAD_ADDR}")
        self.port = port
        self.baudrate = baudrate
        self.reply_timeout_s = reply_timeout_s
        self.offline_probe_interval_s = offline_probe_interval_s
        self.command_queue_limit = command_queue_limit
        self.command_max_attempts = command_max_attempts
        self.min_cycle_s = min_cycle_s  # > 0 spares the CPU on a pty, where no wire limits the rate
        self.reopen_backoff_s = reopen_backoff_s
        self.on_event = on_event
        self.on_online = on_online
        self.on_offline = on_offline
        acks = dict(initial_acks or {})
        self.links: dict[int, PadLink] = {
            addr: PadLink(addr, offline_after=offline_after, last_evt=acks.get(addr) or None) for addr in addresses
        }
        self.decoder = FrameDecoder(Direction.PAD_TO_HOST)
        self.stats = BusStats()
        self._order = itertools.count()
        self._broadcasts: list[tuple[HostCommand, asyncio.Future]] = []
        self._seq = 0
        self._transport: asyncio.Transport | None = None
        self._waiting: tuple[int, int, asyncio.Future] | None = None
        self._lost: asyncio.Future | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._commands_in_row = 0

    # ---- public API -------------------------------------------------------------------------

    @property
    def frames_good(self) -> int:
        return self.decoder.good

    @property
    def frames_bad(self) -> dict[str, int]:
        return dict(self.decoder.bad)

    @property
    def pads_online(self) -> int:
        return sum(1 for link in self.links.values() if link.online)

    @property
    def is_running(self) -> bool:
        return self._task is not None and not self._task.done()

    def is_online(self, addr: int) -> bool:
        return bool(self.links[addr].online)

    def send(self, addr: int, frame: HostCommand) -> asyncio.Future[PadReply | None]:
        """Queue a command for pad ``addr`` (0 = broadcast); ADDR and SEQ are filled in here.

        Returns a future with the pad's reply (STATUS or NAK), or None when the command was given up
        (unanswered after ``command_max_attempts``, replaced by a newer SHOW_*/SET_TIME, or dropped on
        stop). The future never raises, so it is safe to ignore. ``send`` itself raises EncodeError
        for a field out of range and FirmwareBridgeError for a pad not on this bus. A kind of command
        the pad answered NAK 2 is not sent again until it restarts (link.py): the future gives that NAK.
        """
        if isinstance(frame, Poll):
            raise FirmwareBridgeError("POLL is the poller's own business")
        encode_payload(frame)  # an EncodeError belongs to the caller, not to the bus loop
        result: asyncio.Future[PadReply | None] = asyncio.get_running_loop().create_future()
        if addr == BROADCAST_ADDR:
            self._broadcasts.append((frame, result))
        else:
            link = self.links.get(addr)
            if link is None:
                raise FirmwareBridgeError(f"pad {addr} is not on this bus ({self.port})")
            if not link.knows(frame):
                self.stats.commands_unknown += 1
                result.set_result(Nak(NakCode.UNKNOWN_COMMAND, addr=addr))
                return result
            command = PendingCommand(frame, result, next(self._order))
            for dropped in link.queue_command(command, self.command_queue_limit):
                self.stats.commands_dropped += 1
                _resolve(dropped.result, None)
        self._wake.set()
        return result

    def start(self) -> asyncio.Task:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"bus-poller {self.port}")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for link in self.links.values():
            while link.commands:
                _resolve(link.commands.popleft().result, None)
        for _, result in self._broadcasts:
            _resolve(result, None)
        self._broadcasts.clear()

    async def __aenter__(self) -> BusPoller:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def run(self) -> None:
        """Open the port, serve the bus, and reopen the port whenever it fails; runs until cancelled."""
        low, high = self.reopen_backoff_s
        backoff = low
        while True:
            try:
                await self._open()
            except PortError as exc:
                self.stats.port_failures += 1
                log.warning("serial port %s: %s; retrying in %.1f s", self.port, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, high)
                continue
            backoff = low
            try:
                await self._serve()
            except PortError as exc:
                self.stats.port_failures += 1
                log.warning("serial port %s lost: %s; reopening in %.1f s", self.port, exc, backoff)
            except Exception:
                # Whatever went wrong, the hall still needs its bus: log it and start over.
                self.stats.port_failures += 1
                log.exception("bus %s failed; reopening in %.1f s", self.port, backoff)
            finally:
                self._close()
            await self._all_offline()
            await asyncio.sleep(backoff)

    # ---- port -------------------------------------------------------------------------------

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self.decoder.clear()
        protocol = BusProtocol(self._data_received, self._connection_lost)
        self._transport = await open_link(self.port, protocol, baudrate=self.baudrate)
        self.stats.port_opens += 1
        log.info("serial port %s open at %d baud, pads %s", self.port, self.baudrate, sorted(self.links))

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(exc)
        if self._waiting is not None:
            _resolve(self._waiting[2], None)

    def _data_received(self, data: bytes) -> None:
        self._take_frames(self.decoder.feed(data))

    def _take_frames(self, frames: list) -> None:
        for frame in frames:
            waiting = self._waiting
            if waiting is not None and (frame.addr, frame.seq) == waiting[:2] and not waiting[2].done():
                waiting[2].set_result(frame)
            else:
                self.stats.stale_replies += 1

    # ---- the bus ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        addresses = sorted(self.links)
        cycle_start = loop.time()
        index = 0
        while True:
            if self._lost is not None and self._lost.done():
                raise PortError(str(self._lost.result() or "port closed"))
            if await self._serve_one_command():
                continue
            if not addresses:
                await self._idle(None)
                continue
            link = self.links[addresses[index]]
            index += 1
            if link.online is False and loop.time() < link.next_probe:
                pass  # offline: probed only every offline_probe_interval_s, so it does not slow the bus
            else:
                await self._poll(link)
            if index == len(addresses):
                index = 0
                now = loop.time()
                if self.min_cycle_s and now - cycle_start < self.min_cycle_s:
                    await self._idle(cycle_start + self.min_cycle_s)
                    now = loop.time()
                if all(link.online is False and now < link.next_probe for link in self.links.values()):
                    await self._idle(min(link.next_probe for link in self.links.values()))
                    now = loop.time()
                self.stats.cycles += 1
                self.stats.last_cycle_s = now - cycle_start
                cycle_start = now

    async def _idle(self, until: float | None) -> None:
        """Wait until loop time ``until`` (None: forever), or until a command is queued."""
        self._wake.clear()
        timeout = None if until is None else max(0.0, until - asyncio.get_running_loop().time())
        woken = asyncio.ensure_future(self._wake.wait())
        waiters = {woken} if self._lost is None else {woken, self._lost}  # _lost: wake up on port loss too
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()

    async def _serve_one_command(self) -> bool:
        if self._broadcasts:
            frame, result = self._broadcasts.pop(0)
            data = encode(replace(frame, addr=BROADCAST_ADDR, seq=self._next_seq()))
            self._write(data)
            self.stats.broadcasts_sent += 1
            # Nobody answers a broadcast: leave the line quiet while it is on the wire.
            await asyncio.sleep(wire_seconds(len(data), self.baudrate))
            _resolve(result, None)
            return True
        # Commands take turns with polls, so a flood of commands cannot starve event delivery.
        if self._commands_in_row >= 4:
            self._commands_in_row = 0
            return False
        ready = [link for link in self.links.values() if link.commands and link.online is not False]
        if not ready:
            self._commands_in_row = 0
            return False
        link = min(ready, key=lambda link: link.commands[0].order)
        command = link.commands[0]
        if not link.knows(command.frame):  # queued before the pad said it does not know it
            link.commands.popleft()
            self.stats.commands_unknown += 1
            _resolve(command.result, Nak(NakCode.UNKNOWN_COMMAND, addr=link.addr))
            return True
        command.on_wire = True
        self._commands_in_row += 1
        self.stats.commands_sent += 1
        reply = await self._exchange(link, command.frame)
        if isinstance(reply, EVENT_TYPES):
            log.warning("pad %d answered %s with an event; ignored (it will come again on POLL)",
                        link.addr, type(command.frame).__name__)
        elif isinstance(reply, Status):
            link.status_seen(reply)
        finished = link.command_answered(command, reply, self.command_max_attempts)
        if finished is not None:
            if reply is None:
                self.stats.commands_dropped += 1
                log.warning("pad %d did not answer %s; given up", link.addr, type(command.frame).__name__)
            _resolve(finished.result, reply)
        return True

    async def _poll(self, link: PadLink) -> None:
        self.stats.polls_sent += 1
        reply = await self._exchange(link, Poll(link.ack))
        if reply is None:
            return
        if isinstance(reply, Status):
            link.status_seen(reply)
        elif isinstance(reply, Nak):
            pass  # counted in _exchange
        elif link.is_retry(reply):
            self.stats.duplicate_events += 1
        else:
            try:
                await self.on_event(link.addr, reply)
            except Exception:
                # Not acknowledged: the pad sends the same EVT again and we retry the handler.
                self.stats.handler_errors += 1
                log.exception("on_event failed for pad %d event %r", link.addr, reply)
                return
            link.event_processed(reply)
            self.stats.events[EVENT_TYPE_NAMES[type(reply)]] += 1
            if isinstance(reply, Key):
                self.stats.keys[reply.key.topic_name] += 1

    async def _exchange(self, link: PadLink, frame: HostCommand) -> PadReply | None:
        """Send one frame to ``link`` and wait for its reply; None when none came in time."""
        loop = asyncio.get_running_loop()
        seq = self._next_seq()
        data = encode(replace(frame, addr=link.addr, seq=seq))
        result: asyncio.Future = loop.create_future()
        self._waiting = (link.addr, seq, result)
        # The reply window opens once our frame is on the wire.
        timer = loop.call_later(self.reply_timeout_s + wire_seconds(len(data), self.baudrate),
                                self._reply_timed_out, result)
        try:
            self._write(data)
            reply = await result
        finally:
            timer.cancel()
            self._waiting = None
        if reply is None:
            self.stats.missed_replies += 1
            if link.online is False:
                link.next_probe = loop.time() + self.offline_probe_interval_s
            if link.reply_missed():
                log.warning("pad %d offline (%d missed replies)", link.addr, link.misses)
                link.next_probe = loop.time() + self.offline_probe_interval_s
                await self._call_hook(self.on_offline, link.addr)
            return None
        self.stats.replies += 1
        if isinstance(reply, Nak):
            self.stats.naks[int(reply.code)] += 1
        if link.reply_seen():
            log.info("pad %d online", link.addr)
            await self._call_hook(self.on_online, link.addr)
        return reply

    def _reply_timed_out(self, result: asyncio.Future) -> None:
        # A false SOF may be holding the real reply hostage behind a large LEN: give that partial
        # frame up and rescan, which may still resolve ``result`` with the reply.
        self._take_frames(self.decoder.abandon_partial())
        _resolve(result, None)

    def _write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise PortError("port closed")
        self._transport.write(data)

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    async def _all_offline(self) -> None:
        for link in self.links.values():
            if link.mark_offline():
                await self._call_hook(self.on_offline, link.addr)

    async def _call_hook(self, hook: PadHook | None, addr: int) -> None:
        if hook is None:
            return
        try:
            result = hook(addr)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("pad hook %r failed for pad %d", hook, addr)


def _resolve(result: asyncio.Future, value: PadReply | None) -> None:
    if not result.done():
        result.set_result(value)
