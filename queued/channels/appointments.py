"""分时段预约: the booking book, a pure component of the runtime.

Commands in, typed events out, like the engine: `execute(cmd, now)` decides synchronously in the
event loop (so two bookings of the last seat can never both pass), `apply(ev)` is the only mutator
and is idempotent, because `prepare()` loads the bookings from the projection table and replay
then applies today's events over them again.

A check-in is not an event of this book: it is the engine's `TicketIssued` carrying the booking
id (`appointment`) and the slot start (`due_at`), so the ticket and the check-in are one atomic
event. `check_in()` validates and returns that IssueTicket; the caller executes it right away,
with no await in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from queued.channels import ChannelError
from queued.channels.appointments_slots import (
    Slot,
    add_days,
    bookable_days,
    business_slots,
    hhmm,
)
from queued.core import commands as c
from queued.core import events as e
from queued.core.calendar import HallCalendar
from queued.core.hall import HallConfig
from queued.core.workdays import WorkCalendar

NO_SHOW_WINDOW_DAYS = 30  # no-shows older than this no longer count against the limit


# ---- errors ------------------------------------------------------------------------------------


class AppointmentError(ChannelError):
    code, status = "invalid_request", 422


class UnknownAppointment(AppointmentError):
    code, status = "unknown_appointment", 404


class UnknownBusinessForBooking(AppointmentError):
    code, status = "unknown_business", 404


class InvalidSlot(AppointmentError):
    code, status = "invalid_slot", 422


class SlotFull(AppointmentError):
    code, status = "slot_full", 409


class AlreadyBooked(AppointmentError):
    code, status = "already_booked", 409


class NoShowLimit(AppointmentError):
    code, status = "no_show_limit", 409


class TooLate(AppointmentError):
    code, status = "too_late", 409


class NotToday(AppointmentError):
    code, status = "not_today", 409


class BookingState(AppointmentError):
    code, status = "invalid_state", 409


class NotBookingHolder(AppointmentError):
    code, status = "forbidden", 403


class CodeTaken(AppointmentError):
    """The caller's random check-in code is already used that day: pick another and retry."""

    code, status = "conflict", 409


# ---- commands and events -----------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class BookAppointment:
    booking_id: str  # chosen by the caller (random): the holder's key
    code: str  # 6 digits the citizen types at the kiosk, chosen by the caller
    business: str
    day: str
    start: int  # minute of the day the slot starts
    openid: str


@dataclass(slots=True, frozen=True)
class CancelAppointment:
    booking_id: str
    openid: str | None = None
    staff: bool = False  # staff cancel any time; the holder only until the cancel deadline


@dataclass(slots=True, frozen=True)
class RecordNoShows:
    """Bookings of days up to `through` that were never checked in become no-shows."""

    through: str


@e.event("appointment_booked")
class AppointmentBooked(e.Event):
    at: float
    booking: str
    business: str
    day: str
    start: int
    end: int
    openid: str
    code: str


@e.event("appointment_cancelled")
class AppointmentCancelled(e.Event):
    at: float
    booking: str
    reason: str  # holder | admin


@e.event("appointment_no_show")
class AppointmentNoShow(e.Event):
    at: float
    booking: str
    day: str
    openid: str


# ---- the book ----------------------------------------------------------------------------------


class Booking:
    __slots__ = ("id", "business", "day", "start", "end", "openid", "code", "status", "ticket", "booked_at")

    def __init__(self, id: str, business: str, day: str, start: int, end: int, openid: str, code: str,
                 booked_at: float, status: str = "booked", ticket: str | None = None):
        self.id, self.business, self.day, self.start, self.end = id, business, day, start, end
        self.openid, self.code, self.booked_at = openid, code, booked_at
        self.status = status  # booked | checked_in | cancelled | no_show
        self.ticket = ticket

    @property
    def holds_seat(self) -> bool:
        return self.status != "cancelled"


