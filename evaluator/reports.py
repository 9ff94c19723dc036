"""Report queries: reviews (好差评 figures from `cases`) and queues (from the core's `tickets`).

Everything is aggregated in SQL over covering indexes, so a year (a million cases) answers in well
under a second. Dates are hall days, both ends included.

Definitions (the report's fields):
- served: cases finished (办结) on those days; rated: cases with a level (citizen or 系统默认评价);
  defaulted: of which 系统默认评价; unrated = served − rated (timed out or never rated);
  good = levels 3–5, bad (差评) = levels 1–2; good_rate = good / rated, bad_rate = bad / rated
  (None when nothing was rated), rounded to 4 places; no_reason: 差评 with no reason given;
  reason_N: 差评 that name reason N of `[hall] reasons`; excluded: ratings removed by an upheld
  appeal (申诉成立), which count as unrated.
- issued: tickets issued; served: finished; skipped: last left skipped (过号); cancelled.
  Waits run from issue to the first call, over tickets that were called; p90 is the nearest-rank
  90th percentile (the value at rank ceil(0.9·n) of the sorted waits). Service: finished cases.
  Grouped by window or clerk, a ticket never called has key None.
- The hall's day (evaluator/hallday.py): parked (挂起, still parked), left_over (留号: closed out
  unserved), extended_minutes (延时: served past `closes`), paused_minutes (window and clerk rows:
  reason → minutes), busy/open minutes and saturation (busy ÷ open).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from evaluator import hallday
from queued.core.calendar import FIRST_DAY, LAST_DAY, day_in_range

GROUPS = ("clerk", "window", "business", "day")
# 好差评 also by department (部门): a case's own `dept_code` (from its 办件), else its business's
# `[[business]] dept_code`, else the hall's `department`. Tickets carry no department: queues only by GROUPS.
REVIEW_GROUPS = (*GROUPS, "dept")
LEVEL_FIELDS = (("very_satisfied", 5), ("satisfied", 4), ("basic_satisfied", 3), ("dissatisfied", 2),
                ("very_dissatisfied", 1))
REVIEW_FIELDS = ("key", "name", "served", "rated", "unrated", "defaulted", "good", "bad", "good_rate", "bad_rate",
                 *(f for f, _ in LEVEL_FIELDS), "no_reason", "excluded")
QUEUE_FIELDS = ("key", "name", "issued", "served", "skipped", "cancelled", "avg_wait_s", "p90_wait_s",
                "avg_service_s", "skip_rate", "over_yellow", "over_red", *hallday.DAY_FIELDS)
LABELS = {
    "key": "分组", "name": "名称", "served": "办件数", "rated": "评价数", "unrated": "未评价", "defaulted": "默认评价",
    "good": "好评", "bad": "差评", "good_rate": "好评率", "bad_rate": "差评率", "very_satisfied": "非常满意",
    "satisfied": "满意", "basic_satisfied": "基本满意", "dissatisfied": "不满意", "very_dissatisfied": "非常不满意",
    "no_reason": "差评未选原因", "excluded": "申诉撤销", "issued": "取号数", "skipped": "过号", "cancelled": "取消",
    "avg_wait_s": "平均等候(秒)", "p90_wait_s": "90%等候(秒)", "avg_service_s": "平均办理(秒)",
    "skip_rate": "过号率", "over_yellow": "等候超黄线", "over_red": "等候超红线", **hallday.DAY_LABELS,
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReportError(ValueError):
    """A bad report request (dates, group_by): the adapter turns it into a 422."""


def parse_range(start: str | None, end: str | None, today: str, max_days: int = 3700) -> tuple[str, str]:
    """`from`/`to` as hall days (YYYY-MM-DD); missing ends default to today."""
    out = []
    for name, value in (("from", start), ("to", end)):
        value = (value or today).strip()
        try:
            if not _DAY.match(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            raise ReportError(f"{name} 须为日期 YYYY-MM-DD（{name}={value!r} is not a date YYYY-MM-DD）") from None
        if not day_in_range(value):
            raise ReportError(f"{name} 须在 {FIRST_DAY} 至 {LAST_DAY} 之间（{name}={value} is out of range）")
        out.append(value)
    if out[0] > out[1]:
        raise ReportError(f"起始日期晚于结束日期（from {out[0]} is after to {out[1]}）")
    if date.fromisoformat(out[1]).toordinal() - date.fromisoformat(out[0]).toordinal() >= max_days:
        raise ReportError(f"日期范围过长，最多 {max_days} 天（range longer than {max_days} days）")
    return out[0], out[1]


def check_group(group_by: str | None, groups: tuple[str, ...] = GROUPS) -> str:
    group_by = group_by or "day"
    if group_by not in groups:
        raise ReportError(f"group_by 只能是 {'、'.join(groups)}（group_by must be one of {', '.join(groups)}）")
    return group_by


def reason_fields(reasons: tuple[str, ...]) -> list[str]:
    return [f"reason_{i}" for i in range(1, len(reasons) + 1)]


_REVIEW_INDEX = {g: f"cases_by_{g}" for g in REVIEW_GROUPS}
_QUEUE_INDEX = {g: f"tickets_by_{g}" for g in GROUPS}
_LEVEL_FIELD = {n: f for f, n in LEVEL_FIELDS}


class Departments:
    """Which department a case counts for: its own `dept_code`, else its business's, else the hall's."""

    def __init__(self, by_business: dict[str, str] | None = None, hall: str = ""):
        self.by_business = by_business or {}
        self.hall = hall

    def __call__(self, dept_code: str | None, business: str) -> str:
        return dept_code or self.by_business.get(business, "") or self.hall


def _key(group_by: str, prefix: str = "") -> str:
    """The SELECT and GROUP BY columns of a key: a department is resolved from two columns."""
    return f"{prefix}dept_code AS key, {prefix}business AS biz" if group_by == "dept" else f"{prefix}{group_by} AS key"


def _group(group_by: str) -> str:
    return "dept_code, business" if group_by == "dept" else group_by


def _resolve(r, group_by: str, depts: Departments | None):
    return (depts or Departments())(r["key"], r["biz"]) if group_by == "dept" else r["key"]


async def _review_counts(journal, group_by: str, start: str, end: str,
                         depts: Departments | None = None) -> dict[Any, dict[str, int]]:
    """Cases per key and level. The index is (key, level, …): the GROUP BY streams, one cheap step per case."""
    rows = await journal.fetchall(
        f"SELECT {_key(group_by)}, level, COUNT(*) AS n, SUM(state='defaulted') AS defaulted"
        f" FROM cases INDEXED BY {_REVIEW_INDEX[group_by]} WHERE day BETWEEN ? AND ?"
        f" GROUP BY {_group(group_by)}, level", (start, end))
    out: dict[Any, dict[str, int]] = {}
    for r in rows:
        d = out.setdefault(_resolve(r, group_by, depts), {"served": 0, "rated": 0, "defaulted": 0, "excluded": 0,
                                      **{f: 0 for f, _ in LEVEL_FIELDS}})
        d["served"] += r["n"]
        if r["level"] is not None:
            d["rated"] += r["n"]
            d[_LEVEL_FIELD[r["level"]]] += r["n"]
            d["defaulted"] += r["defaulted"] or 0
    # A rating removed by an upheld appeal (申诉成立) leaves the rates: the case counts as unrated.
    # Exclusions are few, so they are subtracted afterwards instead of slowing the year-long scan.
    for r in await _excluded(journal, group_by, start, end):
        d = out.get(_resolve(r, group_by, depts))
        if d is None:
            continue
        d["rated"] -= 1
        d[_LEVEL_FIELD[r["level"]]] -= 1
        d["defaulted"] -= 1 if r["defaulted"] else 0
        d["excluded"] += 1
    return out


async def _excluded(journal, group_by: str, start: str, end: str, bad_only: bool = False) -> list:
    """Rated cases whose rating an upheld appeal removed (the table exists once /admin is installed)."""
    exists = await journal.fetchone("SELECT 1 FROM sqlite_master WHERE type='table' AND name='rating_exclusions'")
    if exists is None:
        return []
    return await journal.fetchall(
        f"SELECT {_key(group_by, 'c.')}, c.level, c.reasons, c.state='defaulted' AS defaulted"
        f" FROM rating_exclusions x JOIN cases c ON c.case_id = x.case_id"
        f" WHERE c.day BETWEEN ? AND ? AND c.level IS NOT NULL{' AND c.level <= 2' if bad_only else ''}",
        (start, end))


async def _bad_reasons(journal, group_by: str, start: str, end: str, reasons: int,
                       depts: Departments | None = None) -> dict[Any, dict[str, int]]:
    """差评 per key: no reason given, and per reason. Only 差评 rows (a partial index) are read."""
    index = "" if group_by == "dept" else " INDEXED BY cases_bad"  # the partial index has no dept_code
    rows = await journal.fetchall(
        f"SELECT {_key(group_by)}, reasons, COUNT(*) AS n FROM cases{index}"
        f" WHERE day BETWEEN ? AND ? AND level <= 2 GROUP BY {_group(group_by)}, reasons", (start, end))
    out: dict[Any, dict[str, int]] = {}
    for r in rows:
        d = out.setdefault(_resolve(r, group_by, depts),
                           {"no_reason": 0, **{f"reason_{i + 1}": 0 for i in range(reasons)}})
        _count_reasons(d, r["reasons"], r["n"], reasons)
    for r in await _excluded(journal, group_by, start, end, bad_only=True):
        key = _resolve(r, group_by, depts)
        if key in out:
            _count_reasons(out[key], r["reasons"], -1, reasons)
    return out


def _count_reasons(d: dict[str, int], mask: int, n: int, reasons: int) -> None:
    if mask == 0:
        d["no_reason"] += n
    for i in range(reasons):
        if mask >> i & 1:
            d[f"reason_{i + 1}"] += n


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _sort_key(group_by: str, key: Any):
    # Windows "2" before "10"; None (no clerk signed in, never called) last.
    if key is None:
        return (2, 0, "")
    if group_by in ("window", "clerk") and str(key).isdigit():
        return (0, int(key), "")
    return (1, 0, str(key))


async def reviews(journal, hall, start: str, end: str, group_by: str,
                  depts: Departments | None = None) -> list[dict[str, Any]]:
    """One row per key: the 好差评 figures of the cases served from `start` to `end`. By "dept",
    `depts` resolves a case's department (a case with none anywhere has key "")."""
    counts = await _review_counts(journal, group_by, start, end, depts)
    bad = await _bad_reasons(journal, group_by, start, end, len(hall.reasons), depts)
    empty = {"no_reason": 0, **{f: 0 for f in reason_fields(hall.reasons)}}
    out = []
    for key, d in counts.items():
        good = d["very_satisfied"] + d["satisfied"] + d["basic_satisfied"]
        worse = d["dissatisfied"] + d["very_dissatisfied"]
        rated = d["rated"]
        levels = {f: d[f] for f, _ in LEVEL_FIELDS}
        out.append({"key": key, "name": key_name(hall, group_by, key), "served": d["served"], "rated": rated,
                    "unrated": d["served"] - rated, "defaulted": d["defaulted"], "good": good, "bad": worse,
                    "good_rate": _rate(good, rated), "bad_rate": _rate(worse, rated), **levels,
                    **bad.get(key, empty), "excluded": d["excluded"]})
    out.sort(key=lambda row: _sort_key(group_by, row["key"]))
    return out


