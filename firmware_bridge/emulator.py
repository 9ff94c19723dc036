"""An emulated QPad: a sans-IO state machine (``PadState``) and a runner serving pads on one port.

``PadState`` is what one pad knows: its address, its queue of events with EVT numbers, and what its two
screens show. It answers host frames through ``handle(frame)`` and takes clerk/citizen input through
``press``/``rate``. ``PadBusEmulator`` puts several pads on one serial port, which is one bus: it
decodes the host's frames, hands each to the pad it is addressed to, and writes the reply.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from .codec import Direction, FrameDecoder
from .errors import PadStateError
from .frames import (
    BROADCAST_ADDR,
    Frame,
    Key,
    KeyCode,
    Nak,
    NakCode,
    PadEvent,
    PadReply,
    Poll,
    RateCancel,
    RateRequest,
    RateTimeout,
    Rating,
    RatingLevel,
    SetTime,
    ShowClerk,
    ShowParked,
    ShowState,
    Status,
    StatusFlags,
    WindowState,
    encode,
)
from .serial_link import BusProtocol, open_link

log = logging.getLogger(__name__)

Clock = Callable[[], float]

_STATE_LABELS = {
    WindowState.IDLE: "空闲",
    WindowState.CALLING: "呼叫中",
    WindowState.SERVING: "正在办理",
    WindowState.PAUSED: "暂停服务",
    WindowState.CLOSED: "已关闭",
}


@dataclass(slots=True)
class RatingPrompt:
    case: int
    ticket: str
    deadline: float | None  # clock() value; None when TIMEOUT_S was 0 (wait until cancelled)


class PadState:
    """One pad, without any I/O. ``clock`` is injectable so tests control rating timeouts."""

    def __init__(self, address: int, *, clock: Clock = time.monotonic, fw_version: tuple[int, int] = (1, 0),
                 queue_limit: int = 32, unknown_commands: Iterable[int] = ()) -> None:
        if not 1 <= address <= 247:
            raise PadStateError(f"pad address {address} is outside 1..247")
        # The queue must stay well below 255 events: unacknowledged EVTs must be distinct.
        if not 1 <= queue_limit <= 128:
            raise PadStateError("queue_limit must be 1..128")
        self.address = address
        self.clock = clock
        self.fw_version = fw_version
        self.queue_limit = queue_limit
        self.keys_locked = False
        self.busy = False  # answer commands other than POLL with NAK 3 (for tests)
        # CMDs this pad's firmware lacks, answered NAK 2 (e.g. {ShowParked.CMD}: a pad older than 0x07)
        self.unknown_commands = frozenset(unknown_commands)
        self.resends = 0  # events sent again because their ACK did not come
        self.ack_fallbacks = 0  # POLLs with ACK 0 after a non-zero ACK since power-up (protocol 1.1 forbids it)
        self.display_version = 0  # bumped whenever either screen changes
        self._reset_memory()

    def _reset_memory(self) -> None:
        self.stars = 0
        self.clerk_id = ""
        self.clerk_name = ""
        self.state = WindowState.IDLE
        self.waiting = 0
        self.ticket = ""
        self.parked: tuple[str, ...] = ()  # SHOW_PARKED: the 挂起 numbers shown, oldest first
        self.parked_count = 0  # cases parked at the window (may exceed the numbers shown)
        self.prompt: RatingPrompt | None = None
        self.epoch_offset: float | None = None  # host epoch minus clock(), from SET_TIME
        self._queue: deque[PadEvent] = deque()
        self._head_sent = False
        self._next_evt = 1
        self._ack_seen = 0  # the last non-zero ACK since power-up
        self._changed()

    def _changed(self) -> None:
        self.display_version += 1

    # ---- what the pad holds -----------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def queued_events(self) -> tuple[PadEvent, ...]:
        return tuple(self._queue)

    @property
    def next_evt(self) -> int:
        return self._next_evt

    @property
    def flags(self) -> StatusFlags:
        flags = StatusFlags(0)
        if self.prompt is not None:
            flags |= StatusFlags.RATING_PROMPT_OPEN
        if self.keys_locked:
            flags |= StatusFlags.KEYS_LOCKED
        return flags

    # ---- local input ------------------------------------------------------------------------

    def _queue_event(self, make: Callable[[int], PadEvent]) -> PadEvent:
        if len(self._queue) >= self.queue_limit:
            raise PadStateError(f"pad {self.address}: event queue full ({self.queue_limit})")
        event = make(self._next_evt)
        self._next_evt = self._next_evt + 1 if self._next_evt < 255 else 1  # 1..255, never 0
        self._queue.append(event)
        self._changed()
        return event

    def press(self, key: KeyCode | int, arg: int = 0) -> Key | None:
        """A clerk key. Returns the queued event, or None when the keys are locked."""
        key = KeyCode(key)
        if self.keys_locked:
            return None
        return self._queue_event(lambda evt: Key(evt, key, arg, addr=self.address))

    def rate(self, level: RatingLevel | int, reasons: int = 0) -> Rating:
        """The citizen presses a rating key (with 差评 reasons as a bitmask) while a prompt is open."""
        self.tick()
        if self.prompt is None:
            raise PadStateError(f"pad {self.address}: no rating prompt open")
        level = RatingLevel(level)
        case = self.prompt.case
        event = self._queue_event(lambda evt: Rating(evt, case, level, reasons & 0xFFFF, addr=self.address))
        self.prompt = None
        return event

    def time_out_rating(self) -> RateTimeout:
        """The citizen walks away: close the prompt now and queue RATE_TIMEOUT."""
        if self.prompt is None:
            raise PadStateError(f"pad {self.address}: no rating prompt open")
        case = self.prompt.case
        event = self._queue_event(lambda evt: RateTimeout(evt, case, addr=self.address))
        self.prompt = None
        return event

    def tick(self) -> None:
        """Let time pass: a prompt whose TIMEOUT_S has run out closes with RATE_TIMEOUT."""
        prompt = self.prompt
        if prompt is not None and prompt.deadline is not None and self.clock() >= prompt.deadline:
            self.time_out_rating()

    def power_cycle(self) -> None:
        """Lose power: the queue, the screens and the EVT counter are gone (EVT restarts at 1)."""
        self._reset_memory()

    # ---- host frames ------------------------------------------------------------------------

    def handle(self, frame: Frame) -> PadReply | None:
        """Apply a host frame; returns the reply to send, or None (broadcast, or not for this pad)."""
        if frame.addr not in (self.address, BROADCAST_ADDR):
            return None
        self.tick()
        broadcast = frame.addr == BROADCAST_ADDR
        if isinstance(frame, Poll):
            return None if broadcast else self._answer_poll(frame)
        if frame.CMD in self.unknown_commands:
            return None if broadcast else Nak(NakCode.UNKNOWN_COMMAND, addr=self.address, seq=frame.seq)
        if self.busy and not broadcast:
            return Nak(NakCode.BUSY, addr=self.address, seq=frame.seq)
        match frame:
            case ShowClerk():
                self.stars, self.clerk_id, self.clerk_name = frame.stars, frame.clerk_id, frame.name
            case ShowState():
                self.state, self.waiting, self.ticket = WindowState(frame.state), frame.waiting, frame.ticket
            case RateRequest():
                deadline = self.clock() + frame.timeout_s if frame.timeout_s else None
                self.prompt = RatingPrompt(frame.case, frame.ticket, deadline)
            case RateCancel():
                if self.prompt is not None and self.prompt.case == frame.case:
                    self.prompt = None
            case SetTime():
                self.epoch_offset = frame.epoch - self.clock()
            case ShowParked():
                self.parked, self.parked_count = frame.tickets, frame.count
            case _:
                return None if broadcast else Nak(NakCode.UNKNOWN_COMMAND, addr=self.address, seq=frame.seq)
        self._changed()
        return None if broadcast else self.status(frame.seq)

    def status(self, seq: int) -> Status:
        major, minor = self.fw_version
        return Status(self.flags, major, minor, min(self.pending, 255), addr=self.address, seq=seq)

    def _answer_poll(self, poll: Poll) -> PadReply:
        # ACK carries the last EVT the host processed and never falls back to 0 (protocol 1.1).
        if poll.ack:
            self._ack_seen = poll.ack
        elif self._ack_seen:
            self.ack_fallbacks += 1
        # Drop the head only if it was sent: after a power cycle the host may still be acknowledging
        # an old event with the same EVT as a new one that it has not seen yet.
        if self._queue and self._head_sent and poll.ack == self._queue[0].evt:
            self._queue.popleft()
            self._head_sent = False
            self._changed()
        if not self._queue:
            return self.status(poll.seq)
        if self._head_sent:
            self.resends += 1
        self._head_sent = True
        return replace(self._queue[0], seq=poll.seq)

    # ---- the two screens --------------------------------------------------------------------

    def citizen_screen(self) -> list[str]:
        stars = "★" * self.stars + "☆" * (5 - self.stars)
        lines = [f"[评价器 {self.address}] {self.clerk_name or '(未设置)'}  工号 {self.clerk_id or '-'}  {stars}"]
        if self.state == WindowState.PAUSED:
            lines.append("暂停服务")
        elif self.state == WindowState.CLOSED:
            lines.append("窗口已关闭")
        if self.prompt is not None:
            left = ""
            if self.prompt.deadline is not None:
                left = f" (剩余 {max(0.0, self.prompt.deadline - self.clock()):.0f} 秒)"
            lines.append(f"请为 {self.prompt.ticket or '本次服务'} 评价{left}: "
                         "5 非常满意 / 4 满意 / 3 基本满意 / 2 不满意 / 1 非常不满意")
        return lines

    def clerk_screen(self) -> list[str]:
        lines = [f"[呼叫器 {self.address}] {_STATE_LABELS[self.state]}  当前号 {self.ticket or '-'}  "
                 f"等候 {self.waiting} 人  待发事件 {self.pending}"]
        if self.parked_count:
            lines.append(self.parked_line())
        return lines

    def parked_line(self) -> str:
        """挂起 2 件: A012 B003 (what the clerk side shows of SHOW_PARKED); "" when none."""
        if not self.parked_count:
            return ""
        more = " …" if self.parked_count > len(self.parked) else ""
        return f"挂起 {self.parked_count} 件: {' '.join(self.parked)}{more}"


class PadBusEmulator:
    """Serves emulated pads on one port (several addresses on one bus, like RS-485).

    Test hooks: ``set_silent`` (the pad neither hears nor answers), ``drop_replies`` (the pad acts on
    the frame but its reply is lost on the wire), ``inject_noise`` (raw bytes on the line).
    """

    def __init__(self, port: str | int, pads: Iterable[PadState] = (), *, baudrate: int = 9600,
                 reply_delay_s: float = 0.0, frame_gap_s: float = 0.05, tick_interval_s: float = 0.1) -> None:
        self.port = port
        self.baudrate = baudrate
        self.reply_delay_s = reply_delay_s
        self.frame_gap_s = frame_gap_s  # a partial frame idle this long is abandoned
        self.tick_interval_s = tick_interval_s
        self.pads: dict[int, PadState] = {}
        for pad in pads:
            self.add_pad(pad)
        self.decoder = FrameDecoder(Direction.HOST_TO_PAD, on_reject=self._rejected)
        self.frames_received = 0
        self.replies_sent = 0
        self.replies_dropped = 0
        self._silent: set[int] = set()
        self._drop_next: dict[int, int] = {}
        self._transport: asyncio.Transport | None = None
        self._gap_timer: asyncio.TimerHandle | None = None
        self._ticker: asyncio.Task | None = None

    def add_pad(self, pad: PadState) -> PadState:
        if pad.address in self.pads:
            raise PadStateError(f"address {pad.address} is already on this bus")
        self.pads[pad.address] = pad
        return pad

    def pad(self, address: int) -> PadState:
        return self.pads[address]

    def set_silent(self, address: int, silent: bool = True) -> None:
        (self._silent.add if silent else self._silent.discard)(address)

    def drop_replies(self, address: int, count: int = 1) -> None:
        self._drop_next[address] = self._drop_next.get(address, 0) + count

    def inject_noise(self, data: bytes | None = None, length: int = 64) -> bytes:
        """Write raw bytes on the line (random ones, with false SOFs, unless given)."""
        if data is None:
            data = bytearray(os.urandom(length))
            for i in range(0, len(data) - 1, 16):
                data[i : i + 2] = b"\xa5\x5a"  # false frame starts, to exercise resync
            data = bytes(data)
        if self._transport is not None:
            self._transport.write(data)
        return data

    async def start(self) -> None:
        protocol = BusProtocol(self._data_received, self._connection_lost)
        self._transport = await open_link(self.port, protocol, baudrate=self.baudrate)
        self._ticker = asyncio.create_task(self._tick_loop())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            try:
                await self._ticker
            except asyncio.CancelledError:
                pass
            self._ticker = None
        if self._gap_timer is not None:
            self._gap_timer.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
            await asyncio.sleep(0)  # let connection_lost run

    async def __aenter__(self) -> PadBusEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _tick_loop(self) -> None:
        # Rating prompts time out even when nobody polls.
        while True:
            await asyncio.sleep(self.tick_interval_s)
            for pad in self.pads.values():
                pad.tick()

    def _data_received(self, data: bytes) -> None:
        for frame in self.decoder.feed(data):
            self._dispatch(frame)
        if self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None
        if self.decoder.buffered:
            loop = asyncio.get_running_loop()
            self._gap_timer = loop.call_later(self.frame_gap_s, self._gap_elapsed)

    def _gap_elapsed(self) -> None:
        self._gap_timer = None
        for frame in self.decoder.abandon_partial():
            self._dispatch(frame)

    def _dispatch(self, frame: Frame) -> None:
        self.frames_received += 1
        targets = self.pads.values() if frame.addr == BROADCAST_ADDR else [self.pads.get(frame.addr)]
        for pad in targets:
            if pad is None or pad.address in self._silent:
                continue
            reply = pad.handle(frame)
            if reply is not None:
                self._send_reply(pad.address, reply)

    def _rejected(self, addr: int, cmd: int, seq: int, reason: str) -> None:
        # A CRC-valid frame for one of our pads that we cannot act on: tell the host.
        if addr in self.pads and addr not in self._silent:
            code = NakCode.UNKNOWN_COMMAND if reason == "unknown_cmd" else NakCode.BAD_PAYLOAD
            self._send_reply(addr, Nak(code, addr=addr, seq=seq))

    def _send_reply(self, address: int, reply: PadReply) -> None:
        if self._drop_next.get(address):
            self._drop_next[address] -= 1
            self.replies_dropped += 1
            return
        data = encode(reply)
        self.replies_sent += 1
        if self.reply_delay_s > 0:
            asyncio.get_running_loop().call_later(self.reply_delay_s, self._write, data)
        else:
            self._write(data)

    def _write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)

    def _connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.warning("pad emulator port %s lost: %s", self.port, exc)
        self._transport = None
