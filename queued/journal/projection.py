"""Projections: how each event updates the report tables, as (sql, params) statements.

Other packages (evaluator, the provincial push, the central shipper) register their own with
`register`, with their schema; several projectors may register for one kind, and they run in the
order they registered (the core's own first, since this module registers at import).
The `tickets(day, number)` unique index is the database's own guard against a number issued twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from queued.core import events as e

Statement = tuple[str, tuple[Any, ...]]
Projector = Callable[[Any, str], Iterable[Statement]]

PROJECTORS: dict[str, list[Projector]] = {}
SCHEMAS: list[str] = []
MIGRATIONS: list[Callable[[Any], None]] = []


def register(kind: str, projector: Projector) -> None:
    """Add `projector` for events of `kind` (once: registering the same function again is a no-op)."""
    chain = PROJECTORS.setdefault(kind, [])
    if projector not in chain:
        chain.append(projector)


def register_schema(ddl: str) -> None:
    if ddl not in SCHEMAS:
        SCHEMAS.append(ddl)


def register_migration(fn: Callable[[Any], None]) -> None:
    """`fn(conn)` (a sqlite3.Connection) runs when the journal opens, before the schemas: for what
    `CREATE ... IF NOT EXISTS` cannot do to a database made by an older version (new columns).
    It must be idempotent and do nothing on a new database (the schemas create the tables)."""
    if fn not in MIGRATIONS:
        MIGRATIONS.append(fn)


def _migrate_tickets(conn) -> None:
    """Databases made before the holder's rating key, outcomes and 延时 were kept: add their columns."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(tickets)")}
    if not have:
        return
    for name, decl in (("rating_key", "TEXT"), ("outcome", "TEXT"), ("note", "TEXT"),
                       ("extended_s", "REAL NOT NULL DEFAULT 0")):  # the hall's day (issue 12)
        if name not in have:
            conn.execute(f"ALTER TABLE tickets ADD COLUMN {name} {decl}")


register_migration(_migrate_tickets)


def _issued(ev: e.TicketIssued, day: str):
    yield (
        "INSERT INTO tickets (id, serial, day, number, business, channel, priority, openid, appointment,"
        " issued_at, status, rating_key) VALUES (?,?,?,?,?,?,?,?,?,?,'waiting',?)",
        (ev.ticket, ev.serial, day, ev.number, ev.business, ev.channel, ev.priority, ev.openid,
         ev.appointment, ev.at, ev.rating_key),
    )


def _called(ev: e.TicketCalled, day: str):
    yield (
        "UPDATE tickets SET status='called', called_at=?, first_called_at=COALESCE(first_called_at, ?),"
        " window=?, clerk=?, recalls=0 WHERE id=?",
        (ev.at, ev.at, ev.window, ev.clerk, ev.ticket),
    )


def _recalled(ev: e.TicketRecalled, day: str):
    yield "UPDATE tickets SET recalls=? WHERE id=?", (ev.count, ev.ticket)


def _skipped(ev: e.TicketSkipped, day: str):
    yield "UPDATE tickets SET status='skipped' WHERE id=?", (ev.ticket,)
    yield _LAST_AT, (ev.at, day, ev.window)


def _started(ev: e.ServiceStarted, day: str):
    yield "UPDATE tickets SET status='serving', started_at=? WHERE id=?", (ev.at, ev.ticket)


def _finished(ev: e.TicketFinished, day: str):
    yield (
        "UPDATE tickets SET status='done', started_at=?, finished_at=?, window=?, clerk=?, wait_s=?,"
        " service_s=?, outcome=?, note=?, extended_s=? WHERE id=?",
        (ev.started_at, ev.at, ev.window, ev.clerk, ev.wait_s, ev.service_s, ev.outcome, ev.note or None,
         ev.extended_s, ev.ticket),
    )
    yield _LAST_AT, (ev.at, day, ev.window)


_LAST_AT = "UPDATE window_days SET last_at=MAX(last_at, ?) WHERE day=? AND window=?"


def _parked(ev: e.TicketParked, day: str):
    yield "UPDATE tickets SET status='parked' WHERE id=?", (ev.ticket,)
    yield _LAST_AT, (ev.at, day, ev.window)


def _unparked(ev: e.TicketUnparked, day: str):
    yield "UPDATE tickets SET status='serving' WHERE id=?", (ev.ticket,)


def _window_opened(ev: e.WindowOpened, day: str):
    yield (
        "INSERT INTO window_days (day, window, open_since, last_at) VALUES (?,?,?,?) ON CONFLICT (day, window)"
        " DO UPDATE SET open_since=COALESCE(open_since, excluded.open_since), last_at=MAX(last_at, excluded.last_at)",
        (day, ev.window, ev.at, ev.at),
    )


def _paused_time(ev, day: str):
    if ev.paused_s > 0:
        yield (
            "INSERT INTO window_pauses (day, window, clerk, reason, paused_s) VALUES (?,?,?,?,?)"
            " ON CONFLICT (day, window, clerk, reason) DO UPDATE SET paused_s=paused_s+excluded.paused_s",
            (day, ev.window, ev.clerk or "", ev.reason or "", ev.paused_s),
        )


def _window_closed(ev: e.WindowClosed, day: str):
    yield (
        "UPDATE window_days SET open_s=open_s+MAX(0, ?-open_since), open_since=NULL, last_at=MAX(last_at, ?)"
        " WHERE day=? AND window=? AND open_since IS NOT NULL",
        (ev.at, ev.at, day, ev.window),
    )
    yield from _paused_time(ev, day)


def _transferred(ev: e.TicketTransferred, day: str):
    yield (
        "UPDATE tickets SET status='waiting', transfers=transfers+1, started_at=NULL,"
        " business=COALESCE(?, business) WHERE id=?",
        (ev.to_business, ev.ticket),
    )


def _case_bound(ev: e.CaseBound, day: str):
    # OR REPLACE: a 办件 bound on an earlier day to a ticket never finished (closed with its day) is
    # bound anew; the adapter refuses one bound today or finished (queued/web/api_cases.py).
    yield (
        "INSERT OR REPLACE INTO case_bindings (case_id, ticket, day, window, project_no, item_code, item_name, dept_code,"
        " applicant_name, applicant_id, applicant_phone, applicant_type, bound_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (ev.case, ev.ticket, day, ev.window, ev.project_no, ev.item_code, ev.item_name, ev.dept_code,
         ev.applicant_name, ev.applicant_id, ev.applicant_phone, ev.applicant_type, ev.at),
    )


def _cancelled(ev: e.TicketCancelled, day: str):
    yield "UPDATE tickets SET status='cancelled', cancel_reason=? WHERE id=?", (ev.reason, ev.ticket)


for _kind, _fn in (
    ("ticket_issued", _issued),
    ("ticket_called", _called),
    ("ticket_recalled", _recalled),
    ("ticket_skipped", _skipped),
    ("service_started", _started),
    ("ticket_finished", _finished),
    ("ticket_transferred", _transferred),
    ("ticket_cancelled", _cancelled),
    ("case_bound", _case_bound),
    ("ticket_parked", _parked),
    ("ticket_unparked", _unparked),
    ("window_opened", _window_opened),
    ("window_resumed", _paused_time),
    ("window_closed", _window_closed),
):
    register(_kind, _fn)
