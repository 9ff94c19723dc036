"""The simulated day's mechanics: the seed, the plan (moves, pauses, closed windows), the end of
the day (取号截止, 延时, 留号) and the figures, against the engine's own events."""

from __future__ import annotations

from queued.core import events as e
from queued.core.calendar import HallCalendar
from queued.simulate.arrivals import day_arrivals
from queued.simulate.run import run_days
from queued.simulate.scenario import Closing
from queued.simulate.summary import summarize
from tests.simulate.helpers import small


def minute(sc, ev) -> float:
    cal = HallCalendar(sc.timezone)
    return (ev.at - cal.at(cal.day(ev.at), 0)) / 60


def test_a_seed_gives_the_same_days_and_another_seed_others():
    sc = small()
    a = summarize(sc, run_days(sc, 3, 5), 5)
    b = summarize(small(), run_days(small(), 3, 5), 5)
    c = summarize(sc, run_days(sc, 3, 6), 6)
    assert a == b
    assert a["businesses"] != c["businesses"]


def test_the_citizens_do_not_depend_on_the_plan():
    """Common random numbers: a different plan meets the same arrivals, no-shows and case times."""
    base = small()
    moved = small(extra='[[plan]]\nwindow = "2"\nopen = "10:00-12:00"\n')
    cal = HallCalendar(base.timezone)
    assert day_arrivals(base, cal, "2026-03-02", 0, 9) == day_arrivals(moved, cal, "2026-03-02", 0, 9)


def test_a_window_moved_from_b_to_a_at_ten():
    sc = small(extra='[[plan]]\nwindow = "3"\nopen = "08:30-10:00"\nbusinesses = ["B"]\n'
                     '[[plan]]\nwindow = "3"\nopen = "10:00-12:00"\nbusinesses = ["A"]\n')
    assert [(w.id, w.businesses) for w in sc.engine_windows if w.window == "3"] == [("3", ("B",)), ("3~2", ("A",))]
    (day,) = run_days(sc, 1, 3, record_events=True)
    called = {}
    for ev in day.events:
        if isinstance(ev, e.TicketIssued):
            called[ev.ticket] = ev.business
    as_b = [ev for ev in day.events if isinstance(ev, e.TicketCalled) and ev.window == "3"]
    as_a = [ev for ev in day.events if isinstance(ev, e.TicketCalled) and ev.window == "3~2"]
    assert as_b and as_a
    assert all(called[ev.ticket] == "B" for ev in as_b) and all(called[ev.ticket] == "A" for ev in as_a)
    # window 3 takes its first A ticket only once its last B case is finished, from 10:00
    last_b_end = max(ev.at for ev in day.events if isinstance(ev, (e.TicketFinished, e.TicketSkipped))
                     and ev.window == "3")
    assert min(ev.at for ev in as_a) >= min(last_b_end, max(ev.at for ev in as_b))
    assert min(minute(sc, ev) for ev in as_a) >= 600
    s = summarize(sc, [day], 3)
    assert "3~2" not in s["windows"] and s["windows"]["3"]["served"] == day.windows["3"].served > 0


def test_a_pause_stops_the_window_calling():
    sc = small(extra='[[plan]]\nwindow = "1"\npauses = ["09:30-10:00"]\n')
    (day,) = run_days(sc, 1, 4, record_events=True)
    paused = [ev for ev in day.events if isinstance(ev, e.WindowPaused) and ev.window == "1"]
    resumed = [ev for ev in day.events if isinstance(ev, e.WindowResumed) and ev.window == "1"]
    assert len(paused) == len(resumed) == 1
    assert 570 <= minute(sc, paused[0]) < 600 and minute(sc, resumed[0]) == 600
    calls = [ev for ev in day.events if isinstance(ev, e.TicketCalled) and ev.window == "1"
             and paused[0].at < ev.at < resumed[0].at]
    assert calls == []
    assert day.windows["1"].paused_s == resumed[0].at - paused[0].at


def test_a_window_planned_shut_never_opens():
    sc = small(extra='[[plan]]\nwindow = "1"\nopen = []\n')
    (day,) = run_days(sc, 1, 4)
    assert day.windows["1"].served == 0 and day.windows["1"].open_s == 0


def test_closing_stops_issuing_and_windows_serve_on():
    """closes = 11:00 while citizens come until 12:00: the engine turns the late ones away, and the
    windows keep serving those who took a number (延时) until nobody is left (no 留号)."""
    sc = small(hall_extra='closes = "11:00"')
    days = run_days(sc, 3, 8)
    s = summarize(sc, days, 8)
    assert s["total"]["refused"] > 0
    assert s["total"]["left_over"] == 0
    assert s["total"]["extended_minutes"] > 0
    assert all(b.served + b.skipped == b.issued for r in days for b in r.businesses.values())


