"""Host-side state of one pad, without I/O: the ACK to send, the duplicate filter, liveness, commands.

Exactly-once, as serial-protocol.md puts it: the host acknowledges an event by putting its EVT in the
ACK of its next POLL, and processes an event only if its EVT differs from the last one it processed.

One refinement, because a pad that loses power "keeps nothing" and restarts at EVT 1: once the pad
reports an empty queue (STATUS with PENDING 0) it has dropped the last event, so nothing is left to
acknowledge or to take for a retry. The host then forgets that EVT and sends ACK 0. Otherwise a pad
that rebooted after sending EVT 1 would have its next EVT 1 dropped (by the pad, on the stale ACK)
or ignored (by the host, as a "retry") and a key press would be lost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from .frames import HostCommand, Nak, PadEvent, PadReply, SetTime, ShowClerk, ShowState, Status

# Commands where only the latest one matters: a newer one replaces a queued older one.
_LATEST_WINS = (ShowClerk, ShowState, SetTime)


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
    last_evt: int | None = None  # EVT of the last event processed; the ACK of the next POLL
    online: bool | None = None  # None until the first reply or the first ``offline_after`` misses
    misses: int = 0  # missed replies in a row
    next_probe: float = 0.0  # while offline: loop time of the next poll
    commands: deque[PendingCommand] = field(default_factory=deque)

    @property
    def ack(self) -> int:
        return self.last_evt or 0

    def is_retry(self, event: PadEvent) -> bool:
        """True when ``event`` is a resend of the event already processed."""
        return event.evt == self.last_evt

    def event_processed(self, event: PadEvent) -> None:
        self.last_evt = event.evt

    def status_seen(self, status: Status) -> None:
        if status.pending == 0:
            self.last_evt = None

    def reply_seen(self) -> bool:
        """Record a good reply; True when it brings the pad (back) online."""
        self.misses = 0
        came_online = self.online is not True
        self.online = True
        return came_online

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
        busy = isinstance(reply, Nak) and reply.code == 3
        if (reply is not None and not busy) or command.attempts >= max_attempts:
            if command in self.commands:
                self.commands.remove(command)
            return command
        return None
