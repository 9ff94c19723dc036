"""What-if on common random numbers: the same days under two plans or two balancing settings."""

from __future__ import annotations

import json

from queued.simulate.whatif import compare, spread
from tests.simulate.helpers import DEMAND, example, small
from tests.simulate.test_cli import simulate

MOVE = """
[[plan]]
window = "5"
open = "08:30-10:00"
businesses = ["B"]

[[plan]]
window = "5"
open = "10:00-17:30"
businesses = ["A"]
"""


def test_a_scenario_against_itself_differs_by_nothing():
    c = compare(small(), small(name="B"), 5, 3)
    assert c["difference"]
    for d in c["difference"].values():
        assert d["mean"] == 0 and d["b_better_days"] == d["a_better_days"] == 0
        assert d["a"] == d["b"]


def test_a_window_moved_from_b_to_a_at_ten(tmp_path):
    """Window 5 leaves 不动产登记 for 综合受理 at 10:00: A's waits fall, B's rise, every day, and the
    95% interval of the difference excludes zero."""
    move = tmp_path / "move.toml"
    move.write_text(MOVE, encoding="utf-8")
    out = json.loads(simulate("--demand", str(DEMAND), "--days", "8", "--what-if", str(move),
                              "--format", "json").stdout)
    d = out["difference"]
    assert out["days"] == 8 and set(out) >= {"a", "b", "difference"}
    assert d["A.mean_wait_s"]["mean"] + d["A.mean_wait_s"]["ci95"] < 0
    assert d["B.mean_wait_s"]["mean"] - d["B.mean_wait_s"]["ci95"] > 0
    assert d["A.mean_wait_s"]["b_better_days"] == 8 and d["B.mean_wait_s"]["a_better_days"] == 8
    # same citizens on both sides
    assert {k: v["tickets"] for k, v in out["a"]["businesses"].items()} == \
        {k: v["tickets"] for k, v in out["b"]["businesses"].items()}
    assert "5~2" not in out["b"]["windows"]


def test_max_wait_thirty_against_sixty(tmp_path):
    a, b = tmp_path / "mw60.toml", tmp_path / "mw30.toml"
    a.write_text("[hall]\nmax_wait_minutes = 60\n", encoding="utf-8")
    b.write_text("[hall]\nmax_wait_minutes = 30\n", encoding="utf-8")
    text = simulate("--demand", str(DEMAND), "--days", "6", "--what-if", str(b), str(a)).stdout
    assert "A = mw60.toml，B = mw30.toml" in text and "差值 B−A" in text and "95%区间" in text
    out = json.loads(simulate("--demand", str(DEMAND), "--days", "6", "--what-if", str(b), str(a),
                              "--format", "json").stdout)
    # a shorter max wait calls the longest-waiting sooner: fewer past the red line
    assert out["difference"]["over_red"]["mean"] < 0


def test_a_bad_what_if_key_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[hall]\nmax_wait_minutes = -5\n", encoding="utf-8")
    p = simulate("--demand", str(DEMAND), "--what-if", str(bad), check=False)
    assert p.returncode == 2 and "what-if" in p.stderr and "max_wait_minutes" in p.stderr


def test_spread():
    s = spread([1.0, 2.0, 3.0])
    assert s["mean"] == 2 and s["sd"] == 1 and round(s["ci95"], 3) == round(4.303 / 3 ** 0.5, 3)
    assert spread([])["mean"] is None and spread([5.0])["sd"] is None


def test_example_scenario_runs_both_sides_on_the_same_days():
    sc = example()
    c = compare(sc, sc, 2, 1)
    assert c["a"] == {**c["b"], "scenario": c["a"]["scenario"]}
