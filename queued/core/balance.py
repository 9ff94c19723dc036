"""The balancing rule: whom a window calls next, looking only at lane heads.

One function for the engine's call-next and for the planner that predicts positions, so the
positions citizens are told come from the very rule that calls them. It reads lanes through
`alive` (how many wait there) and `peek()` (the head): the engine passes its real lanes, the
planner cursors over them. One pass over the window's businesses: O(businesses of the window),
whatever the number waiting.

Order: a ticket past the hall's max wait (the longest in line; a booked appointment whose slot has
started counts as if it had been in line the max wait at its slot time, so under overload it goes
after the walk-ins already overdue at its slot and before the rest: bounded, never starved), then
tickets a colleague sent to
this very window to be next, green channel (longest in line), transfers placed at the front, booked
appointments whose slot has come, then the window's preference order (merged by time in line with
transfers placed by issue time, and with transfers sent to this window to wait their turn); early
appointments rather than idling.
"""

from __future__ import annotations

from typing import Any


def choose(businesses: tuple[str, ...], queues: dict[str, Any], directed: Any, later: Any,
           limit: float, due: float, max_wait: float = 0.0) -> Any:
    """The ticket to call, or None. `limit`: in line since before this is overdue (now − max wait);
    `due`: an appointment whose slot starts before this is due (now + the early margin);
    `max_wait`: the hall's max wait, which places a late appointment among the overdue."""
    overdue = green = transfer = appt = normal = early = None
    late = late_key = None  # the appointment longest past its slot, and its place among the overdue
    for code in businesses:
        q = queues[code]
        if not q.waiting:
            continue
        if q.green.alive:
            t = q.green.peek()
            if green is None or t.queued_at < green.queued_at:
                green = t
            if t.queued_at <= limit and (overdue is None or t.queued_at < overdue.queued_at):
                overdue = t
        if q.transfer.alive:
            t = q.transfer.peek()
            if transfer is None:
                transfer = t
            if t.queued_at <= limit and (overdue is None or t.queued_at < overdue.queued_at):
                overdue = t
        t = q.normal.peek() if q.normal.alive else None
        if q.placed.alive:
            p = q.placed.peek()
            if t is None or p.queued_at < t.queued_at:
                t = p
        if t is not None:
            if normal is None:
                normal = t
            if t.queued_at <= limit and (overdue is None or t.queued_at < overdue.queued_at):
                overdue = t
        if q.appointment.alive:
            t = q.appointment.peek()
            slot = t.due_at or 0.0
            if slot <= due:
                if appt is None or slot < (appt.due_at or 0.0):
                    appt = t
                key = slot - max_wait
                if key <= limit and (late_key is None or key < late_key):
                    late, late_key = t, key
            elif early is None:
                early = t
    if later.alive:
        t = later.peek()
        if t.queued_at <= limit and (overdue is None or t.queued_at < overdue.queued_at):
            overdue = t
        if normal is None or t.queued_at < normal.queued_at:
            normal = t
    if late is not None and overdue is not None and late_key < overdue.queued_at:
        return late  # its slot came before the overdue walk-in's wait passed the limit
    if overdue is not None:  # nobody waits past the limit while this window could serve them
        return overdue
    if directed.alive:
        return directed.peek()
    return green or transfer or appt or normal or early
