"""City reports: the hall API's review and queue reports over every hall, with a hall dimension.

Rows have the hall report's fields (evaluator/reports.py: same names, same definitions) plus `hall`
and `hall_name`. Grouping:
- `day`, `dept`: one row per day / department code across the halls (or one hall with `hall=ID`);
- `hall`: one row per hall;
- `window`, `clerk`, `business`: one row per hall and key (window 3 of two halls are two windows;
  business codes are each hall's own).
`dept` filters to one department code (cases whose 办件 carried it; '' never matches).

Reviews read the rollup `review_daily` kept at ingest (a year of 100 halls is about a million
rollup rows, not seven million cases); queues read the rollup `queue_daily` (its waits kept per row
for the exact p90: central/queue_rollup.py) and `window_time` (paused and extended minutes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from central import queue_rollup
from evaluator.reports import LABELS, LEVEL_FIELDS, QUEUE_FIELDS, REVIEW_FIELDS, ReportError, parse_range

GROUPS = ("day", "hall", "dept", "window", "clerk", "business")
PER_HALL = ("window", "clerk", "business")
CITY_REVIEW_FIELDS = ("hall", "hall_name", *REVIEW_FIELDS)
CITY_QUEUE_FIELDS = ("hall", "hall_name", *QUEUE_FIELDS, "left_over", "extended_minutes", "paused_minutes")
CITY_LABELS = {**LABELS, "hall": "大厅编号", "hall_name": "大厅", "left_over": "留号", "extended_minutes": "延时(分钟)",
               "paused_minutes": "暂停(分钟)", "dept": "部门"}
_KEY = {"day": "day::text", "hall": "hall", "dept": "dept", "window": '"window"', "clerk": "clerk", "business": "business"}

__all__ = ["GROUPS", "ReportError", "parse_range", "check_group", "reviews", "queues", "halls_index"]


def check_group(group_by: str | None) -> str:
    group_by = group_by or "day"
    if group_by not in GROUPS:
        raise ReportError(f"group_by 只能是 {'、'.join(GROUPS)}（group_by must be one of {', '.join(GROUPS)}）")
    return group_by


async def halls_index(conn) -> dict[str, dict[str, Any]]:
    """id → {"name", "profile"} of every registered hall."""
    rows = await conn.fetch("SELECT id, name, profile FROM halls ORDER BY id")
    out = {}
    for r in rows:
        profile = r["profile"]
        if isinstance(profile, str):
            import json
            profile = json.loads(profile)
        out[r["id"]] = {"name": r["name"] or r["id"], "profile": profile or {}}
    return out


def _filters(start: str, end: str, hall: str | None, dept: str | None, prefix: str = "") -> tuple[str, list]:
    where, params = [f"{prefix}day BETWEEN $1 AND $2"], [dt.date.fromisoformat(start), dt.date.fromisoformat(end)]
    if hall is not None:
        params.append(hall)
        where.append(f"{prefix}hall = ${len(params)}")
    if dept is not None:
        params.append(dept)
        where.append(f"{prefix}dept = ${len(params)}")
    return " AND ".join(where), params


def _group_cols(group_by: str) -> list[str]:
    return ["hall", _KEY[group_by]] if group_by in PER_HALL else [_KEY[group_by]]


def key_name(halls: dict, group_by: str, hall: str | None, key: Any) -> str:
    """As the hall's report names its keys, with the hall's own names from its profile."""
    if group_by == "hall":
        return halls.get(key, {}).get("name", str(key))
    profile = halls.get(hall, {}).get("profile", {}) if hall else {}
    if group_by == "clerk":
        return "（未签到）" if key is None else (profile.get("clerks") or {}).get(key, str(key))
    if group_by == "window":
        return "（未呼叫）" if key is None else (profile.get("windows") or {}).get(key, f"{key}号窗口")
    if group_by == "business":
        return (profile.get("businesses") or {}).get(key, str(key))
    if group_by == "dept":
        return "（未标部门）" if key is None else str(key)
    return "" if key is None else str(key)


def _sort(group_by: str, row: dict) -> tuple:
    key = row["key"]
    hall = row.get("hall") or ""
    if key is None:
        return (hall, 2, 0, "")
    if group_by in ("window", "clerk") and str(key).isdigit():
        return (hall, 0, int(key), "")
    return (hall, 1, 0, str(key))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


# ---- reviews -------------------------------------------------------------------------------------


async def reviews(pool: asyncpg.Pool, start: str, end: str, group_by: str, hall: str | None = None,
                  dept: str | None = None) -> tuple[list[dict[str, Any]], list[str], dict[str, str]]:
    """(rows, fields, labels). Reasons are the union of the halls' reason texts (reason_1 … in
    the order the halls list them), since each hall may have its own list."""
    where, params = _filters(start, end, hall, dept)
    cols = _group_cols(group_by)
    sel = ", ".join(f"{c} AS k{i}" for i, c in enumerate(cols))
    grp = ", ".join(f"k{i}" for i in range(len(cols)))
    async with pool.acquire() as conn:
        halls = await halls_index(conn)
        rows = await conn.fetch(
            f"SELECT {sel}, sum(served)::int AS served, sum(rated)::int AS rated, sum(defaulted)::int AS defaulted,"
            " sum(excluded)::int AS excluded, sum(l1)::int AS l1, sum(l2)::int AS l2, sum(l3)::int AS l3,"
            f" sum(l4)::int AS l4, sum(l5)::int AS l5 FROM review_daily WHERE {where} GROUP BY {grp}", *params)
        reason_rows = await conn.fetch(
            f"SELECT {sel}, reason, sum(n)::int AS n FROM review_reasons WHERE {where} GROUP BY {grp}, reason", *params)
    reasons = city_reasons(halls)
    index = {r: i for i, r in enumerate(reasons, 1)}
    bad: dict[tuple, dict[str, int]] = {}
    for r in reason_rows:
        k = tuple(_unblank(group_by, r[f"k{i}"], i, len(cols)) for i in range(len(cols)))
        d = bad.setdefault(k, {"no_reason": 0})
        if r["reason"] == "":
            d["no_reason"] += r["n"]
        elif r["reason"] in index:
            f = f"reason_{index[r['reason']]}"
            d[f] = d.get(f, 0) + r["n"]
    out = []
    reason_fields = [f"reason_{i}" for i in range(1, len(reasons) + 1)]
    for r in rows:
        k = tuple(_unblank(group_by, r[f"k{i}"], i, len(cols)) for i in range(len(cols)))
        if r["served"] == 0 and r["rated"] == 0 and r["excluded"] == 0:
            continue  # a bucket every case moved out of
        row_hall, key = (k[0], k[1]) if len(k) == 2 else ((k[0] if group_by == "hall" else hall), k[0])
        levels = {f: r[f"l{n}"] for f, n in LEVEL_FIELDS}
        good = levels["very_satisfied"] + levels["satisfied"] + levels["basic_satisfied"]
        worse = levels["dissatisfied"] + levels["very_dissatisfied"]
        extra = bad.get(k, {})
        out.append({"hall": row_hall, "hall_name": halls.get(row_hall, {}).get("name") if row_hall else None,
                    "key": key, "name": key_name(halls, group_by, row_hall, key), "served": r["served"],
                    "rated": r["rated"], "unrated": r["served"] - r["rated"], "defaulted": r["defaulted"],
                    "good": good, "bad": worse, "good_rate": _rate(good, r["rated"]),
                    "bad_rate": _rate(worse, r["rated"]), **levels, "no_reason": extra.get("no_reason", 0),
                    "excluded": r["excluded"], **{f: extra.get(f, 0) for f in reason_fields}})
    out.sort(key=lambda row: _sort(group_by, row))
    labels = {**CITY_LABELS, **{f"reason_{i}": f"差评原因：{r}" for r, i in index.items()}}
    return out, [*CITY_REVIEW_FIELDS, *reason_fields], labels


def city_reasons(halls: dict) -> list[str]:
    seen: list[str] = []
    for h in halls.values():
        for r in h["profile"].get("reasons") or []:
            if isinstance(r, str) and r not in seen:
                seen.append(r)
    return seen


def _unblank(group_by: str, value: Any, i: int, n: int) -> Any:
    """The rollup keeps '' for "no clerk" and "no department" (keys cannot be NULL): back to None."""
    is_key = i == n - 1
    if is_key and group_by in ("clerk", "dept") and value == "":
        return None
    return value


# ---- queues --------------------------------------------------------------------------------------


async def queues(pool: asyncpg.Pool, start: str, end: str, group_by: str, hall: str | None = None,
                 dept: str | None = None) -> list[dict[str, Any]]:
    """From the rollup `queue_daily` (central/queue_rollup.py), in two reads of it: the sums (counts,
    waits past the halls' lines, the wait histogram per group), then per group only the bin of the
    waits its p90 falls in, whose value at the rank within the bin is the exact nearest-rank p90."""
    where, params = _filters(start, end, hall, dept, prefix="q.")
    cols = _group_cols(group_by)
    sel = ", ".join(f"q.{c} AS k{i}" for i, c in enumerate(cols))
    grp = ", ".join(f"k{i}" for i in range(len(cols)))
    bins = ", ".join(f"sum(q.{h})::int AS {h}" for h in queue_rollup.HIST)
    async with pool.acquire() as conn:
        halls = await halls_index(conn)
        rows = await conn.fetch(
            f"""SELECT {sel}, sum(q.issued)::int AS issued, sum(q.done)::int AS done, sum(q.skipped)::int AS skipped,
                   sum(q.cancelled)::int AS cancelled, sum(q.left_over)::int AS left_over, sum(q.called)::int AS called,
                   sum(q.wait_sum) AS wait, sum(q.service_sum) AS service, sum(q.over_yellow)::int AS over_yellow,
                   sum(q.over_red)::int AS over_red, {bins}
               FROM queue_daily q WHERE {where} GROUP BY {grp}""", *params)
        rows = [r for r in rows if r["issued"] > 0]  # buckets every ticket moved out of
        p90 = await _p90(conn, where, params, cols, rows)
        times = await _window_time(conn, group_by, start, end, hall) if group_by in ("window", "hall") else {}
    out = []
    for r in rows:
        k = tuple(_unblank(group_by, r[f"k{i}"], i, len(cols)) for i in range(len(cols)))
        row_hall, key = (k[0], k[1]) if len(k) == 2 else ((k[0] if group_by == "hall" else hall), k[0])
        if group_by == "window" and key == "":
            key = None  # never called
        row = {
            "hall": row_hall, "hall_name": halls.get(row_hall, {}).get("name") if row_hall else None,
            "key": key, "name": key_name(halls, group_by, row_hall, key), "issued": r["issued"], "served": r["done"],
            "skipped": r["skipped"], "cancelled": r["cancelled"],
            "avg_wait_s": _round(r["wait"] / r["called"] if r["called"] else None),
            "p90_wait_s": _round(p90.get(tuple(r[f"k{i}"] for i in range(len(cols))))),
            "avg_service_s": _round(r["service"] / r["done"] if r["done"] else None),
            "skip_rate": _rate(r["skipped"], r["issued"]), "over_yellow": r["over_yellow"],
            "over_red": r["over_red"], "left_over": r["left_over"]}
        if group_by in ("window", "hall"):
            t = times.get(k, {})
            row["extended_minutes"] = round(t.get("extended", 0.0) / 60, 1)
            row["paused_minutes"] = {reason: round(s / 60, 1) for reason, s in sorted(t.items())
                                     if reason != "extended"}
        out.append(row)
    out.sort(key=lambda row: _sort(group_by, row))
    return out


async def _p90(conn, where: str, params: list, cols: list[str], rows) -> dict[tuple, float]:
    """Each group's p90: its rows' slices of `waits` in the bin the p90 falls in (found from the
    summed histograms), sorted, and the value at the rank within that bin."""
    targets = []
    for r in rows:
        hist = [r[h] for h in queue_rollup.HIST]
        found = queue_rollup.p90_bin(hist, r["called"])
        if found is not None:
            targets.append((*(r[f"k{i}"] for i in range(len(cols))), *queue_rollup.bin_bounds(found[0]), found[1],
                            found[0]))
    if not targets:
        return {}
    n = len(params)
    width = len(cols)
    # No join: the planner, with no statistics for the groups, hashed the whole rollup or sorted it
    # on disk for a merge join (1-3 s at 1,000 windows). Each row finds its group by a binary search
    # (width_bucket) of the groups' keys as a sorted array of fixed width: the day itself, or a
    # 64-bit hash of the key's columns (joined by U+001F; ids are printable), PostgreSQL's own
    # hashtextextended, checked here to be distinct over the groups (else another seed), so a row's
    # group is never mistaken: every row in range belongs to one of the groups.
    if cols == ["day::text"]:
        expr, typ, seed = "q.day", "date", None
        keyed = sorted((dt.date.fromisoformat(t[0]), t) for t in targets)
    else:
        text = " || chr(31) || ".join(f"q.{c}" for c in cols)
        texts = ["\x1f".join(str(x) for x in t[:width]) for t in targets]
        for seed in range(8):
            hashes = await conn.fetchval("SELECT array_agg(hashtextextended(k, $2) ORDER BY i)"
                                         " FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i)", texts, seed)
            if len(set(hashes)) == len(hashes):
                break
        else:  # pragma: no cover - eight 64-bit collisions in a row
            raise RuntimeError("no distinct hashes for the report's groups")
        expr, typ = f"hashtextextended({text}, {seed})", "int8"
        keyed = sorted(zip(hashes, targets, strict=True))
    k, lo, hi = f"${n + 1}::{typ}[]", f"(${n + 2}::float8[])[y.gid]", f"(${n + 3}::float8[])[y.gid]"
    # Only rows with waits in their group's bin are sliced and unnested (a few in ten); the bin's
    # count column says so, out of the few bins the groups' p90s fall in.
    bins = sorted({t[width + 3] for t in targets})
    hist = ", ".join(f"q.{queue_rollup.HIST[b]}" for b in bins)
    any_bin = " OR ".join(f"q.{queue_rollup.HIST[b]} > 0" for b in bins)  # before its group is looked up
    # OFFSET 0 keeps the slicing in the parallel workers (flattened, the whole waits arrays went
    # through the Gather and were sliced by the leader alone: twice the time).
    in_bin = (f"CASE (${n + 4}::int[])[y.gid] " + " ".join(f"WHEN {b} THEN y.{queue_rollup.HIST[b]}" for b in bins)
              + " END > 0")
    found = await conn.fetch(
        f"""SELECT x.gid, array_agg(w) AS waits
           FROM (SELECT y.gid, y.waits[width_bucket({lo}, y.waits) + 1 : width_bucket({hi}, y.waits)] AS slice
                 FROM (SELECT width_bucket({expr}, {k}) AS gid, {expr} AS key, q.waits, {hist} FROM queue_daily q
                       WHERE {where} AND ({any_bin})) AS y
                 WHERE y.gid > 0 AND y.key = ({k})[y.gid] AND {in_bin} OFFSET 0) AS x
           CROSS JOIN LATERAL unnest(x.slice) AS w
           GROUP BY x.gid""",
        *params, [g[0] for g in keyed], [g[1][width] for g in keyed], [g[1][width + 1] for g in keyed],
        [g[1][width + 3] for g in keyed])
    out = {}
    for r in found:
        t = keyed[r["gid"] - 1][1]
        out[t[:width]] = sorted(r["waits"])[t[width + 2] - 1]
    return out


async def _window_time(conn, group_by: str, start: str, end: str, hall: str | None) -> dict[tuple, dict[str, float]]:
    where, params = _filters(start, end, hall, None)
    cols = ["hall", '"window"'] if group_by == "window" else ["hall"]
    sel = ", ".join(cols)
    rows = await conn.fetch(f"SELECT {sel}, kind, sum(seconds) AS s FROM window_time WHERE {where}"
                            f" GROUP BY {sel}, kind", *params)
    out: dict[tuple, dict[str, float]] = {}
    for r in rows:
        k = (r["hall"], r["window"]) if group_by == "window" else (r["hall"],)
        kind = r["kind"]
        name = "extended" if kind == "extended" else (kind.partition(":")[2] or "未注明")
        d = out.setdefault(k, {})
        d[name] = d.get(name, 0.0) + r["s"]
    return out
