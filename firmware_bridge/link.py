"""Host-side state of one pad, without I/O: the ACK to send, the duplicate filter, liveness, commands.

Exactly-once, as serial-protocol.md puts it: the host acknowledges an event by putting its EVT in the
ACK of its next POLL, and processes an event only if its EVT differs from the last one it processed.

Two values, because they must be forgotten at different times:
- `acked`, the ACK of every POLL: the EVT of the last event processed. It never falls back to 0 once
  an event was acknowledged (protocol 1.1); it is 0 only before the first event this host has a
  record of (the journal's `pad_acks` carries it across restarts). A pad drops its head only when it
  has sent it and the ACK matches, so a stale ACK after the pad lost power drops nothing.
- `last_evt`, the duplicate filter. A pad that loses power "keeps nothing" and restarts at EVT 1:
  once it reports an empty queue (STATUS with PENDING 0) it holds no event the host might take for a
  retry, so the filter is cleared and its next event is heard whatever its EVT (otherwise a rebooted
  pad's EVT 1 after an acknowledged EVT 1 would be taken for a resend and a key press lost).

A command the pad answered NAK 2 (unknown command: its firmware predates an extension such as
SHOW_PARKED) is remembered in `unknown`, and not sent to it again until it comes (back) online or
reports another firmware version in STATUS (it was rebooted or upgraded).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from .frames import (
    HostCommand,
    Nak,
    NakCode,
    PadEvent,
    PadReply,
    SetTime,
    ShowClerk,
    ShowParked,
    ShowState,
    Status,
)

# Commands where only the latest one matters: a newer one replaces a queued older one.
_LATEST_WINS = (ShowClerk, ShowState, SetTime, ShowParked)


@dataclass(slots=True)
class PendingCommand:
    frame: HostCommand
    result: asyncio.Future[PadReply | None]
    order: int  # global queueing order, so pads are served first come first served
    attempts: int = 0
    on_wire: bool = False  # being exchanged right now: must not be replaced or dropped under it


@dataclass(slots=True)
class PadLink:
    addr: int
    offline_after: int = 3
    last_evt: int | None = None  # the duplicate filter: EVT of the last event processed, until the queue empties
    acked: int = 0  # the ACK of every POLL: EVT of the last event processed (0: none yet)
    online: bool | None = None  # None until the first reply or the first ``offline_after`` misses
    misses: int = 0  # missed replies in a row
    next_probe: float = 0.0  # while offline: loop time of the next poll
    commands: deque[PendingCommand] = field(default_factory=deque)
    unknown: set[int] = field(default_factory=set)  # CMDs the pad answered NAK 2 (unknown command)
    firmware: tuple[int, int] | None = None  # FW_MAJOR, FW_MINOR of its last STATUS

    def __post_init__(self) -> None:
        if self.last_evt and not self.acked:
            self.acked = self.last_evt

    @property
    def ack(self) -> int:
        return self.acked

    def is_retry(self, event: PadEvent) -> bool:
        """True when ``event`` is a resend of the event already processed."""
        return event.evt == self.last_evt

    def event_processed(self, event: PadEvent) -> None:
        self.last_evt = self.acked = event.evt

    def status_seen(self, status: Status) -> None:
        firmware = (status.fw_major, status.fw_minor)
        if firmware != self.firmware:
            if self.firmware is not None:
                self.unknown.clear()  # upgraded (or swapped): it may know more now
            self.firmware = firmware
        if status.pending == 0:
            self.last_evt = None  # nothing left to resend; the ACK stays (it never falls back to 0)

    def reply_seen(self) -> bool:
        """Record a good reply; True when it brings the pad (back) online."""
        self.misses = 0
        came_online = self.online is not True
        self.online = True
        if came_online:
            self.unknown.clear()  # it may have been rebooted with other firmware meanwhile
        return came_online

    def knows(self, frame: HostCommand) -> bool:
        """False when the pad answered this kind of command NAK 2 and has not restarted since."""
        return frame.CMD not in self.unknown

    def reply_missed(self) -> bool:
        """Record a missed reply; True when it takes the pad offline."""
        self.misses += 1
        if self.misses >= self.offline_after and self.online is not False:
            self.online = False
            return True
        return False

    def mark_offline(self) -> bool:
        """The port is gone: nothing can be heard. True when the pad was not offline already."""
        was_offline = self.online is False
        self.online = False
        self.misses = max(self.misses, self.offline_after)
        return not was_offline

    def queue_command(self, command: PendingCommand, limit: int) -> list[PendingCommand]:
        """Queue ``command``; returns the commands it pushed out (replaced or over ``limit``)."""
        dropped = []
        if isinstance(command.frame, _LATEST_WINS):
            # Never the head once it has been tried: it may be on the wire right now.
            for queued in list(self.commands):
                if type(queued.frame) is type(command.frame) and queued.attempts == 0 and not queued.on_wire:
                    self.commands.remove(queued)
                    dropped.append(queued)
        self.commands.append(command)
        while len(self.commands) > limit:
            # Drop the oldest that is not on the wire (its reply is being awaited).
            victim = next((c for c in self.commands if not c.on_wire), None)
            if victim is None:
                break
            self.commands.remove(victim)
            dropped.append(victim)
        return dropped

    def command_answered(self, command: PendingCommand, reply: PadReply | None,
                         max_attempts: int) -> PendingCommand | None:
        """Account for `command`'s exchange; returns it when it is finished (answered or given up).

        The command is named rather than taken as the head: while it was on the wire a newer command
        may have been queued, and answering the head would mark that one done without sending it."""
        command.on_wire = False
        command.attempts += 1
        if isinstance(reply, Nak) and reply.code == NakCode.UNKNOWN_COMMAND:
            self.unknown.add(command.frame.CMD)
        busy = isinstance(reply, Nak) and reply.code == 3
        if (reply is not None and not busy) or command.attempts >= max_attempts:
            if command in self.commands:
                self.commands.remove(command)
            return command
        return None