def test_stop_issuing_before_closing():
    """取号截止 at 10:30, closing at 11:00: nobody gets a number after 10:30; those who have one are
    served, the windows working on past 11:00 if need be."""
    sc = small(hall_extra='stop_issuing = "10:30"\ncloses = "11:00"')
    days = run_days(sc, 2, 8, record_events=True)
    issued = [ev for r in days for ev in r.events if isinstance(ev, e.TicketIssued) and ev.due_at is None]
    assert issued and max(minute(sc, ev) for ev in issued) < 10 * 60 + 30
    s = summarize(sc, days, 8)
    assert s["total"]["refused"] > 0 and s["total"]["left_over"] == 0


def test_hard_close_closes_out_what_still_waits():
    """留号: what waits at the hard close is closed out and counted; cases in hand are finished."""
    sc = small(hall_extra='closes = "11:00"\nhard_close = "11:10"')
    assert sc.closing == Closing(stop_issuing=11 * 60, closes=11 * 60, hard_close=11 * 60 + 10)
    days = run_days(sc, 2, 8, record_events=True)
    s = summarize(sc, days, 8)
    assert s["total"]["left_over"] > 0
    closed_out = sum(1 for r in days for ev in r.events
                     if isinstance(ev, e.TicketCancelled) and ev.reason == "day_closed")
    assert closed_out == s["total"]["left_over"]
    late_calls = [ev for r in days for ev in r.events if isinstance(ev, e.TicketCalled)
                  and minute(sc, ev) > 11 * 60 + 10]
    assert late_calls == []


def test_an_overloaded_day_is_closed_out_before_midnight():
    sc = small(hall_extra="", extra='[[plan]]\nwindow = "2"\nopen = []\n[[plan]]\nwindow = "3"\nopen = []\n'
                                    '[[plan]]\nwindow = "1"\nopen = "08:30-09:00"\n')
    (day,) = run_days(sc, 1, 2)
    assert day.overran
    assert sum(b.left_over for b in day.businesses.values()) > 0


def test_figures_come_from_the_engine():
    sc = small()
    (day,) = run_days(sc, 1, 12, record_events=True)
    s = summarize(sc, [day], 12)
    finished = [ev for ev in day.events if isinstance(ev, e.TicketFinished)]
    assert sum(w["served"] for w in s["windows"].values()) == len(finished)
    for code in ("A", "B"):
        waits = sorted(ev.wait_s for ev in finished if ev.business == code)
        assert s["businesses"][code]["served"] == len(waits)
        issued = [ev for ev in day.events if isinstance(ev, e.TicketIssued) and ev.business == code]
        assert s["businesses"][code]["tickets"] == len(issued)
    # saturation = busy ÷ open, never above 1; the ETA error was measured on every called ticket
    assert all(0 < w["saturation"] <= 1 for w in s["windows"].values())
    assert s["eta_error"]["tickets"] == sum(len(b.waits) for b in day.businesses.values())


def test_reading_the_eta_changes_nothing():
    """The engine's estimate is a read: a day with every ETA read, one with every third, and one
    with none are the same day; the error is measured on the tickets read."""
    sc = small()
    every, third, none = (run_days(sc, 2, 14, eta_every=k) for k in (1, 3, 0))
    for a, b, c in zip(every, third, none, strict=True):
        for code in ("A", "B"):
            assert a.businesses[code].waits == b.businesses[code].waits == c.businesses[code].waits
    n = sum(len(t.eta_errors) for r in every for t in r.businesses.values())
    k = sum(len(t.eta_errors) for r in third for t in r.businesses.values())
    assert n == sum(len(t.waits) for r in every for t in r.businesses.values()) and n / 4 < k < n / 2
    assert all(not t.eta_errors for r in none for t in r.businesses.values())


def test_an_observer_hears_every_issue_call_and_sample():
    """What benchmarks of the engine's estimates listen to (bench/bench_eta.py)."""

    class Ear:
        def __init__(self):
            self.issued, self.called, self.samples = [], [], []

        def issued_ticket(self, sim, t):
            self.issued.append((sim.now, t.id, sim.eng.estimate(t, sim.now).position))

        def called_ticket(self, sim, t):
            self.called.append((sim.now, t.id))

        def sample(self, sim):
            self.samples.append((sim.now, sum(1 for t in sim.eng.tickets.values() if t.status == "waiting")))

    sc = small()
    ear = Ear()
    (day,) = run_days(sc, 1, 15, observer=ear, sample_every_s=300, record_events=True)
    issued = [ev for ev in day.events if isinstance(ev, e.TicketIssued)]
    called = [ev for ev in day.events if isinstance(ev, e.TicketCalled)]
    assert [(x.at, x.ticket) for x in issued] == [(at, tid) for at, tid, _ in ear.issued]
    assert [(x.at, x.ticket) for x in called] == ear.called
    assert all(pos >= 1 for _, _, pos in ear.issued)
    times = [at for at, _ in ear.samples]
    assert all(b - a == 300 for a, b in zip(times, times[1:], strict=False))
    assert times[0] == HallCalendar(sc.timezone).at(day.day, 8 * 60 + 30)
    assert times[-1] >= max(x.at for x in issued) and ear.samples[-1][1] == 0
