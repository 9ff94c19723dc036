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
        "to_window", "rating_key",
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


class WindowState:
    __slots__ = ("id", "businesses", "state", "current", "clerk", "directed", "since", "served")

    def __init__(self, id: str, businesses: tuple[str, ...], directed):
        self.id = id
        self.businesses = businesses
        self.state = "closed"  # closed | idle | calling | serving | paused
        self.current: Ticket | None = None
        self.clerk: str | None = None
        self.directed = directed  # Lane of tickets transferred to this window
        self.since = 0.0
        self.served = 0  # cases finished today