def review_fields(hall) -> list[str]:
    return [*REVIEW_FIELDS, *reason_fields(hall.reasons)]


def review_labels(hall) -> dict[str, str]:
    return {**LABELS, **{f"reason_{i}": f"差评原因：{r}" for i, r in enumerate(hall.reasons, 1)}}


def key_name(hall, group_by: str, key: Any) -> str:
    if group_by == "clerk":
        if key is None:
            return "（未签到）"
        c = hall.clerk_index.get(key)
        return c.name if c else str(key)
    if group_by == "business":
        b = hall.business_index.get(key)
        return b.name if b else str(key)
    if group_by == "dept":
        return key or "（未设部门）"
    if group_by == "window":
        if key is None:
            return "（未呼叫）"
        w = hall.window_index.get(key)
        return w.label if w else f"{key}号窗口"
    return "" if key is None else str(key)


async def queues(journal, hall, start: str, end: str, group_by: str) -> list[dict[str, Any]]:
    """One row per key: issued, served, skipped, cancelled, average and p90 wait, average service,
    skip rate (弃号率), and waits past the yellow and red lines (电子监察)."""
    key, index = group_by, _QUEUE_INDEX[group_by]
    rows = await journal.fetchall(
        f"SELECT {key} AS key, status, COUNT(*) AS n, COUNT(first_called_at) AS called,"
        " SUM(first_called_at - issued_at) AS wait, SUM(service_s) AS service"
        f" FROM tickets INDEXED BY {index} WHERE day BETWEEN ? AND ? GROUP BY {key}, status", (start, end))
    acc: dict[Any, dict[str, float]] = {}
    for r in rows:
        d = acc.setdefault(r["key"], dict.fromkeys(("issued", "done", "skipped", "cancelled", "parked", "called",
                                                    "wait", "service"), 0))
        d["issued"] += r["n"]
        if r["status"] in ("done", "skipped", "cancelled", "parked"):
            d[r["status"]] += r["n"]
        d["called"] += r["called"]
        d["wait"] += r["wait"] or 0.0
        if r["status"] == "done":
            d["service"] += r["service"] or 0.0
    day = await hallday.day_figures(journal, hall, start, end, group_by, {k: d["service"] for k, d in acc.items()})
    for k in day:
        acc.setdefault(k, dict.fromkeys(("issued", "done", "skipped", "cancelled", "parked", "called", "wait",
                                         "service"), 0))
    out = []
    for k, d in acc.items():
        figures = day.get(k) or {}
        out.append({
            "key": k, "name": key_name(hall, group_by, k), "issued": d["issued"], "served": d["done"],
            "skipped": d["skipped"], "cancelled": d["cancelled"],
            "avg_wait_s": _round(d["wait"] / d["called"] if d["called"] else None),
            "p90_wait_s": _round(await _p90_wait(journal, key, k, d["called"], start, end)),
            "avg_service_s": _round(d["service"] / d["done"] if d["done"] else None),
            "skip_rate": _rate(d["skipped"], d["issued"]),
            **await _over_lines(journal, key, k, start, end, hall.warn_wait_s),
            **figures, "parked": d["parked"], "left_over": figures.get("left_over", 0),
        })
    out.sort(key=lambda row: _sort_key(group_by, row["key"]))
    return out


