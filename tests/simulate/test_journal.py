"""One engine: the simulated days' events, written into a real Journal (as the daemon writes them:
group commit, projections) and replayed day by day into a fresh engine (as `queued serve` does at
start), give back exactly what the simulation counted; and the queues report the hall's supervisors
read, run over that journal, shows the simulator's own figures."""

from __future__ import annotations

import pytest

import evaluator.schema  # noqa: F401  (the report's indexes, as the daemon registers them)
from evaluator import reports
from queued.core.calendar import HallCalendar
from queued.journal.store import Journal
from queued.simulate.errors import SimulateError
from queued.simulate.journaled import replay_counts, simulated_counts, write_journal
from queued.simulate.run import run_days
from queued.simulate.summary import summarize
from tests.simulate.helpers import example

DAYS = 3


@pytest.fixture(scope="module")
def simulated():
    sc = example()
    return sc, run_days(sc, DAYS, 11, record_events=True)


async def test_replay_equals_simulation(tmp_path, simulated):
    sc, results = simulated
    path = str(tmp_path / "sim.sqlite3")
    written = await write_journal(path, sc, results)
    assert written == sum(len(r.events) for r in results) > 6_000
    replayed = await replay_counts(path, sc, [r.day for r in results])
    counted = simulated_counts(results)
    assert replayed == counted
    # the counts are not trivially empty: every kind of ending happened
    total = {k: sum(c[k] for day in counted.values() for c in day.values()) for k in ("issued", "done", "skipped")}
    assert total["issued"] > 2000 and total["done"] > 1900 and total["skipped"] > 20


async def test_queues_report_over_the_journal_shows_the_simulated_figures(tmp_path, simulated):
    sc, results = simulated
    path = str(tmp_path / "sim.sqlite3")
    await write_journal(path, sc, results)
    summary = summarize(sc, results, 11)
    journal = Journal(path, HallCalendar(sc.timezone))
    await journal.open()
    try:
        rows = await reports.queues(journal, sc.hall, results[0].day, results[-1].day, "business")
    finally:
        await journal.close()
    assert {r["key"] for r in rows} == set(summary["businesses"])
    for row in rows:
        sim = summary["businesses"][row["key"]]
        assert row["issued"] == sim["tickets"]
        assert row["served"] == sim["served"]
        assert row["skipped"] == sim["skipped"]
        assert row["cancelled"] == sim["left_over"] == 0
        assert row["avg_wait_s"] == pytest.approx(sim["mean_wait_s"], abs=0.051)
        assert row["p90_wait_s"] == pytest.approx(sim["p90_wait_s"], abs=0.051)
        assert row["over_yellow"] == sim["over_yellow"]
        assert row["over_red"] == sim["over_red"]
        assert row["skip_rate"] == sim["skip_rate"]


async def test_never_into_an_existing_database(tmp_path, simulated):
    sc, results = simulated
    hall_db = tmp_path / "hall.sqlite3"
    hall_db.write_bytes(b"")
    with pytest.raises(SimulateError, match="new file"):
        await write_journal(str(hall_db), sc, results)
    assert hall_db.read_bytes() == b""
