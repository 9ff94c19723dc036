"""Counters of one bus, kept as plain attributes; the daemon maps them to Prometheus metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class BusStats:
    """Plain counters; the daemon maps them to Prometheus. Frame counts live in ``poller.decoder``."""

    polls_sent: int = 0
    commands_sent: int = 0
    broadcasts_sent: int = 0
    replies: int = 0
    missed_replies: int = 0
    stale_replies: int = 0  # a good frame with the wrong ADDR/SEQ (late, or nobody asked)
    naks: Counter = field(default_factory=Counter)  # by NAK code
    events: Counter = field(default_factory=Counter)  # processed, by type: key, rating, rate_timeout
    keys: Counter = field(default_factory=Counter)  # processed KEY events by topic name
    duplicate_events: int = 0  # resends of an event already processed (not delivered again)
    handler_errors: int = 0  # on_event raised: not acknowledged, the pad will resend
    commands_dropped: int = 0  # replaced, over the queue limit, or unanswered after max attempts
    commands_unknown: int = 0  # not sent: the pad answered that command NAK 2 before (old firmware)
    port_opens: int = 0
    port_failures: int = 0
    cycles: int = 0
    last_cycle_s: float | None = None  # time of the last complete round over all pads
