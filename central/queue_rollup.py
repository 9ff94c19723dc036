"""The queue report's rollup, `queue_daily`: pure arithmetic (no database, no clock).

One row per hall, day, window, clerk, business and department (the ticket's key as the hall's
queue report groups it: its issue day, the window and clerk that last called it, its business, its
department code; '' where it has none), kept in the ingest transaction. A ticket contributes to
exactly one row; when a batch changes it (called, re-called elsewhere, transferred, finished), its
old contribution is taken out and the new one put in.

Counts and the service sum add up across rows. The waits do not (the report's p90 is the hall's
nearest-rank percentile, exact), so each row keeps its called tickets' waits, sorted (`waits`),
and a histogram of them over fixed edges (columns h0…h30: plain integer columns, which PostgreSQL
sums about twice as fast as the elements of an array). The report sums the histograms to find, per
group, the bin that holds the p90's rank, then reads only that bin's slice of each row's waits
(central/reports.py). The edges are part of the schema: migrations/0002_queue_daily.sql builds the
same bins (a test checks both agree).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from typing import Any

# Bin i holds the waits w with EDGES[i-1] <= w < EDGES[i] (bin 0 below 2 min, the last at 24 h and
# over). 2-minute bins up to half an hour, where halls' p90 waits mostly fall, so the bin a p90
# falls in holds few waits; each bin more costs the year's report ~1% more.
EDGES: tuple[int, ...] = (*range(120, 1801, 120), *range(2100, 3601, 300), *range(4500, 7201, 900),
                          10800, 14400, 21600, 43200, 86400)
BINS = len(EDGES) + 1
HIST = tuple(f"h{i}" for i in range(BINS))
COUNTS = ("issued", "done", "skipped", "cancelled", "left_over", "called")
KEY = ("day", "window", "clerk", "business", "dept")
OVER = ("over_yellow", "over_red")  # waits at or past the hall's lines (电子监察), with its lines now
COLUMNS = (*KEY, *COUNTS, "wait_sum", "service_sum", *OVER, *HIST, "waits")


def bin_of(wait: float) -> int:
    """0-based bin of a wait; the same as PostgreSQL's width_bucket(wait, EDGES)."""
    return bisect.bisect_right(EDGES, wait)


def contribution(t: dict[str, Any]) -> tuple[tuple, tuple[int, ...], float | None, float]:
    """(key, counts, wait or None, service) of one ticket (a row of `tickets`)."""
    status = t["status"]
    called = t["first_called_at"] is not None
    wait = t["first_called_at"] - t["issued_at"] if called else None
    done = status == "done"
    counts = (1, int(done), int(status == "skipped"), int(status == "cancelled"),
              int(status == "cancelled" and t["cancel_reason"] == "day_closed"), int(called))
    key = (str(t["day"]), t["window"] or "", t["clerk"] or "", t["business"], t["dept"] or "")
    return key, counts, wait, (t["service_s"] or 0.0) if done else 0.0


class Changes:
    """What a batch did to the rollup: per key, count deltas, waits in and out, service delta."""

    def __init__(self):
        self.rows: dict[tuple, list] = {}

    def _row(self, key: tuple) -> list:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = [[0] * len(COUNTS), [], [], 0.0]  # counts, waits added, waits removed, service
        return row

    def add(self, c: tuple, sign: int) -> None:
        key, counts, wait, service = c
        row = self._row(key)
        row[0] = [a + sign * b for a, b in zip(row[0], counts, strict=True)]
        if wait is not None:
            (row[1] if sign > 0 else row[2]).append(wait)
        row[3] += sign * service

    def ticket(self, before: tuple | None, after: tuple) -> None:
        if before == after:
            return
        if before is not None:
            self.add(before, -1)
        self.add(after, +1)


def changes(before: dict[str, tuple], tickets: dict[str, dict], dirty: Iterable[str]) -> Changes:
    """The rollup changes of a batch: `before` holds the contributions of the tickets as loaded."""
    out = Changes()
    for tid in dirty:
        out.ticket(before.get(tid), contribution(tickets[tid]))
    return out


def merged(stored: dict[str, Any] | None, key: tuple, change: list, lines: tuple[float, float]) -> dict[str, Any]:
    """The row after a change: counts added, waits inserted and removed (kept sorted); hist, the
    wait sum and the waits past the hall's `lines` (yellow, red) recomputed from the waits (no
    drift from adding and taking out)."""
    counts, added, removed, service = change
    if stored is None:
        row = dict(zip(KEY, key, strict=True)) | dict.fromkeys(COUNTS, 0) | {"service_sum": 0.0, "waits": []}
    else:
        row = dict(stored)
        row["waits"] = list(stored["waits"])
    for name, d in zip(COUNTS, counts, strict=True):
        row[name] += d
    row["service_sum"] += service
    waits = row["waits"]
    for w in added:
        bisect.insort(waits, w)
    for w in removed:
        i = bisect.bisect_left(waits, w)
        if i < len(waits) and waits[i] == w:
            del waits[i]
    hist = [0] * BINS
    for w in waits:
        hist[bin_of(w)] += 1
    row.update(zip(HIST, hist, strict=True))
    row["wait_sum"] = math.fsum(waits)
    for name, line in zip(OVER, lines, strict=True):
        row[name] = len(waits) - bisect.bisect_left(waits, line)
    return row


def rows_of(tickets: Iterable[dict], lines: tuple[float, float]) -> list[dict[str, Any]]:
    """Whole rollup rows of a set of tickets (the bulk loader's path: nothing stored yet)."""
    ch = Changes()
    for t in tickets:
        ch.add(contribution(t), +1)
    return [merged(None, k, v, lines) for k, v in ch.rows.items()]


def just_below(line: float) -> float:
    """For width_bucket(just_below(line), waits) = how many waits are < line."""
    return math.nextafter(float(line), -math.inf)


# ---- the report's side: where the p90 falls --------------------------------------------------------------


def p90_rank(called: int) -> int:
    """Nearest rank of the 90th percentile: ceil(0.9·n), as the hall's report."""
    return (9 * called + 9) // 10


def p90_bin(hist: list[int], called: int) -> tuple[int, int] | None:
    """(bin, rank within the bin) of the p90 wait of a group whose histograms sum to `hist`."""
    if called <= 0:
        return None
    k = p90_rank(called)
    below = 0
    for i, n in enumerate(hist):
        if below + n >= k:
            return i, k - below
        below += n
    return None


def bin_bounds(i: int) -> tuple[float, float]:
    """(lo, hi) such that the bin's waits in a sorted array are those w with lo < w <= hi, for
    width_bucket (which counts the elements <= its operand): just below each edge."""
    lo = -math.inf if i == 0 else just_below(EDGES[i - 1])
    hi = math.inf if i == len(EDGES) else just_below(EDGES[i])
    return lo, hi
