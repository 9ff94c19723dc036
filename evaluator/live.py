"""The live hall's figures for today, read from the engine's in-memory day (no journal read): what
a supervisor watches (issued, served, average wait and service, 弃号率, saturation) and the tickets
waiting now, with their ids, for the supervisor's actions.

Definitions (the same as the queue report's, evaluator/reports.py, for the day so far):
- wait: issue → first call, over the tickets called at least once;
- service: start (or call) → 办结, less the time parked (挂起), over the finished cases;
- 弃号率: tickets still skipped (过号, never called back) ÷ tickets issued;
- saturation now: windows calling or serving ÷ windows open (not 未开窗); a paused window is open
  and not busy. The hall-day report's saturation is the same ratio over minutes.
Read every few seconds by /admin (O(tickets today)); never on the hot path.
"""

from __future__ import annotations

from typing import Any

BUSY = ("calling", "serving")
WAITING_SHOWN = 60


def today_figures(engine, now: float) -> dict[str, Any]:
    issued = served = skipped = cancelled = 0
    waits: list[float] = []
    services: list[float] = []
    for t in engine.tickets.values():
        issued += 1
        if t.first_called_at is not None:
            waits.append(max(0.0, t.first_called_at - t.issued_at))
        if t.status == "done":
            served += 1
            if t.finished_at is not None:
                began = t.started_at if t.started_at is not None else t.called_at
                if began is not None:
                    services.append(max(0.0, t.finished_at - began - (t.parked_s or 0.0)))
        elif t.status == "skipped":
            skipped += 1
        elif t.status == "cancelled":
            cancelled += 1
    states = [w.state for w in engine.windows.values()]
    open_ = sum(1 for s in states if s != "closed")
    busy = sum(1 for s in states if s in BUSY)
    return {
        "issued": issued, "served": served, "skipped": skipped, "cancelled": cancelled,
        "avg_wait_s": round(sum(waits) / len(waits)) if waits else None,
        "avg_service_s": round(sum(services) / len(services)) if services else None,
        "abandon_rate": round(skipped / issued, 4) if issued else None,
        "windows_open": open_, "windows_busy": busy,
        "saturation": round(busy / open_, 4) if open_ else None,
    }


def waiting_list(engine, now: float, business_names: dict[str, str], limit: int = WAITING_SHOWN) -> list[dict]:
    """The longest-waiting tickets first, with their ids (the actions name a ticket by id)."""
    waiting = [t for t in engine.tickets.values() if t.status == "waiting"]
    waiting.sort(key=lambda t: t.issued_at)
    return [{"id": t.id, "number": t.number, "business": t.business,
             "business_name": business_names.get(t.business, t.business), "priority": t.priority,
             "waited_s": round(max(0.0, now - t.issued_at)), "to_window": t.to_window}
            for t in waiting[:limit]]
