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


class SortedLane:
    """A small line kept in order of a key (a booked slot, a time in line): checked-in appointments,
    and transfers placed by their issue time. Small by nature, so a sorted list is enough; the head
    is `items[0]`."""

    __slots__ = ("name", "items", "key", "alive")

    def __init__(self, name: str, key):
        self.name = name
        self.key = key  # ticket → sort key (ties: the ticket's serial)
        self.items: list[tuple[float, int, Ticket]] = []
        self.alive = 0

    def push(self, ticket: Ticket) -> None:
        ticket.lane = self
        insort(self.items, (self.key(ticket), ticket.serial, ticket))
        self.alive += 1

    def peek(self) -> Ticket | None:
        return self.items[0][2] if self.items else None

    def remove(self, ticket: Ticket) -> None:
        ticket.lane = None
        for i, item in enumerate(self.items):
            if item[2] is ticket:
                del self.items[i]
                self.alive -= 1
                return

    def rank(self, ticket: Ticket) -> int:
        for i, item in enumerate(self.items):
            if item[2] is ticket:
                return i
        return 0

    def __len__(self) -> int:
        return len(self.items)


def by_due(t: Ticket) -> float:
    return t.due_at or 0.0


def by_queued(t: Ticket) -> float:
    return t.queued_at


class BusinessQueue:
    """One business's waiting tickets, in the lanes that decide who goes first."""

    __slots__ = ("code", "green", "transfer", "appointment", "normal", "placed", "waiting")

    def __init__(self, code: str):
        self.code = code
        self.green = Lane("green")
        self.transfer = Lane("transfer")  # transferred here, placed at the front
        self.appointment = SortedLane("appointment", by_due)  # due once its slot less the early margin comes
        self.normal = Lane("normal")  # in order of time in line (issue, or a transfer placed at the end)
        self.placed = SortedLane("placed", by_queued)  # transfers placed by their issue time
        self.waiting = 0  # all lanes, plus tickets of this business sent to one window
