"""What simulated days came to, with the queues report's definitions (evaluator/reports.py):
a wait runs from issue to the first call, over tickets that were called; p90 is nearest-rank;
over_yellow/over_red count waits at or past the hall's lines; skip_rate (弃号率) = tickets left
skipped ÷ tickets issued. Counts and minutes are totals over the simulated days (the ETA error over the tickets whose ETA was read: all,
or every n-th with `eta_every`); saturation is busy
time ÷ open time (calling and serving ÷ idle, calling and serving; pauses are not open time).

JSON (the issue's keys, and more beside them):
{"days", "seed", "businesses": {code: {"tickets", "mean_wait_s", "p90_wait_s", "max_wait_s",
 "over_yellow", "over_red", "skip_rate", ...}}, "windows": {id: {"served", "saturation",
 "extended_minutes", ...}}, "eta_error": {"mean_s", "p90_s"}, ...}
"""

from __future__ import annotations

from typing import Any

from queued.simulate.day import DayResult
from queued.simulate.scenario import Scenario

SLOT_S = 900  # the chart's and the per-slot figures' bucket: a quarter of an hour


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile, as the queues report computes it."""
    if not values:
        return None
    s = sorted(values)
    return s[(9 * len(s) + 9) // 10 - 1]


def _r(x: float | None, places: int = 1) -> float | None:
    return None if x is None else round(x, places)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _waits(values: list[float], yellow: float, red: float) -> dict[str, Any]:
    return {
        "mean_wait_s": _r(_mean(values)),
        "p90_wait_s": _r(p90(values)),
        "max_wait_s": _r(max(values) if values else None),
        "over_yellow": sum(1 for w in values if w >= yellow),
        "over_red": sum(1 for w in values if w >= red),
    }


def summarize(scenario: Scenario, results: list[DayResult], seed: int) -> dict[str, Any]:
    hall = scenario.hall
    yellow, red = hall.warn_wait_s
    businesses: dict[str, Any] = {}
    all_waits: list[float] = []
    all_eta: list[float] = []
    window_open: dict[str, float] = {}
    window_busy_by: dict[str, dict[str, float]] = {}
    for b in hall.businesses:
        tallies = [r.businesses[b.code] for r in results]
        waits = [w for t in tallies for w in t.waits]
        eta = [x for t in tallies for x in t.eta_errors]
        issued = sum(t.issued for t in tallies)
        skipped = sum(t.skipped for t in tallies)
        if not issued and not any(t.refused for t in tallies):
            continue
        all_waits += waits
        all_eta += eta
        businesses[b.code] = {
            "name": b.name,
            "tickets": issued,
            **_waits(waits, yellow, red),
            "skip_rate": round(skipped / issued, 4) if issued else None,
            "served": sum(t.served for t in tallies),
            "skipped": skipped,
            "refused": sum(t.refused for t in tallies),
            "left_over": sum(t.left_over for t in tallies),
            "eta_error_mean_s": _r(_mean(eta)),
        }
    windows: dict[str, Any] = {}
    ids = list(dict.fromkeys(w.window for w in scenario.engine_windows))
    for wid in ids:
        tallies = [r.windows[wid] for r in results]
        open_s = sum(t.open_s for t in tallies)
        busy_s = sum(t.busy_s for t in tallies)
        waits = [w for t in tallies for w in t.waits]
        served = sum(t.served for t in tallies)
        called = len(waits)
        label = hall.window_index[wid].label if wid in hall.window_index else f"{wid}号窗口"
        windows[wid] = {
            "name": label,
            "served": served,
            "saturation": round(busy_s / open_s, 4) if open_s > 0 else None,
            "extended_minutes": round(sum(t.extended_s for t in tallies) / 60, 1),
            "no_shows": sum(t.no_shows for t in tallies),
            "skip_rate": round(sum(t.skipped for t in tallies) / called, 4) if called else None,
            **_waits(waits, yellow, red),
            "open_minutes": round(open_s / 60, 1),
            "busy_minutes": round(busy_s / 60, 1),
            "paused_minutes": round(sum(t.paused_s for t in tallies) / 60, 1),
        }
        window_open[wid] = open_s
        by: dict[str, float] = {}
        for t in tallies:
            for code, s in t.busy_by_business.items():
                by[code] = by.get(code, 0.0) + s
        window_busy_by[wid] = by
    for code, row in businesses.items():  # saturation of the windows as they served this business
        busy = sum(by.get(code, 0.0) for by in window_busy_by.values())
        weighted_open = sum(window_open[w] * by.get(code, 0.0) / sum(by.values())
                            for w, by in window_busy_by.items() if by.get(code))
        row["saturation"] = round(busy / weighted_open, 4) if weighted_open else None
    issued = sum(b["tickets"] for b in businesses.values())
    skipped = sum(b["skipped"] for b in businesses.values())
    return {
        "days": len(results),
        "seed": seed,
        "scenario": scenario.name,
        "businesses": businesses,
        "windows": windows,
        "eta_error": {"mean_s": _r(_mean(all_eta)), "p90_s": _r(p90(all_eta)), "tickets": len(all_eta)},
        "total": {
            "tickets": issued,
            **_waits(all_waits, yellow, red),
            "skip_rate": round(skipped / issued, 4) if issued else None,
            "refused": sum(b["refused"] for b in businesses.values()),
            "left_over": sum(b["left_over"] for b in businesses.values()),
            "extended_minutes": round(sum(w["extended_minutes"] for w in windows.values()), 1),
        },
        "lines_s": [yellow, red],
        "overran_days": sum(1 for r in results if r.overran),
        "assumed_service": scenario.assumed_service(),
    }


def day_metrics(scenario: Scenario, r: DayResult) -> dict[str, float | None]:
    """One day's figures, for comparisons day by day (what-if)."""
    yellow, red = scenario.hall.warn_wait_s
    out: dict[str, float | None] = {}
    all_waits, all_eta, issued, skipped = [], [], 0, 0
    for code, t in r.businesses.items():
        if not t.issued:
            continue
        all_waits += t.waits
        all_eta += t.eta_errors
        issued += t.issued
        skipped += t.skipped
        out[f"{code}.mean_wait_s"] = _mean(t.waits)
        out[f"{code}.p90_wait_s"] = p90(t.waits)
    out["mean_wait_s"] = _mean(all_waits)
    out["p90_wait_s"] = p90(all_waits)
    out["max_wait_s"] = max(all_waits) if all_waits else None
    out["over_yellow"] = sum(1 for w in all_waits if w >= yellow)
    out["over_red"] = sum(1 for w in all_waits if w >= red)
    out["skip_rate"] = skipped / issued if issued else None
    out["left_over"] = sum(t.left_over for t in r.businesses.values())
    out["extended_minutes"] = sum(t.extended_s for t in r.windows.values()) / 60
    out["eta_error_mean_s"] = _mean(all_eta)
    return out


def waits_by_slot(results: list[DayResult], slot_s: int = SLOT_S) -> dict[str, dict[int, list[float]]]:
    """Waits per business per slot of issue time (slot index = seconds after midnight ÷ slot_s)."""
    out: dict[str, dict[int, list[float]]] = {}
    for r in results:
        for code, t in r.businesses.items():
            slots = out.setdefault(code, {})
            for at, wait in zip(t.issued_at, t.waits, strict=True):
                slots.setdefault(int(at // slot_s), []).append(wait)
    return out
