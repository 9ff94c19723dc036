"""The staffing planner: every half hour meets the p90 target with the windows it names, and not
one of those windows can be taken away without some half hour missing it."""

from __future__ import annotations

import pytest

from queued.simulate.planner import BusinessPlanner, plan_windows, planning_slots
from tests.simulate.helpers import DEMAND, small
from tests.simulate.test_cli import simulate

TARGET_S = 10 * 60


@pytest.fixture(scope="module")
def planned():
    sc = small()
    return sc, plan_windows(sc, TARGET_S, 8, 2)


def test_every_half_hour_meets_the_target(planned):
    sc, p = planned
    assert p["met"] == {"A": True, "B": True}
    assert [r["from"] for r in p["slots"]] == ["08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    for r in p["slots"]:
        assert r["total"] == sum(r["windows"].values())
        for code, v in r["p90_wait_s"].items():
            assert v is None or v <= TARGET_S
            assert r["windows"][code] >= 1  # a half hour with arrivals is never left without a window
    # 30 tickets an hour of 5 minutes (2.5 windows busy) need more windows than 20 an hour
    a = [r["windows"]["A"] for r in p["slots"]]
    assert max(a[3:]) > min(a[:3])
    assert p["window_hours"]["A"] == sum(a) / 2


def test_no_window_can_be_spared(planned):
    sc, p = planned
    slots = planning_slots(sc)
    for code in ("A", "B"):
        bp = BusinessPlanner(sc, code, slots, TARGET_S, 8, 2)
        counts = [r["windows"][code] for r in p["slots"]]
        assert not bp.late(bp.evaluate(counts))
        for k, n in enumerate(counts):
            if n > bp.floor()[k]:
                fewer = counts.copy()
                fewer[k] -= 1
                assert bp.late(bp.evaluate(fewer)), (code, k)


def test_the_hall_on_the_plan(planned):
    sc, p = planned
    s = p["summary"]
    assert s["total"]["left_over"] == 0 and s["total"]["tickets"] > 0
    assert s["total"]["p90_wait_s"] <= TARGET_S
    assert set(s["windows"]) == {f"{code}{j}" for code in ("A", "B")
                                 for j in range(1, max(r["windows"][code] for r in p["slots"]) + 1)}


def test_planner_from_the_command_line():
    out = simulate("--demand", str(DEMAND), "--days", "3", "--planner", "--target-p90", "20").stdout
    assert "窗口排班建议" in out and "90% 等候不超过 20 分钟" in out
    assert "09:00-09:30" in out and "窗口·小时" in out and "A 综合受理" in out
