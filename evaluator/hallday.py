"""The hall's day in the reports (issue 12): 延时, pauses by reason, 留号, 挂起, saturation, and the
办不成事 ledger (问题台账).

Sources, all kept by the core's projections in the journal's transaction:
- tickets.extended_s: the part of each case served past `closes` (TicketFinished.extended_s);
- tickets.cancel_reason = 'day_closed': tickets closed out unserved (留号, `left_over`);
- tickets.status = 'parked': cases still 挂起 when their day ended (or now, for today);
- tickets.outcome / note: the outcome at 办结; `failed` rows are the ledger;
- window_days: each window's open time per day (spans from opened to closed; a span never closed
  ends at the window's last case event), window_pauses: paused seconds per window, clerk, reason.

Saturation (饱和度) = busy ÷ open: busy is the handling time of the cases finished (service_s, 挂起
time excluded), open is the window's open time less its pauses. Per window: its own; per day: all
windows; per business: the business's handling time ÷ the net open time of the windows configured
to serve it (a window serving several businesses lends its open time to each, so a business's
figure is the share of its windows' time it took). Per clerk there is no open time: None.
The small partial indexes below keep these queries to the few rows they count.
"""

from __future__ import annotations

from typing import Any

from queued.journal.projection import register_schema

HALLDAY_SCHEMA = """
CREATE INDEX IF NOT EXISTS tickets_failed ON tickets(day, finished_at) WHERE outcome = 'failed';
CREATE INDEX IF NOT EXISTS tickets_left_over ON tickets(day, window, clerk, business)
    WHERE cancel_reason = 'day_closed';
CREATE INDEX IF NOT EXISTS tickets_extended ON tickets(day, window, clerk, business, extended_s)
    WHERE extended_s > 0;
"""
register_schema(HALLDAY_SCHEMA)

FAILED_FIELDS = ("day", "finished_at", "number", "business", "business_name", "window", "window_label",
                 "clerk", "clerk_name", "case", "note")
FAILED_LABELS = {
    "day": "日期", "finished_at": "办结时间", "number": "号码", "business": "业务代码", "business_name": "业务",
    "window": "窗口号", "window_label": "窗口", "clerk": "工号", "clerk_name": "工作人员", "case": "办件序号",
    "note": "办不成原因",
}
DAY_LABELS = {
    "parked": "挂起未结", "left_over": "留号(未办)", "extended_minutes": "延时(分钟)",
    "paused_total_minutes": "暂停合计(分钟)", "busy_minutes": "办理时长(分钟)", "open_minutes": "开窗时长(分钟)",
    "saturation": "饱和度",
}
DAY_FIELDS = ("parked", "left_over", "extended_minutes", "paused_total_minutes", "busy_minutes", "open_minutes",
              "saturation")


def paused_fields(hall) -> list[str]:
    return [f"paused_{i}" for i in range(1, len(hall.pause_reasons) + 2)]


def paused_labels(hall) -> dict[str, str]:
    names = [*hall.pause_reasons, "未注明"]
    return {f"paused_{i}": f"暂停(分钟)：{r}" for i, r in enumerate(names, 1)}


def flat_paused(hall, row: dict[str, Any]) -> dict[str, Any]:
    """For CSV/XLSX: the `paused_minutes` object as one column per reason of `[hall] pause_reasons`."""
    names = [*hall.pause_reasons, ""]
    paused = row.get("paused_minutes") or {}
    out = {k: v for k, v in row.items() if k != "paused_minutes"}
    for i, r in enumerate(names, 1):
        out[f"paused_{i}"] = paused.get(r or "未注明", 0) if row.get("paused_minutes") is not None else None
    return out


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


async def window_open(journal, start: str, end: str) -> dict[tuple[str, str], float]:
    """(day, window) → seconds open (before pauses)."""
    rows = await journal.fetchall(
        "SELECT day, window, open_s + CASE WHEN open_since IS NOT NULL THEN MAX(0, last_at - open_since)"
        " ELSE 0 END AS open FROM window_days WHERE day BETWEEN ? AND ?", (start, end))
    return {(r["day"], r["window"]): r["open"] for r in rows}


async def pauses(journal, start: str, end: str) -> list:
    return await journal.fetchall(
        "SELECT day, window, clerk, reason, paused_s FROM window_pauses WHERE day BETWEEN ? AND ?", (start, end))


