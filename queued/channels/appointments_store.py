"""The appointments projection: one row per booking, kept in the journal's transaction.

Whether a booking was checked in is not stored here: the ticket it became carries the booking id
(`tickets.appointment`), so a join tells, and the check-in stays one atomic event.
"""

from __future__ import annotations

from queued.channels.appointments import (
    NO_SHOW_WINDOW_DAYS,
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentNoShow,
    Booking,
)
from queued.channels.appointments_slots import add_days
from queued.journal import projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS appointments (
    id            TEXT PRIMARY KEY,
    day           TEXT NOT NULL,
    business      TEXT NOT NULL,
    start_minute  INTEGER NOT NULL,
    end_minute    INTEGER NOT NULL,
    openid        TEXT NOT NULL,
    code          TEXT NOT NULL,
    status        TEXT NOT NULL,
    booked_at     REAL NOT NULL,
    cancelled_at  REAL,
    cancel_reason TEXT,
    no_show_at    REAL
);
CREATE INDEX IF NOT EXISTS appointments_day ON appointments(day, business, start_minute);
CREATE INDEX IF NOT EXISTS appointments_openid ON appointments(openid, day);
CREATE INDEX IF NOT EXISTS tickets_appointment ON tickets(appointment);
"""


def _booked(ev: AppointmentBooked, day: str):
    yield (
        "INSERT OR IGNORE INTO appointments (id, day, business, start_minute, end_minute, openid, code, status,"
        " booked_at) VALUES (?,?,?,?,?,?,?,'booked',?)",
        (ev.booking, ev.day, ev.business, ev.start, ev.end, ev.openid, ev.code, ev.at),
    )


def _cancelled(ev: AppointmentCancelled, day: str):
    yield ("UPDATE appointments SET status='cancelled', cancelled_at=?, cancel_reason=? WHERE id=?",
           (ev.at, ev.reason, ev.booking))


def _no_show(ev: AppointmentNoShow, day: str):
    yield "UPDATE appointments SET status='no_show', no_show_at=? WHERE id=?", (ev.at, ev.booking)


projection.register_schema(SCHEMA)
projection.register("appointment_booked", _booked)
projection.register("appointment_cancelled", _cancelled)
projection.register("appointment_no_show", _no_show)


async def load_bookings(journal, today: str) -> list[Booking]:
    rows = await journal.fetchall(
        "SELECT a.*, (SELECT t.id FROM tickets t WHERE t.appointment = a.id LIMIT 1) AS ticket"
        " FROM appointments a WHERE a.day >= ? OR a.status = 'booked' OR (a.status = 'no_show' AND a.day >= ?)",
        (today, add_days(today, -NO_SHOW_WINDOW_DAYS)),
    )
    return [row_booking(r) for r in rows]


async def bookings_of_day(journal, day: str) -> list[Booking]:
    """Every booking of one day as the table has it (for staff lists of any day, past included)."""
    rows = await journal.fetchall(
        "SELECT a.*, (SELECT t.id FROM tickets t WHERE t.appointment = a.id LIMIT 1) AS ticket"
        " FROM appointments a WHERE a.day = ? ORDER BY a.start_minute, a.booked_at", (day,))
    return [row_booking(r) for r in rows]


def row_booking(r) -> Booking:
    status = r["status"]
    if status == "booked" and r["ticket"] is not None:
        status = "checked_in"
    return Booking(r["id"], r["business"], r["day"], r["start_minute"], r["end_minute"], r["openid"], r["code"],
                   r["booked_at"], status, r["ticket"])
