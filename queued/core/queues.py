"""Waiting lines. Every decision looks only at lane heads, so call-next costs O(businesses of the
window), never O(waiting tickets).

A `Lane` is FIFO with lazy deletion: a ticket taken out of turn (特呼, cancel) is only marked, and
skipped when it reaches the head. Ranks (a ticket's place in line) stay O(log n) by remembering the
indexes removed from the middle, which are few.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from queued.core.tickets import Ticket


class Lane:
    __slots__ = ("name", "items", "head", "alive", "removed")

    def __init__(self, name: str):
        self.name = name
        self.items: list[Ticket] = []
        self.head = 0  # index of the first item that may still be waiting here
        self.alive = 0
        self.removed: list[int] = []  # indexes taken out of the middle, sorted

    def push(self, ticket: Ticket) -> None:
        ticket.lane = self
        ticket.lane_pos = len(self.items)
        self.items.append(ticket)
        self.alive += 1

    def peek(self) -> Ticket | None:
        items = self.items
        head = self.head
        n = len(items)
        while head < n:
            t = items[head]
            if t.lane is self and t.lane_pos == head:
                self.head = head
                return t
            head += 1
        self.head = head
        return None

    def remove(self, ticket: Ticket) -> None:
        """Take `ticket` out of this lane, wherever it stands."""
        pos = ticket.lane_pos
        ticket.lane = None
        self.alive -= 1
        if pos == self.head:
            self.head += 1
        else:
            insort(self.removed, pos)
        if self.alive == 0:
            # Nothing waits: forget the day's history so memory and ranks stay small.
            self.items.clear()
            self.removed.clear()
            self.head = 0

    def rank(self, ticket: Ticket) -> int:
        """How many wait in this lane ahead of `ticket`."""
        pos = ticket.lane_pos
        head = self.head
        gone = bisect_left(self.removed, pos) - bisect_left(self.removed, head)
        return pos - head - gone

    def __len__(self) -> int:
        return self.alive


class AppointmentLane:
    """Checked-in appointments, ordered by slot; the head is due once its slot (less the hall's
    early margin) has come. Small by nature (a few per slot), so a sorted list is enough."""

    __slots__ = ("name", "items")

    def __init__(self):
        self.name = "appointment"
        self.items: list[tuple[float, int, Ticket]] = []

    def push(self, ticket: Ticket) -> None:
        ticket.lane = self
        insort(self.items, (ticket.due_at or 0.0, ticket.serial, ticket))

    def peek(self) -> Ticket | None:
        return self.items[0][2] if self.items else None

    def remove(self, ticket: Ticket) -> None:
        ticket.lane = None
        for i, item in enumerate(self.items):
            if item[2] is ticket:
                del self.items[i]
                return

    def rank(self, ticket: Ticket) -> int:
        for i, item in enumerate(self.items):
            if item[2] is ticket:
                return i
        return 0

    def __len__(self) -> int:
        return len(self.items)


class BusinessQueue:
    """One business's waiting tickets, in the lanes that decide who goes first."""

    __slots__ = ("code", "green", "transfer", "appointment", "normal", "waiting")

    def __init__(self, code: str):
        self.code = code
        self.green = Lane("green")
        self.transfer = Lane("transfer")
        self.appointment = AppointmentLane()
        self.normal = Lane("normal")
        self.waiting = 0  # all lanes, plus tickets of this business sent to one window

    def position(self, ticket: Ticket) -> int:
        """1-based place in this business's line (1 = next)."""
        lane = ticket.lane
        ahead = lane.rank(ticket)
        if lane is self.green:
            return ahead + 1
        ahead += len(self.green)
        if lane is self.transfer:
            return ahead + 1
        ahead += len(self.transfer)
        if lane is self.appointment:
            return ahead + 1
        return ahead + len(self.appointment) + 1
