"""Demand from the hall's own history: the `tickets` table of its SQLite database.

Over the last N weeks (to yesterday): walk-in arrivals per business per half hour (the average over
the days the hall issued tickets), booked check-ins per slot (the slot the engine was given: the
`due_at` of their `ticket_issued` events), the green
channel's share, the no-show share (tickets left skipped ÷ tickets called) and a lognormal fit of
each business's case times (mean and variance of their logarithms; plain moments where SQLite has
no `ln`). Mis-keys are left out as the engine's own average leaves them out (under 10 s, over 3 h).
A ticket's time of day uses the hall's UTC offset (halls in China keep one all year).

The aggregation runs in SQL, so a year of tickets is a few grouped scans, not rows in Python, on a
read-only connection of its own (the command line, and /admin's worker process), never the
daemon's.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from queued.simulate.demand import Arrivals, Bookings, ClerkPolicy, Demand, ServiceTime
from queued.simulate.errors import HistoryError

SLOT_S = 1800
MIN_CASES = 5  # fewer measured cases than this: the hall's default case time is assumed


def date_range(today: str, weeks: int) -> tuple[str, str]:
    if not 1 <= weeks <= 104:
        raise HistoryError(f"weeks must be 1..104, not {weeks}")
    end = date.fromisoformat(today) - timedelta(days=1)
    return (end - timedelta(days=7 * weeks - 1)).isoformat(), end.isoformat()


def utc_offset_s(timezone: str, day: str) -> float:
    noon = datetime.fromisoformat(day).replace(hour=12, tzinfo=ZoneInfo(timezone))
    off = noon.utcoffset()
    return off.total_seconds() if off is not None else 0.0


def statements(start: str, end: str, offset_s: float, with_ln: bool = True) -> dict[str, tuple[str, tuple]]:
    local = f"((issued_at + {offset_s:.0f}) % 86400)"
    logs = ("SUM(ln(service_s)), SUM(ln(service_s) * ln(service_s))" if with_ln
            else "SUM(service_s), SUM(service_s * service_s)")
    return {
        "days": ("SELECT COUNT(DISTINCT day) FROM tickets WHERE day BETWEEN ? AND ?", (start, end)),
        "walk_ins": (f"SELECT business, CAST({local} / {SLOT_S} AS INTEGER) AS slot, COUNT(*) FROM tickets"
                     " WHERE day BETWEEN ? AND ? AND appointment IS NULL GROUP BY business, slot", (start, end)),
        "shares": ("SELECT business, COUNT(*), SUM(priority = 'green'), COUNT(first_called_at),"
                   " SUM(status = 'skipped') FROM tickets WHERE day BETWEEN ? AND ? GROUP BY business",
                   (start, end)),
        "cases": (f"SELECT business, COUNT(*), {logs} FROM tickets WHERE day BETWEEN ? AND ? AND status = 'done'"
                  " AND service_s BETWEEN 10 AND 10800 GROUP BY business", (start, end)),
        # booked check-ins by the slot the engine was given (the ticket_issued event's due_at)
        "bookings": (f"SELECT json_extract(data, '$.business') AS b, CAST(((json_extract(data, '$.due_at') +"
                     f" {offset_s:.0f}) % 86400) / 60 AS INTEGER) AS minute, COUNT(*),"
                     " AVG(json_extract(data, '$.due_at') - at) FROM events WHERE day BETWEEN ? AND ?"
                     " AND kind = 'ticket_issued' AND json_extract(data, '$.due_at') IS NOT NULL GROUP BY b, minute",
                     (start, end)),
    }


def build_demand(hall, results: dict[str, list], with_ln: bool, start: str, end: str) -> Demand:
    days = results["days"][0][0] if results["days"] else 0
    if not days:
        raise HistoryError(f"没有历史数据：{start} 至 {end} 没有取号记录（no tickets from {start} to {end}）")
    known = hall.business_index
    curves: dict[str, dict[int, float]] = {}
    for code, slot, n in results["walk_ins"]:
        if code in known and slot is not None:
            curves.setdefault(code, {})[int(slot)] = n / days * (3600 / SLOT_S)
    shares = {r[0]: r for r in results["shares"]}
    service: dict[str, ServiceTime] = {}
    for code, n, s1, s2 in results["cases"]:
        if code not in known or n < MIN_CASES:
            continue
        mean1, mean2 = s1 / n, s2 / n
        var = max(0.0, (mean2 - mean1 * mean1) * n / (n - 1))
        if with_ln:  # lognormal by the moments of the logarithms (its maximum-likelihood fit)
            mean, cv = math.exp(mean1 + var / 2), math.sqrt(math.expm1(var))
        else:
            mean, cv = mean1, math.sqrt(var) / mean1 if mean1 > 0 else 0.0
        service[code] = ServiceTime(round(mean, 1), "lognormal" if cv > 0 else "fixed", round(min(cv, 5.0), 3))
    arrivals = []
    for code in (b.code for b in hall.businesses):
        curve = curves.get(code)
        if not curve:
            continue
        issued, green, called, skipped = (shares[code][1:] if code in shares else (0, 0, 0, 0))
        pieces = tuple((slot * SLOT_S // 60, (slot + 1) * SLOT_S // 60, rate) for slot, rate in sorted(curve.items()))
        arrivals.append(Arrivals(code, pieces, round((skipped or 0) / called, 4) if called else 0.0,
                                 round((green or 0) / issued, 4) if issued else 0.0))
    bookings_by: dict[str, list[tuple[int, float]]] = {}
    leads: dict[str, list[float]] = {}
    for code, minute, n, lead in results.get("bookings", []):
        if code in known and minute is not None:
            bookings_by.setdefault(code, []).append((int(minute), n / days))
            leads.setdefault(code, []).append(max(0.0, (lead or 0.0) / 60))
    bookings = tuple(Bookings(code, tuple(sorted(slots)), (0.0, min(240.0, 2 * sum(leads[code]) / len(leads[code]))))
                     for code, slots in bookings_by.items())
    if not arrivals and not bookings:
        raise HistoryError(f"没有可用的历史取号：{start} 至 {end}（no tickets of the hall's businesses）")
    return Demand(tuple(arrivals), bookings, service, ClerkPolicy(walk_s=0.0), None, None,
                  f"历史记录 {start} 至 {end}（{days} 天）")


def load_history(database: str, hall, timezone: str, weeks: int, today: str) -> Demand:
    """The command line's reader: the database opened read-only (the daemon may be running)."""
    if not Path(database).exists():
        raise HistoryError(f"没有数据库文件 {database}（the hall's database does not exist）")
    start, end = date_range(today, weeks)
    offset = utc_offset_s(timezone, end)
    try:
        conn = sqlite3.connect(f"file:{Path(database).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open {database}: {exc}") from None
    try:
        with_ln = _has_ln(conn)
        results = {}
        for name, (sql, params) in statements(start, end, offset, with_ln).items():
            try:
                results[name] = conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                raise HistoryError(f"{database} is not a queued database ({exc})") from None
    finally:
        conn.close()
    return build_demand(hall, results, with_ln, start, end)


def _has_ln(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT ln(2.0)")
        return True
    except sqlite3.OperationalError:
        return False
