"""The demand and what-if files: every mistake is named with its key and line, and nothing runs."""

from __future__ import annotations

import pytest

from queued.simulate.demand import parse_demand, parse_what_if
from queued.simulate.errors import DemandError
from tests.simulate.helpers import SMALL_DEMAND, small

HALL = small().hall


def demand(text: str):
    return parse_demand(text, HALL, "d.toml", 12 * 60)


@pytest.mark.parametrize("text, message", [
    ("", "at least one [[arrivals]]"),
    ("x = 1\n[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n", "x (line 1): unknown key"),
    ("[[arrivals]]\nbusiness = 'Z'\nper_hour = {'08:30' = 1}\n", "arrivals[0].business (line 2): unknown business 'Z'"),
    ("[[arrivals]]\nbusiness = 'A'\nper_hour = {'08:30' = -1}\n", "arrivals[0].per_hour (line 3): 08:30: expected a number"),
    ("[[arrivals]]\nbusiness = 'A'\nper_hour = {'25:00' = 1}\n", "is not a time of day HH:MM"),
    ("[[arrivals]]\nbusiness = 'A'\n", "arrivals[0].per_hour (line 1): is required"),
    ("[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n",
     "'A' has two [[arrivals]]"),
    ("[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n[service.A]\nmean_s = 0\n", "service.A.mean_s (line 5)"),
    ("[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n[service.A]\nmean_s = 60\ndist = 'gamma'\n",
     "service.A.dist (line 6): expected one of lognormal, exponential, fixed"),
    ("[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n[clerks]\nrecalls = 1.5\n", "clerks.recalls (line 5)"),
    ("no_show = 2\n[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n", "no_show (line 1): expected a number in 0..1"),
    ("[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n[[plan]]\nwindow = '9'\n",
     "plan[0].window (line 5): window '9' is not in the hall: give its businesses"),
    ("[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n[[plan]]\nwindow = '1'\nopen = '10:00-09:00'\n",
     "plan[0].open (line 6): '10:00-09:00' ends before it starts"),
    ("[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n[[plan]]\nwindow='1'\nopen='08:30-10:00'\n"
     "[[plan]]\nwindow='1'\nopen='09:30-11:00'\n", "window '1' is planned twice at 09:30"),
    ("[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n[[plan]]\nwindow='1'\nbusinesses=['A','A']\n",
     "a business is listed twice"),
    ("[[arrivals]]\nbusiness='A'\nper_hour={'08:30'=1}\n[[bookings]]\nbusiness='A'\nper_slot={'09:00'=1}\n"
     "arrive_early_minutes=[30, 10]\n", "bookings[0].arrive_early_minutes (line 7)"),
    ("[[arrivals]\n", "is not valid TOML"),
])
def test_mistakes_are_named(text, message):
    with pytest.raises(DemandError) as exc:
        demand(text)
    assert message in str(exc.value)
    assert str(exc.value).startswith("d.toml")


def test_the_example_reads():
    d = demand(SMALL_DEMAND.format(extra=""))
    assert [a.business for a in d.arrivals] == ["A", "B"]
    a = d.arrivals[0]
    assert a.pieces == ((510, 600, 20.0), (600, 720, 30.0)) and a.no_show == 0.05
    assert a.expected() == pytest.approx(20 * 1.5 + 30 * 2)
    assert d.service["B"].dist == "exponential" and d.service["B"].cv == 1.0
    assert d.bookings[0].slots == ((540, 2.0), (600, 2.0))


def test_lognormal_parameters_give_the_mean_and_cv():
    import math
    import random

    svc = demand(SMALL_DEMAND.format(extra="")).service["A"]
    mu, sigma = svc.lognormal_params
    rng = random.Random(1)
    xs = [rng.lognormvariate(mu, sigma) for _ in range(200_000)]
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
    assert mean == pytest.approx(300, rel=0.01) and sd / mean == pytest.approx(0.6, rel=0.03)


@pytest.mark.parametrize("text, message", [
    ("[hall]\nmax_wait_minutes = 30\n[extra]\n", "extra (line 3): unknown key"),
    ("[hall]\nname = 'x'\n", "hall.name (line 2): not a key a what-if may change"),
    ("[[plan]]\nwindow = '1'\nbusinesses = ['Q']\n", "plan[0].businesses (line 3): unknown business 'Q'"),
])
def test_what_if_mistakes_are_named(text, message):
    with pytest.raises(DemandError) as exc:
        parse_what_if(text, HALL, "b.toml", (510, 720))
    assert message in str(exc.value)


def test_a_what_if_reads():
    w = parse_what_if("[hall]\nmax_wait_minutes = 30\n[clerks]\nwalk_s = 0\n", HALL, "dir/b30.toml", (510, 720))
    assert w.name == "b30" and w.hall == {"max_wait_minutes": 30} and w.plan is None and w.clerks.walk_s == 0
