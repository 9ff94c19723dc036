"""Tickets and windows as mutable in-memory records (only the engine's apply step mutates them)."""

from __future__ import annotations

import hmac
from typing import Any


def holder_proof(ticket_key: str | None, ticket_openid: str | None, key: str | None,
                 openid: str | None) -> str | None:
    """How a request proved it holds a ticket: "key" (the ticket's rating key, from its QR code),
    "session" (a verified WeChat session of the ticket's openid), or None (it did not).
    The key is compared in constant time: it is a secret, the openid is not."""
    if key and ticket_key and hmac.compare_digest(key.encode(), ticket_key.encode()):
        return "key"
    if openid and ticket_openid and openid == ticket_openid:
        return "session"
    return None


class Ticket:
    __slots__ = (
        "id", "serial", "number", "business", "channel", "priority", "openid", "issued_at",
        "due_at", "appointment", "status", "window", "clerk", "called_at", "first_called_at",
        "started_at", "finished_at", "recalls", "lane", "lane_pos", "cancel_reason", "transfers",
        "to_window", "rating_key", "queued_at", "parked_at", "parked_s", "outcome",
    )  # fmt: skip

    def __init__(self, id: str, serial: int, number: str, business: str, channel: str, priority: str,
                 openid: str | None, issued_at: float, due_at: float | None, appointment: str | None,
                 rating_key: str | None = None):
        self.id = id
        self.serial = serial
        self.number = number
        self.business = business
        self.channel = channel
        self.priority = priority
        self.openid = openid
        self.issued_at = issued_at
        self.due_at = due_at
        self.appointment = appointment
        self.status = "waiting"
        self.window: str | None = None
        self.clerk: str | None = None
        self.called_at: float | None = None
        self.first_called_at: float | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.recalls = 0
        self.lane: Any = None
        self.lane_pos = 0
        self.cancel_reason: str | None = None
        self.transfers = 0
        self.to_window: str | None = None  # sent to one window by a transfer
        self.rating_key = rating_key  # the holder's proof; never part of a view
        # Time in line: the issue time, or the transfer's time for one sent to the back (place "end").
        # Lanes are in this order and the max-wait rule counts from it.
        self.queued_at = issued_at
        self.parked_at: float | None = None  # 挂起 since
        self.parked_s = 0.0  # time spent parked, left out of the service time
        self.outcome: str | None = None  # how the case ended at 办结 (done, failed, …)


class WindowState:
    __slots__ = ("id", "index", "businesses", "state", "current", "clerk", "directed", "later", "since", "served",
                 "parked", "pause_reason", "open_s", "open_since", "busy_s")

    def __init__(self, id: str, index: int, businesses: tuple[str, ...], directed, later):
        self.id = id
        self.index = index  # place in the hall's window list: who acts first at the same instant
        self.businesses = businesses
        self.state = "closed"  # closed | idle | calling | serving | paused
        self.current: Ticket | None = None
        self.clerk: str | None = None
        self.directed = directed  # Lane of tickets transferred to this window, to be called next
        self.later = later  # SortedLane of tickets transferred here to wait by time in line (end | issued)
        self.since = 0.0
        self.served = 0  # cases finished today
        self.parked: dict[str, Ticket] = {}  # 挂起 cases of this window, oldest first
        self.pause_reason: str | None = None
        # Today's saturation (busy ÷ open): open seconds while idle, calling or serving (not paused),
        # and handling seconds of the cases finished here, per business.
        self.open_s = 0.0
        self.open_since: float | None = None
        self.busy_s: dict[str, float] = {}
