"""The city's monthly rankings (结果全公开) and its 差评 follow-ups across halls.

Ranking as each hall ranks its windows (evaluator/review_stats.py: good rate, then fewer 差评, then
more ratings); across the city the windows of every hall are ranked together, and a window (or a
hall) last in a month and in the month before is "called in" (连续两月末位).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from central.reports import halls_index
from evaluator.review_stats import month_of, ranked

OVERDUE = "(f.state NOT IN ('closed', 'removed', 'appealed') AND f.due_at <= $1)"
FOLLOWUP_STATES = ("open", "called_back", "rectified", "closed", "appealed", "removed")
STATE_TEXT = {"open": "待回访", "called_back": "已回访", "rectified": "已整改", "closed": "已办结",
              "appealed": "申诉中", "removed": "申诉成立（已剔除）"}


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    y, m = map(int, month.split("-"))
    first = dt.date(y, m, 1)
    last = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
    return first, last


async def monthly(pool: asyncpg.Pool, last_month: str, by: str = "hall", months: int = 2,
                  min_rated: int = 1) -> list[dict[str, Any]]:
    """Newest month first: {"month", "rows" (ranked), "last": [keys], "called_in": [keys]}.
    by = hall (key = hall id) or window (key = "hall/window")."""
    first, _ = month_bounds(month_of(last_month + "-01", months - 1))
    _, end = month_bounds(last_month)
    group = "hall" if by == "hall" else 'hall, "window"'
    async with pool.acquire() as conn:
        halls = await halls_index(conn)
        rows = await conn.fetch(
            f"SELECT to_char(day, 'YYYY-MM') AS month, {group}, sum(served)::int AS served, sum(rated)::int AS rated,"
            " sum(l3 + l4 + l5)::int AS good, sum(l1 + l2)::int AS bad FROM review_daily"
            f" WHERE day BETWEEN $1 AND $2 GROUP BY month, {group}", first, end)
    by_month: dict[str, list[dict]] = {}
    for r in rows:
        hall = r["hall"]
        profile = halls.get(hall, {}).get("profile", {})
        if by == "hall":
            key, name = hall, halls.get(hall, {}).get("name", hall)
        else:
            key = f"{hall}/{r['window']}"
            name = f"{halls.get(hall, {}).get('name', hall)} {(profile.get('windows') or {}).get(r['window'], r['window'] + '号窗口')}"
        rated = r["rated"]
        by_month.setdefault(r["month"], []).append({
            "key": key, "hall": hall, "name": name, "served": r["served"], "rated": rated, "good": r["good"],
            "bad": r["bad"], "good_rate": round(r["good"] / rated, 4) if rated else None,
            "bad_rate": round(r["bad"] / rated, 4) if rated else None})
    out, last_before = [], set()
    for i in range(months - 1, -1, -1):  # oldest first, so "last the month before too" is known
        month = month_of(last_month + "-01", i)
        ranking = ranked(by_month.get(month, []), min_rated)
        eligible = [r for r in ranking if r["rank"] is not None]
        last = set()
        if len(eligible) > 1:
            worst = eligible[-1]
            last = {r["key"] for r in eligible if r["good_rate"] == worst["good_rate"] and r["bad"] == worst["bad"]}
        called_in = sorted(last & last_before)
        for r in ranking:
            r["last"] = r["key"] in last
            r["called_in"] = r["key"] in called_in
        out.append({"month": month, "rows": ranking, "last": sorted(last), "called_in": called_in})
        last_before = last
    out.reverse()
    return out


async def followups(pool: asyncpg.Pool, now: float, hall: str | None = None, state: str | None = None,
                    overdue: bool | None = None, day_from: str | None = None, day_to: str | None = None,
                    limit: int = 500) -> list[dict[str, Any]]:
    """差评 follow-ups of every hall, overdue ones first, then by due time."""
    where, params = ["true"], [now]
    if hall is not None:
        params.append(hall)
        where.append(f"f.hall = ${len(params)}")
    if state is not None:
        params.append(state)
        where.append(f"f.state = ${len(params)}")
    if day_from is not None:
        params.append(dt.date.fromisoformat(day_from))
        where.append(f"f.day >= ${len(params)}")
    if day_to is not None:
        params.append(dt.date.fromisoformat(day_to))
        where.append(f"f.day <= ${len(params)}")
    if overdue is not None:
        where.append(OVERDUE if overdue else f"NOT {OVERDUE}")
    params.append(limit)
    async with pool.acquire() as conn:
        halls = await halls_index(conn)
        rows = await conn.fetch(
            f"SELECT f.hall, f.case_id, f.ticket, f.day::text AS day, f.business, f.\"window\", f.clerk, f.leader,"
            f" f.level, f.reasons, f.comment, f.channel, f.named, f.deadline::text AS deadline, f.due_at, f.state,"
            f" f.attempts, f.contacted, f.called_back_at, f.rectified_at, f.closed_at, f.verdict, {OVERDUE} AS overdue"
            f" FROM followups f WHERE {' AND '.join(where)}"
            f" ORDER BY overdue DESC, f.due_at, f.hall, f.case_id LIMIT ${len(params)}", *params)
    out = []
    for r in rows:
        d = dict(r)
        info = halls.get(d["hall"], {"name": d["hall"], "profile": {}})
        d["hall_name"] = info["name"]
        d["case"] = d.pop("case_id")
        d["state_text"] = STATE_TEXT.get(d["state"], d["state"])
        reasons = info["profile"].get("reasons") or []
        d["reason_names"] = [reasons[i] if i < len(reasons) else f"原因{i + 1}" for i in range(16)
                             if d["reasons"] >> i & 1]
        d["window_name"] = (info["profile"].get("windows") or {}).get(d["window"], f"{d['window']}号窗口")
        out.append(d)
    return out


async def overdue_by_hall(pool: asyncpg.Pool, now: float) -> dict[str, int]:
    rows = await pool.fetch(f"SELECT f.hall, count(*)::int AS n FROM followups f WHERE {OVERDUE} GROUP BY f.hall", now)
    return {r["hall"]: r["n"] for r in rows}
