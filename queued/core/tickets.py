"""Tickets and windows as mutable in-memory records (only the engine's apply step mutates them)."""

from __future__ import annotations

from typing import Any


class Ticket:
    __slots__ = (
        "id", "serial", "number", "business", "channel", "priority", "openid", "issued_at",
        "due_at", "appointment", "status", "window", "clerk", "called_at", "first_called_at",
        "started_at", "finished_at", "recalls", "lane", "lane_pos", "cancel_reason", "transfers",
        "to_window",
    )  # fmt: skip

    def __init__(self, id: str, serial: int, number: str, business: str, channel: str, priority: str,
                 openid: str | None, issued_at: float, due_at: float | None, appointment: str | None):
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
