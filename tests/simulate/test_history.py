"""Demand from the hall's own database: simulate days, journal them as the daemon would, and fit
the demand back from the `tickets` table; it must be the demand that made them."""

from __future__ import annotations

import pytest

from queued.simulate.errors import HistoryError
from queued.simulate.history import load_history
from queued.simulate.journaled import write_journal
from queued.simulate.run import run_days
from queued.simulate.scenario import Scenario
from tests.simulate.helpers import example

DAYS = 10  # 2026-03-02 .. 2026-03-13, the two weeks before Monday 2026-03-16


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    import asyncio

    sc = example()
    db = tmp_path_factory.mktemp("hist") / "hall.sqlite3"
    asyncio.run(write_journal(str(db), sc, run_days(sc, DAYS, 21, record_events=True)))
    return sc, str(db)


def test_the_fit_finds_the_demand(history):
    sc, db = history
    d = load_history(db, sc.hall, sc.timezone, 2, "2026-03-16")
    assert d.source == "历史记录 2026-03-02 至 2026-03-15（10 天）"
    fitted = {a.business: a for a in d.arrivals}
    given = {a.business: a for a in sc.demand.arrivals}
    assert set(fitted) == set(given)
    for code, a in given.items():
        assert fitted[code].expected() == pytest.approx(a.expected(), rel=0.1), code
        assert fitted[code].no_show == pytest.approx(a.no_show, abs=0.015)
        assert fitted[code].green_share == pytest.approx(a.green_share, abs=0.015)
        # case time as the engine measures it: from the call (pads have no 开始) to 办结, so with the walk
        svc, case = d.service[code], sc.service(code)
        assert svc.mean_s == pytest.approx(case.mean_s + sc.demand.clerks.walk_s, rel=0.08), code
        assert svc.cv == pytest.approx(case.cv, abs=0.12), code
    # the 09:30–10:00 half hour of 综合受理 (55 an hour in the file)
    a930 = next(r for s, e, r in fitted["A"].pieces if s == 570)
    assert a930 == pytest.approx(55, rel=0.2)
    (booked,) = d.bookings
    assert booked.business == "B" and [m for m, _ in booked.slots] == [540, 570, 600, 630, 840, 870, 900]
    assert sum(n for _, n in booked.slots) == pytest.approx(21, rel=0.2)
    assert d.clerks.walk_s == 0  # the walk is inside the measured case time already


def test_too_little_history_is_said(history, tmp_path):
    sc, db = history
    with pytest.raises(HistoryError, match="没有历史数据"):
        load_history(db, sc.hall, sc.timezone, 1, "2026-05-01")
    with pytest.raises(HistoryError, match="没有数据库文件"):
        load_history(str(tmp_path / "none.sqlite3"), sc.hall, sc.timezone, 4, "2026-03-16")
    with pytest.raises(HistoryError, match="weeks"):
        load_history(db, sc.hall, sc.timezone, 0, "2026-03-16")


def test_history_runs_through_the_simulator(history):
    sc, db = history
    d = load_history(db, sc.hall, sc.timezone, 2, "2026-03-16")
    from queued.simulate.summary import summarize

    s = summarize(Scenario(sc.hall, d, sc.timezone), run_days(Scenario(sc.hall, d, sc.timezone), 2, 1), 1)
    assert s["total"]["tickets"] == pytest.approx(2 * 742, rel=0.15)


def test_from_db_on_the_command_line(history, tmp_path):
    import json
    import subprocess
    import sys

    from tests.simulate.helpers import HALL

    sc, db = history
    conf = tmp_path / "hall.toml"
    conf.write_text(HALL.read_text(encoding="utf-8").replace('database = "sim_hall.sqlite3"', f'database = "{db}"'),
                    encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "queued.cli", "simulate", "--config", str(conf), "--from-db", "--weeks",
                        "2", "--today", "2026-03-16", "--days", "2", "--format", "json"],
                       capture_output=True, text=True, timeout=120, encoding="utf-8")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert set(out["businesses"]) == {"A", "B", "C", "D"} and out["total"]["tickets"] > 1000
    p = subprocess.run([sys.executable, "-m", "queued.cli", "simulate", "--config", str(conf), "--from-db",
                        "--today", "2027-01-01"], capture_output=True, text=True, timeout=120, encoding="utf-8")
    assert p.returncode == 2 and "没有历史数据" in p.stderr
