"""Figures for the supervisor's dashboards and the public results page (结果全公开).

Read from the evaluator's `cases` table (schema: evaluator/schema.py). A rating removed by an
upheld appeal (`rating_exclusions`, evaluator/followup_store.py) counts as unrated here: the case
was served, its rating is out of the rates. Same definitions as the review report: rated = cases
with a level (citizen or 系统默认评价), good = levels 3–5, bad (差评) = 1–2, good_rate = good / rated.
"""

from __future__ import annotations

from datetime import date

from evaluator.reports import ReportError, parse_range

# Cases with the excluded ratings' levels blanked out.
_CASES = ("(SELECT c.day, c.window, c.clerk, c.business, c.reasons,"
          " CASE WHEN x.case_id IS NULL THEN c.level END AS level"
          " FROM cases c LEFT JOIN rating_exclusions x ON x.case_id = c.case_id"
          " WHERE c.day BETWEEN :from AND :to)")
_COUNTS = ("COUNT(*) AS served, COUNT(level) AS rated, SUM(level >= 3) AS good, SUM(level <= 2) AS bad,"
           " SUM(level = 5) AS l5, SUM(level = 4) AS l4, SUM(level = 3) AS l3, SUM(level = 2) AS l2,"
           " SUM(level = 1) AS l1")


# One parser of report ranges for the dashboards and the spec's reports: the same words for the same mistakes.
RangeError = ReportError
parse_days = parse_range


def _rows(rows) -> list[dict]:
    out = []
    for r in rows:
        d = {k: (r[k] if r[k] is not None else 0) for k in r.keys()}
        d["key"] = r["key"]
        d["good_rate"] = round(d["good"] / d["rated"], 4) if d["rated"] else None
        d["bad_rate"] = round(d["bad"] / d["rated"], 4) if d["rated"] else None
        out.append(d)
    return out


async def grouped(journal, day_from: str, day_to: str, by: str) -> list[dict]:
    """Rows per day, window, clerk, business or month (key), in key order."""
    key = {"day": "day", "window": "window", "clerk": "clerk", "business": "business",
           "month": "substr(day, 1, 7)", "all": "'all'"}[by]
    rows = await journal.fetchall(
        f"SELECT {key} AS key, {_COUNTS} FROM {_CASES} GROUP BY key ORDER BY key",
        {"from": day_from, "to": day_to})
    return _rows(rows)


def ranked(rows: list[dict], min_rated: int = 1) -> list[dict]:
    """Best first: good rate, then fewer 差评, then more ratings. Rows with too few ratings last."""
    rated = [r for r in rows if r["rated"] >= min_rated and r["key"] is not None]
    rest = [r for r in rows if r not in rated and r["key"] is not None]
    rated.sort(key=lambda r: (-r["good_rate"], r["bad"], -r["rated"], str(r["key"])))
    for i, r in enumerate(rated, 1):
        r["rank"] = i
    for r in rest:
        r["rank"] = None
    return rated + rest


async def bad_reasons(journal, day_from: str, day_to: str, reasons: tuple[str, ...]) -> list[dict]:
    """How many 差评 named each reason (a 差评 may name several), and those naming none."""
    cols = ", ".join(f"SUM((reasons & {1 << i}) != 0) AS r{i}" for i in range(len(reasons)))
    row = await journal.fetchone(
        f"SELECT COUNT(*) AS bad, SUM(reasons = 0) AS none, {cols} FROM {_CASES} WHERE level <= 2",
        {"from": day_from, "to": day_to})
    out = [{"reason": name, "count": (row[f"r{i}"] or 0) if row else 0} for i, name in enumerate(reasons)]
    out.append({"reason": "未选原因", "count": (row["none"] or 0) if row else 0})
    return out


def month_of(day: str, back: int = 0) -> str:
    d = date.fromisoformat(day)
    y, m = d.year, d.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return f"{y:04d}-{m:02d}"


async def monthly_windows(journal, last_month: str, months: int = 6, min_rated: int = 1) -> list[dict]:
    """结果全公开: each month's window ranking, and the windows last two months running.

    Returns one dict per month (newest first): {"month", "rows": ranked rows, "last": [window ids],
    "called_in": [windows last this month and the month before]}.
    """
    first = month_of(last_month + "-01", months - 1)
    y, m = map(int, last_month.split("-"))
    end = date(y + (m == 12), m % 12 + 1, 1).toordinal() - 1
    rows = await journal.fetchall(
        f"SELECT substr(day, 1, 7) AS month, window AS key, {_COUNTS} FROM {_CASES}"
        " GROUP BY month, key ORDER BY month, key",
        {"from": first + "-01", "to": date.fromordinal(end).isoformat()})
    by_month: dict[str, list] = {}
    for r in rows:
        by_month.setdefault(r["month"], []).append(r)
    out, last_before = [], set()
    for i in range(months - 1, -1, -1):  # oldest first, so "last month too" is known
        month = month_of(last_month + "-01", i)
        ranking = ranked(_rows(by_month.get(month, [])), min_rated)
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