class AppointmentBook:
    commands = (BookAppointment, CancelAppointment, RecordNoShows)

    def __init__(self, hall: HallConfig, calendar: HallCalendar, settings: dict,
                 workdays: WorkCalendar | None = None):
        self.hall = hall
        self.calendar = calendar
        self.workdays = workdays or WorkCalendar()
        self.slot_minutes = int(settings.get("slot_minutes", 30))
        self.capacity = int(settings.get("capacity", 4))
        self.days_ahead = int(settings.get("days_ahead", 5))
        self.cancel_before_s = float(settings.get("cancel_before_minutes", 60)) * 60
        self.no_show_limit = int(settings.get("no_show_limit", 3))
        self.slots = {b.code: business_slots(b, self.slot_minutes, hall.closes_minute) for b in hall.businesses}
        self.bookings: dict[str, Booking] = {}
        self.seats: dict[tuple[str, str, int], int] = {}  # (business, day, start) → seats taken
        self.holders: dict[tuple[str, str, str], str] = {}  # (openid, business, day) → booking id
        self.codes: dict[tuple[str, str], str] = {}  # (day, code) → booking id
        self.no_shows: dict[str, dict[str, str]] = {}  # openid → {booking id: day}
        self.by_openid: dict[str, set[str]] = {}  # openid → booking ids held here (keeps checks O(own))

    # ---- queries -------------------------------------------------------------------------------

    def booking(self, booking_id: str) -> Booking:
        b = self.bookings.get(booking_id)
        if b is None:
            raise UnknownAppointment(f"没有这个预约（no appointment {booking_id!r}）")
        return b

    def by_code(self, day: str, code: str) -> Booking:
        bid = self.codes.get((day, code.strip()))
        if bid is None:
            raise UnknownAppointment(f"今天没有预约码 {code.strip()} 的预约（no appointment with code {code!r} today）")
        return self.bookings[bid]

    def days(self, now: float) -> list[str]:
        return bookable_days(self.calendar.day(now), self.days_ahead, self.workdays)

    def slot_at(self, business: str, day: str, start: int) -> Slot | None:
        return next((s for s in self.slots.get(business, ()) if s.start == start), None)

    def no_show_count(self, openid: str, now: float) -> int:
        today = self.calendar.day(now)
        since = add_days(today, -NO_SHOW_WINDOW_DAYS)
        n = sum(1 for day in self.no_shows.get(openid, {}).values() if day >= since)
        # Bookings of past days not yet closed out will be no-shows: count them already.
        own = (self.bookings[bid] for bid in self.by_openid.get(openid, ()))
        n += sum(1 for b in own if b.status == "booked" and b.day < today)
        return n

    def slot_table(self, business: str, day: str, now: float) -> list[dict]:
        """Every slot of the day with the seats left and whether it can be booked now."""
        if business not in self.hall.business_index:
            raise UnknownBusinessForBooking(f"没有业务 {business!r}（unknown business {business!r}）")
        bookable = day in self.days(now)
        out = []
        for s in self.slots[business]:
            taken = self.seats.get((business, day, s.start), 0)
            starts_at = self.calendar.at(day, s.start)
            out.append({
                "start": hhmm(s.start), "end": hhmm(s.end), "starts_at": starts_at,
                "capacity": self.capacity, "booked": taken, "remaining": max(0, self.capacity - taken),
                "open": bookable and starts_at > now and taken < self.capacity,
            })
        return out

    def view(self, b: Booking) -> dict:
        starts_at = self.calendar.at(b.day, b.start)
        return {
            "id": b.id, "code": b.code, "business": b.business,
            "business_name": self.hall.business_index[b.business].name if b.business in self.hall.business_index
            else b.business,
            "day": b.day, "start": hhmm(b.start), "end": hhmm(b.end), "starts_at": starts_at,
            "ends_at": self.calendar.at(b.day, b.end), "cancel_before": starts_at - self.cancel_before_s,
            "status": b.status, "ticket": b.ticket, "openid": b.openid, "booked_at": b.booked_at,
        }

    def check_in(self, b: Booking, now: float, ticket_id: str, channel: str, openid: str | None,
                 staff: bool, rating_key: str | None = None) -> c.IssueTicket:
        """Validate a check-in and return the IssueTicket that performs it (execute it at once)."""
        if not staff and openid != b.openid:
            raise NotBookingHolder("只有预约人可以签到（only the holder may check in）")
        if b.status != "booked":
            text = {"checked_in": "已签到", "cancelled": "已取消", "no_show": "已失约"}[b.status]
            raise BookingState(f"该预约{text}，不能再签到（appointment is {b.status}）")
        today = self.calendar.day(now)
        if b.day != today:
            raise NotToday(f"预约日期是 {b.day}，请当天来签到（the appointment is for {b.day}）")
        if now >= self.calendar.at(b.day, b.end):
            raise TooLate(f"预约时段 {hhmm(b.start)}-{hhmm(b.end)} 已过，请取普通号（the slot is over）")
        return c.IssueTicket(b.business, ticket_id, channel, "normal", b.openid,
                             due_at=self.calendar.at(b.day, b.start), appointment=b.id, rating_key=rating_key)

    # ---- decisions -----------------------------------------------------------------------------

    def execute(self, cmd: object, now: float) -> list[e.Event]:
        if isinstance(cmd, BookAppointment):
            return self._book(cmd, now)
        if isinstance(cmd, CancelAppointment):
            return self._cancel(cmd, now)
        if isinstance(cmd, RecordNoShows):
            return self._no_shows(cmd, now)
        raise AppointmentError(f"unknown command {type(cmd).__name__}")

    def _book(self, cmd: BookAppointment, now: float) -> list[e.Event]:
        biz = self.hall.business_index.get(cmd.business)
        if biz is None:
            raise UnknownBusinessForBooking(f"没有业务 {cmd.business!r}（unknown business {cmd.business!r}）")
        if not cmd.openid:
            raise AppointmentError("预约需要微信身份 openid（an openid is required to book）")
        days = self.days(now)
        if cmd.day not in days:
            raise InvalidSlot(f"只能预约这些日期：{', '.join(days)}（bookable days: {', '.join(days)}）")
        slot = self.slot_at(cmd.business, cmd.day, cmd.start)
        if slot is None:
            offered = ", ".join(s.label for s in self.slots[cmd.business])
            raise InvalidSlot(f"{biz.name}没有 {hhmm(cmd.start)} 开始的时段，可选：{offered}（no such slot）")
        if self.calendar.at(cmd.day, slot.start) <= now:
            raise TooLate(f"{hhmm(slot.start)} 的时段已开始，请选择之后的时段（the slot has started）")
        if self.no_show_limit > 0 and self.no_show_count(cmd.openid, now) >= self.no_show_limit:
            raise NoShowLimit(f"您近{NO_SHOW_WINDOW_DAYS}天内已失约{self.no_show_limit}次，暂不能预约，"
                              f"请现场取号（{self.no_show_limit} no-shows in {NO_SHOW_WINDOW_DAYS} days）")
        held = self.holders.get((cmd.openid, cmd.business, cmd.day))
        if held is not None:
            h = self.bookings[held]
            raise AlreadyBooked(f"您已预约 {cmd.day} {hhmm(h.start)} 的{biz.name}，每天每项业务限约一次"
                                f"（already booked {hhmm(h.start)} that day）")
        if self.seats.get((cmd.business, cmd.day, slot.start), 0) >= self.capacity:
            raise SlotFull(f"{cmd.day} {slot.span} 已约满，请选择其他时段（slot full）")
        if cmd.booking_id in self.bookings:
            raise AppointmentError(f"booking id {cmd.booking_id!r} already used")
        if (cmd.day, cmd.code) in self.codes:
            raise CodeTaken("check-in code already used that day")
        ev = AppointmentBooked(now, cmd.booking_id, cmd.business, cmd.day, slot.start, slot.end, cmd.openid,
                               cmd.code)
        self.apply(ev)
        return [ev]

    def _cancel(self, cmd: CancelAppointment, now: float) -> list[e.Event]:
        b = self.booking(cmd.booking_id)
        if not cmd.staff and cmd.openid != b.openid:
            raise NotBookingHolder("只有预约人可以取消预约（only the holder may cancel）")
        if b.status != "booked":
            text = {"checked_in": "已签到", "cancelled": "已取消", "no_show": "已失约"}[b.status]
            raise BookingState(f"该预约{text}，不能取消（appointment is {b.status}）")
        deadline = self.calendar.at(b.day, b.start) - self.cancel_before_s
        if not cmd.staff and now > deadline:
            raise TooLate(f"须在时段开始前{int(self.cancel_before_s // 60)}分钟取消，已过取消截止时间"
                          f"（cancel deadline passed）")
        ev = AppointmentCancelled(now, b.id, "admin" if cmd.staff else "holder")
        self.apply(ev)
        return [ev]

    def _no_shows(self, cmd: RecordNoShows, now: float) -> list[e.Event]:
        through = min(cmd.through, self.calendar.day(now))  # never a day that has not happened
        out: list[e.Event] = []
        for b in sorted(self.bookings.values(), key=lambda b: (b.day, b.start, b.id)):
            if b.status == "booked" and b.day <= through:
                ev = AppointmentNoShow(now, b.id, b.day, b.openid)
                self.apply(ev)
                out.append(ev)
        return out

    # ---- apply: idempotent, because prepare() and replay may both bring a booking ---------------

    def apply(self, ev: e.Event) -> None:
        kind = type(ev)
        if kind is AppointmentBooked:
            if ev.booking not in self.bookings:
                self.add(Booking(ev.booking, ev.business, ev.day, ev.start, ev.end, ev.openid, ev.code, ev.at))
        elif kind is AppointmentCancelled:
            b = self.bookings.get(ev.booking)
            if b is not None and b.status != "cancelled":
                self._release(b)
                b.status = "cancelled"
        elif kind is AppointmentNoShow:
            self.no_shows.setdefault(ev.openid, {})[ev.booking] = ev.day
            b = self.bookings.get(ev.booking)
            if b is not None and b.status == "booked":
                b.status = "no_show"
        elif kind is e.TicketIssued and ev.appointment:
            b = self.bookings.get(ev.appointment)
            if b is not None and b.status == "booked":
                b.status = "checked_in"
                b.ticket = ev.ticket
        elif kind is e.DayStarted:
            self._forget_before(ev.day)

    def add(self, b: Booking) -> None:
        self.bookings[b.id] = b
        self.by_openid.setdefault(b.openid, set()).add(b.id)
        self.codes[(b.day, b.code)] = b.id
        if b.holds_seat:
            key = (b.business, b.day, b.start)
            self.seats[key] = self.seats.get(key, 0) + 1
            self.holders[(b.openid, b.business, b.day)] = b.id
        if b.status == "no_show":
            self.no_shows.setdefault(b.openid, {})[b.id] = b.day

    def _release(self, b: Booking) -> None:
        key = (b.business, b.day, b.start)
        self.seats[key] = self.seats.get(key, 1) - 1
        if self.holders.get((b.openid, b.business, b.day)) == b.id:
            del self.holders[(b.openid, b.business, b.day)]

    def _forget_before(self, day: str) -> None:
        """Settled bookings of past days are history (the table keeps them); unsettled ones stay."""
        for b in [b for b in self.bookings.values() if b.day < day and b.status != "booked"]:
            del self.bookings[b.id]
            own = self.by_openid.get(b.openid)
            if own is not None:
                own.discard(b.id)
                if not own:
                    del self.by_openid[b.openid]
            self.codes.pop((b.day, b.code), None)
            self.seats.pop((b.business, b.day, b.start), None)
            self.holders.pop((b.openid, b.business, b.day), None)

    async def prepare(self, journal, today: str) -> None:
        """Before replay: bookings of today and later, unsettled ones, and recent no-shows."""
        from queued.channels.appointments_store import load_bookings

        for b in await load_bookings(journal, today):
            if b.id not in self.bookings:
                self.add(b)
