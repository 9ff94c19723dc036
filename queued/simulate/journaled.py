"""Simulated days into a real Journal, and back: the events the engine made are written as the
daemon writes them (group commit, projections), then each day is loaded and replayed into a fresh
engine, as the daemon does at start. What replay rebuilds must be what the simulation counted.

Only into a new file: simulated tickets must never mix with a hall's real ones.
"""

from __future__ import annotations

from pathlib import Path

from queued.core.calendar import HallCalendar
from queued.core.engine import Engine
from queued.journal.store import Journal
from queued.simulate.day import DayResult
from queued.simulate.errors import SimulateError
from queued.simulate.scenario import Scenario


async def write_journal(path: str, scenario: Scenario, results: list[DayResult]) -> int:
    """Write every simulated day's events into a new SQLite journal at `path`; returns the count."""
    if Path(path).exists():
        raise SimulateError(f"{path} exists: simulated events go only into a new file, never a hall's database")
    if any(r.events is None for r in results):
        raise SimulateError("these days were simulated without recording their events")
    journal = Journal(path, HallCalendar(scenario.timezone))
    await journal.open()
    n = 0
    try:
        for r in results:
            for i in range(0, len(r.events), 5000):
                chunk = r.events[i:i + 5000]
                await journal.append(chunk)
                n += len(chunk)
    finally:
        await journal.close()
    return n


async def replay_counts(path: str, scenario: Scenario, days: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """Per day, per business: issued, done, skipped, cancelled and called, from the journal replayed
    into a fresh engine day by day (as `queued serve` replays at start)."""
    journal = Journal(path, HallCalendar(scenario.timezone))
    await journal.open()
    out: dict[str, dict[str, dict[str, int]]] = {}
    try:
        for day in days:
            engine = Engine(scenario.engine_hall, HallCalendar(scenario.timezone))
            for ev in await journal.load_day(day):
                engine.apply(ev)
            counts: dict[str, dict[str, int]] = {}
            for t in engine.tickets.values():
                c = counts.setdefault(t.business, dict.fromkeys(("issued", "done", "skipped", "cancelled", "called"), 0))
                c["issued"] += 1
                if t.status in c:
                    c[t.status] += 1
                if t.first_called_at is not None:
                    c["called"] += 1
            out[day] = counts
    finally:
        await journal.close()
    return out


def simulated_counts(results: list[DayResult]) -> dict[str, dict[str, dict[str, int]]]:
    """The same counts as the simulation tallied them."""
    out = {}
    for r in results:
        out[r.day] = {code: {"issued": t.issued, "done": t.served, "skipped": t.skipped, "cancelled": t.left_over,
                             "called": len(t.waits)} for code, t in r.businesses.items() if t.issued}
    return out
