"""The chart functions on their own: every day of a range gets its place, the count axis is a round
scale that holds the largest day, and a long range stays readable (labels thinned, not dropped days)."""

from __future__ import annotations

import re

from evaluator import charts


def day(key: str, rated: int, bad: int) -> dict:
    return {"key": key, "served": rated, "rated": rated, "good": rated - bad, "bad": bad,
            "good_rate": round((rated - bad) / rated, 4) if rated else None}


def test_every_day_of_the_range_and_a_round_axis():
    svg = str(charts.rate_by_day([day("2026-09-02", 3, 1), day("2026-09-05", 7, 0)], "2026-09-01", "2026-09-07"))
    assert re.findall(r'data-day="([^"]+)"', svg) == [f"2026-09-0{i}" for i in range(1, 8)]
    assert re.findall(r'class="tick-count"[^>]*>([^<]+)<', svg) == ["0件", "2件", "4件", "6件", "8件"]
    assert svg.count('class="pt"') == 2 and svg.count("无评价") == 5
    assert charts.nice_max(3) == (3, 1) and charts.nice_max(7) == (8, 2) and charts.nice_max(230) == (250, 50)
    assert charts.nice_max(0) == (1, 1)


def test_a_quarter_keeps_every_day_and_thins_its_labels():
    rows = [day(f"2026-{m:02d}-{d:02d}", (d % 5) + 1, d % 2) for m in (7, 8, 9) for d in range(1, 29)]
    svg = str(charts.rate_by_day(rows, "2026-07-01", "2026-09-30"))
    assert svg.count('class="day"') == 92  # 31 + 31 + 30 days, none dropped
    labels = re.findall(r'class="x-label"[^>]*>([^<]+)<', svg)
    assert 10 <= len(labels) <= 20 and labels[0] == "07/01"  # a label a week, the month named
    assert "v-rate" not in svg  # no room to print 92 rates legibly: hover titles carry them


def test_no_ratings_at_all_is_said_in_words():
    assert "没有评价" in str(charts.rate_by_day([], "2026-09-01", "2026-09-07"))