async def _p90_wait(journal, key: str, value, called: int, start: str, end: str) -> float | None:
    """Nearest-rank p90 of one group's waits: the (n−k+1)-th largest, k = ceil(0.9·n), found by
    walking the (key, wait) index from the top: about a tenth of the group, no sort."""
    if not called:
        return None
    k = (9 * called + 9) // 10  # ceil(0.9·n) in integers: no float rounding
    row = await journal.fetchone(
        f"SELECT first_called_at - issued_at AS w FROM tickets INDEXED BY tickets_wait_{key}"
        f" WHERE {key} IS ? AND day BETWEEN ? AND ? AND first_called_at IS NOT NULL"
        " ORDER BY first_called_at - issued_at DESC LIMIT 1 OFFSET ?", (value, start, end, called - k))
    return None if row is None else row["w"]


async def _over_lines(journal, key: str, value, start: str, end: str, lines: tuple[float, float]) -> dict:
    """电子监察: waits (issue → first call) past the hall's yellow and red lines. The (key, wait)
    index is entered at the yellow line, so only the late tickets are read, not the year."""
    yellow, red = lines
    row = await journal.fetchone(
        f"SELECT COUNT(*) AS y, SUM(first_called_at - issued_at >= ?) AS r FROM tickets"
        f" INDEXED BY tickets_wait_{key} WHERE {key} IS ? AND first_called_at - issued_at >= ?"
        " AND day BETWEEN ? AND ? AND first_called_at IS NOT NULL", (red, value, yellow, start, end))
    return {"over_yellow": row["y"], "over_red": row["r"] or 0}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile, as the SQL computes it (for callers and tests)."""
    if not values:
        return None
    s = sorted(values)
    return s[(9 * len(s) + 9) // 10 - 1]


QUEUE_LABELS = LABELS
