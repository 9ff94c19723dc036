"""Typed events: the only way the hall's state changes.

The engine decides (commands → events) and then applies each event to itself; replay on start
applies the same events from the journal, so the state after replay is the live state by
construction. Every event type registers under a stable `kind`; other pure packages
(evaluator) register theirs the same way so one journal carries them all.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

EVENT_TYPES: dict[str, type[Event]] = {}


class Event:
    """Base of all events. Subclasses are slotted dataclasses with `at` (epoch seconds) first."""

    __slots__ = ()
    kind: ClassVar[str] = ""
    _fields: ClassVar[tuple[str, ...]] = ()
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}


def event(kind: str):
    """Class decorator: make a slotted dataclass event and register it under `kind`."""

    def wrap(cls):
        # Not frozen: frozen dataclasses build through object.__setattr__, twice as slow on the hot path.
        # Events are never mutated after they are made; treat them as values.
        dc = dataclass(slots=True)(cls)
        dc.kind = kind
        dc._fields = tuple(f.name for f in fields(dc))
        if kind in EVENT_TYPES:
            raise ValueError(f"event kind {kind!r} registered twice")
        EVENT_TYPES[kind] = dc
        return dc

    return wrap


# ---- tickets -------------------------------------------------------------------------------


@event("ticket_issued")
class TicketIssued(Event):
    at: float
    ticket: str  # public id (unguessable: it is the holder's key)
    serial: int  # hall-wide, never reused; also the case number a rating refers to
    number: str  # A001
    business: str
    channel: str  # kiosk | wechat | desk | appointment
    priority: str  # normal | green
    openid: str | None = None
    due_at: float | None = None  # booked slot start for an appointment check-in
    appointment: str | None = None  # booking id
    rating_key: str | None = None  # the holder's secret proof (QR code, WeChat page); never shown to staff


@event("ticket_called")
class TicketCalled(Event):
    at: float
    ticket: str
    window: str
    clerk: str | None = None
    special: bool = False  # 特呼: called out of turn by number


@event("ticket_recalled")
class TicketRecalled(Event):
    at: float
    ticket: str
    window: str
    count: int


@event("ticket_skipped")
class TicketSkipped(Event):
    at: float
    ticket: str
    window: str


@event("service_started")
class ServiceStarted(Event):
    at: float
    ticket: str
    window: str


@event("ticket_finished")
class TicketFinished(Event):
    """A served case. `case` (the ticket's serial) is what a rating refers to."""

    at: float
    ticket: str
    window: str
    clerk: str | None
    case: int
    business: str
    number: str
    started_at: float
    wait_s: float
    service_s: float  # without the time it spent parked (挂起)
    outcome: str = "done"  # done | accepted_pending | returned | consulted | failed (http-api.md, finish)
    note: str = ""
    extended_s: float = 0.0  # 延时: the part of the case served past `closes`


@event("ticket_transferred")
class TicketTransferred(Event):
    at: float
    ticket: str
    window: str
    to_business: str | None = None
    to_window: str | None = None
    place: str = "front"  # front | end | issued


@event("ticket_parked")
class TicketParked(Event):
    """挂起: the window's serving case is set aside (status parked), still the window's."""

    at: float
    ticket: str
    window: str
    clerk: str | None = None
    reason: str = ""


@event("ticket_unparked")
class TicketUnparked(Event):
    """回呼: a parked case is the window's current case again (serving)."""

    at: float
    ticket: str
    window: str
    clerk: str | None = None


@event("case_bound")
class CaseBound(Event):
    """A 办件 of the 一窗受理 system bound to the ticket a window is serving (一事一评: each is rated).

    `case` comes from the hall's serial counter (the one tickets are numbered from), so a case id
    never collides with a ticket's serial, which is the id of a ticket's implicit case. The applicant's
    data is kept for the 差评 call-back and the provincial push only (masked everywhere else)."""

    at: float
    case: int
    ticket: str
    window: str
    project_no: str  # 办件编号, unique
    item_code: str = ""  # 事项编码
    item_name: str = ""
    dept_code: str = ""  # 办事部门 (统一社会信用代码); empty: the business's or the hall's
    applicant_name: str = ""
    applicant_id: str = ""  # full ID / USCC number
    applicant_phone: str = ""
    applicant_type: str = "1"  # userProp: 1 个人/自然人, 2 法人, …


@event("ticket_cancelled")
class TicketCancelled(Event):
    at: float
    ticket: str
    reason: str  # holder | day_closed | admin


# ---- windows and clerks ----------------------------------------------------------------------


@event("window_opened")
class WindowOpened(Event):
    at: float
    window: str


@event("window_paused")
class WindowPaused(Event):
    at: float
    window: str
    reason: str | None = None  # one of [hall] pause_reasons


@event("window_resumed")
class WindowResumed(Event):
    at: float
    window: str
    paused_s: float = 0.0  # how long the pause that ends lasted, and its reason (reports)
    reason: str | None = None
    clerk: str | None = None


@event("window_closed")
class WindowClosed(Event):
    at: float
    window: str
    paused_s: float = 0.0  # closed from a pause: how long it lasted, and its reason (reports)
    reason: str | None = None
    clerk: str | None = None


@event("clerk_signed_in")
class ClerkSignedIn(Event):
    at: float
    window: str
    clerk: str


@event("clerk_signed_out")
class ClerkSignedOut(Event):
    at: float
    window: str
    clerk: str


# ---- the day ---------------------------------------------------------------------------------


@event("day_started")
class DayStarted(Event):
    at: float
    day: str


@event("day_closed")
class DayClosed(Event):
    """`hard_close` passed: what still waited was closed out (TicketCancelled day_closed before it, 留号)."""

    at: float
    day: str


__all__ = [
    "EVENT_TYPES",
    "Event",
    "event",
    "TicketIssued",
    "TicketCalled",
    "TicketRecalled",
    "TicketSkipped",
    "ServiceStarted",
    "TicketFinished",
    "TicketTransferred",
    "TicketCancelled",
    "CaseBound",
    "TicketParked",
    "TicketUnparked",
    "WindowOpened",
    "WindowPaused",
    "WindowResumed",
    "WindowClosed",
    "ClerkSignedIn",
    "ClerkSignedOut",
    "DayStarted",
    "DayClosed",
]