async def day_figures(journal, hall, start: str, end: str, group_by: str,
                      busy: dict[Any, float]) -> dict[Any, dict[str, Any]]:
    """key → the hall-day fields of a queues row. `busy`: key → handling seconds of finished cases."""
    out: dict[Any, dict[str, Any]] = {}

    def row(key) -> dict[str, Any]:
        return out.setdefault(key, {"parked": 0, "left_over": 0, "extended_minutes": 0.0})

    for r in await journal.fetchall(
            f"SELECT {group_by} AS key, COUNT(*) AS n FROM tickets INDEXED BY tickets_left_over"
            f" WHERE cancel_reason = 'day_closed' AND day BETWEEN ? AND ? GROUP BY {group_by}", (start, end)):
        row(r["key"])["left_over"] = r["n"]
    for r in await journal.fetchall(
            f"SELECT {group_by} AS key, SUM(extended_s) AS s FROM tickets INDEXED BY tickets_extended"
            f" WHERE extended_s > 0 AND day BETWEEN ? AND ? GROUP BY {group_by}", (start, end)):
        row(r["key"])["extended_minutes"] = _minutes(r["s"])

    opened = await window_open(journal, start, end)
    paused_rows = await pauses(journal, start, end)
    paused_by: dict[tuple[str, str], float] = {}
    for p in paused_rows:
        paused_by[(p["day"], p["window"])] = paused_by.get((p["day"], p["window"]), 0.0) + p["paused_s"]
    net = {k: max(0.0, v - paused_by.get(k, 0.0)) for k, v in opened.items()}

    if group_by in ("window", "clerk"):
        for p in paused_rows:
            key = p["window"] if group_by == "window" else (p["clerk"] or None)
            d = row(key).setdefault("paused_minutes", {})
            reason = p["reason"] or "未注明"
            d[reason] = d.get(reason, 0.0) + p["paused_s"]
    open_by: dict[Any, float] = {}
    if group_by == "window":
        for (_, w), s in net.items():
            open_by[w] = open_by.get(w, 0.0) + s
    elif group_by == "day":
        for (day, _), s in net.items():
            open_by[day] = open_by.get(day, 0.0) + s
    elif group_by == "business":
        for b in hall.businesses:
            serving = {w.id for w in hall.windows if b.code in w.businesses}
            open_by[b.code] = sum(s for (_, w), s in net.items() if w in serving)
    for key in set(open_by if group_by == "window" else ()) | set(busy):
        row(key)  # a window that opened and served nobody has a row (saturation 0); a business needs tickets
    for key, d in out.items():
        if group_by in ("window", "clerk"):
            d["paused_minutes"] = {r: _minutes(s) for r, s in sorted(d.get("paused_minutes", {}).items())}
            d["paused_total_minutes"] = round(sum(d["paused_minutes"].values()), 1)
        else:
            d["paused_minutes"] = None
            d["paused_total_minutes"] = None
        b = busy.get(key, 0.0)
        d["busy_minutes"] = _minutes(b)
        if group_by == "clerk":
            d["open_minutes"] = d["saturation"] = None
        else:
            o = open_by.get(key, 0.0)
            d["open_minutes"] = _minutes(o)
            d["saturation"] = round(min(b / o, 1.0), 4) if o > 0 else None
    return out


async def failed(journal, hall, start: str, end: str, iso) -> list[dict[str, Any]]:
    """办不成事 台账: one row per case finished `failed`, oldest first."""
    rows = await journal.fetchall(
        "SELECT day, finished_at, number, business, window, clerk, serial, note FROM tickets"
        " INDEXED BY tickets_failed WHERE outcome = 'failed' AND day BETWEEN ? AND ?"
        " ORDER BY day, finished_at", (start, end))
    out = []
    for r in rows:
        b = hall.business_index.get(r["business"])
        w = hall.window_index.get(r["window"])
        out.append({"day": r["day"], "finished_at": iso(r["finished_at"]), "number": r["number"],
                    "business": r["business"], "business_name": b.name if b else r["business"],
                    "window": r["window"], "window_label": w.label if w else f"{r['window']}号窗口",
                    "clerk": r["clerk"], "clerk_name": _clerk_name(hall, r["clerk"]),
                    "case": r["serial"], "note": r["note"] or ""})
    return out


def _clerk_name(hall, clerk: str | None) -> str | None:
    if clerk is None:
        return None
    c = hall.clerk_index.get(clerk)
    return c.name if c else clerk


def closing_forecast(rt, hall) -> dict[str, Any] | None:
    """The live view's warning before closing: from the engine's own call order played forward
    (the planner's forecast), the tickets waiting now whose case would end after `closes`, per
    business. None when the hall has no closing time or it has passed (延时服务 shows instead)."""
    eng, now = rt.engine, rt.clock()
    if hall.closes_minute is None:
        return None
    today = rt.calendar.day(now)
    closes = rt.calendar.at(today, hall.closes_minute)
    if now >= closes:
        return None
    late: dict[str, int] = {}
    last_end = None
    if eng.day == today:
        reached = set()
        for t, end, _ in eng.plans.forecast(now):
            reached.add(t.id)
            last_end = end if last_end is None else max(last_end, end)
            if end > closes:
                late[t.business] = late.get(t.business, 0) + 1
        for t in eng.tickets.values():  # waiting where no window can serve it today
            if t.status == "waiting" and t.id not in reached:
                late[t.business] = late.get(t.business, 0) + 1
    rows = [{"code": b.code, "name": b.name, "unserved": late[b.code]} for b in hall.businesses if late.get(b.code)]
    return {"closes": f"{hall.closes_minute // 60:02d}:{hall.closes_minute % 60:02d}", "warn": bool(rows),
            "unserved": sum(late.values()), "businesses": rows,
            "last_end": rt.iso(last_end) if last_end is not None else None}
