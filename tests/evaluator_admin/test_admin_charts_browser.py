"""/admin/reviews' charts in headless Chromium at the supervisor's 1920×1080, as a projector shows
them: every day of the range on the x-axis (days without ratings too), each bar as high as the grid
line of its count, each rate point at its percentage, every value printed, a legend naming what
each colour counts, nothing overflowing. The screenshot is in test-artifacts/admin-reviews-1920.png."""

from __future__ import annotations

import pytest

from tests.browser import chromium_page, serving, sign_in
from tests.evaluator_admin.conftest import at
from tests.pages import check_page_async

pytestmark = pytest.mark.browser

# (day, window, levels): 09-14 … 09-18 with 09-16 a day without ratings; the range asked for runs
# 09-12 … 09-19, so three more days have none.
SEED = [
    ("2026-09-14", "1", [5, 5, 4, 3]), ("2026-09-14", "2", [5, 2]),
    ("2026-09-15", "1", [5, 4, 1]), ("2026-09-15", "2", [4, 4, 5]),
    ("2026-09-17", "1", [4, 5, 5, 5, 5]), ("2026-09-17", "3", [2, 4]),
    ("2026-09-18", "1", [5, 5, 5, 2, 1, 1]), ("2026-09-18", "2", [5, 3]),
]
DAYS = ["2026-09-12", "2026-09-13", "2026-09-14", "2026-09-15", "2026-09-16", "2026-09-17", "2026-09-18",
        "2026-09-19"]
# rated, bad per day
WANT = {"2026-09-14": (6, 1), "2026-09-15": (6, 1), "2026-09-17": (7, 1), "2026-09-18": (8, 3)}


@pytest.fixture
async def site(hall, tokens):
    clerks = {"1": tokens["clerk1"], "2": tokens["clerk2"], "3": tokens["admin"]}
    for day, window, levels in SEED:
        hall.clock.now = at(day)
        for level in levels:
            case = await hall.serve(tokens["kiosk"], clerks[window], window=window, business="C" if window == "3" else "A")
            await hall.rate(case, level, [1] if level <= 2 else [])
    hall.clock.now = at("2026-09-19", "16:00")
    async with serving(hall.daemon.app) as base:
        yield base


# Geometry as the browser laid it out (CSS pixels on the screen), per day and per grid line.
GEOMETRY_JS = """
() => {
  const svg = document.querySelector('#by-day svg.day-chart');
  const box = el => { const r = el.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left,
                       right: r.right, cx: (r.left + r.right) / 2, cy: (r.top + r.bottom) / 2}; };
  const grid = cls => [...svg.querySelectorAll('line.' + cls)].map(l => ({value: +l.dataset.value, y: box(l).top}));
  const ticks = cls => [...svg.querySelectorAll('text.' + cls)].map(t => ({text: t.textContent, cy: box(t).cy}));
  const days = [...svg.querySelectorAll('g.day')].map(g => {
    const q = s => g.querySelector(s);
    const bars = [...g.querySelectorAll('rect')].map(box);
    return {day: g.dataset.day, rated: +g.dataset.rated, bad: +g.dataset.bad, rate: g.dataset.rate,
            top: bars.length ? Math.min(...bars.map(b => b.top)) : null,
            bottom: bars.length ? Math.max(...bars.map(b => b.bottom)) : null,
            bad_box: q('rect.bar-bad') && box(q('rect.bar-bad')),
            good_fill: q('rect.bar-good') && q('rect.bar-good').getAttribute('fill'),
            bad_fill: q('rect.bar-bad') && q('rect.bar-bad').getAttribute('fill'),
            count: q('text.v-count') && {text: q('text.v-count').textContent, ...box(q('text.v-count'))},
            x: q('text.x-label') && {text: q('text.x-label').textContent, ...box(q('text.x-label'))},
            none: q('text.v-rate-none') && q('text.v-rate-none').textContent};
  });
  const points = [...svg.querySelectorAll('circle.pt')].map(box);
  const rates = [...svg.querySelectorAll('text.v-rate')].map(t => ({text: t.textContent, ...box(t)}));
  const legend = [...svg.querySelectorAll('g.legend')].map(g => ({text: g.textContent,
                   fill: (g.querySelector('rect') || g.querySelector('circle')).getAttribute('fill')}));
  const outer = box(svg);
  const outside = [...document.querySelectorAll('svg.chart text')].filter(t => {
    const r = t.getBoundingClientRect(), o = t.closest('svg').getBoundingClientRect();
    return r.left < o.left - 1 || r.right > o.right + 1 || r.top < o.top - 1 || r.bottom > o.bottom + 1;
  }).map(t => t.textContent);
  const fonts = [...document.querySelectorAll('svg.chart text')].map(t => parseFloat(getComputedStyle(t).fontSize)
                 * t.getScreenCTM().a);
  const hbars = [...document.querySelectorAll('svg.chart g.hbar')].map(g => ({
    panel: g.closest('section').id, value: +g.dataset.value, max: +g.dataset.max,
    bar: g.querySelector('rect.bar').getBoundingClientRect().width,
    track: g.querySelector('rect.track').getBoundingClientRect().width,
    label: g.querySelector('text').textContent, text: g.querySelector('text.v').textContent}));
  return {days, points, rates, legend, outside, hbars, smallest_font: Math.min(...fonts), grid_count: grid('grid-count'), grid_rate: grid('grid-rate'),
          ticks_count: ticks('tick-count'), width: box(svg).right - box(svg).left};
}
"""


def at_value(grid: list[dict], value: float) -> float:
    """The screen y of `value` on an axis, from its grid lines (linear between the lowest and highest)."""
    lo, hi = min(grid, key=lambda g: g["value"]), max(grid, key=lambda g: g["value"])
    return lo["y"] + (hi["y"] - lo["y"]) * (value - lo["value"]) / (hi["value"] - lo["value"])


async def test_the_daily_chart_reads_true_on_a_projector(site, tokens, artifacts):
    token = tokens["supervisor"]["Authorization"].split()[1]
    async with chromium_page("admin") as page:
        await sign_in(page, f"{site}/admin/login?next=/admin/reviews%3Ffrom%3D2026-09-12%26to%3D2026-09-19", token)
        await page.wait_for_url("**/admin/reviews?from=2026-09-12&to=2026-09-19")
        await page.locator("#by-day svg.day-chart").wait_for()
        await check_page_async(page, artifacts, "admin-reviews-1920", full_page=True)
        geo = await page.evaluate(GEOMETRY_JS)

    assert geo["width"] > 1700  # the chart fills the projector's width, not a 720 px box
    assert geo["outside"] == []  # no chart text cut off at its chart's edge (check_page sees HTML only)
    assert geo["smallest_font"] >= 16, geo["smallest_font"]  # every chart's text, as drawn on the screen
    # Every day of the range has its place and its label, in order; days without ratings show 0.
    assert [d["day"] for d in geo["days"]] == DAYS
    assert [d["x"]["text"] for d in geo["days"]] == [d[5:].replace("-", "/") for d in DAYS]
    xs = [d["x"]["cx"] for d in geo["days"]]
    assert xs == sorted(xs) and min(b - a for a, b in zip(xs, xs[1:], strict=False)) > 150
    for d in geo["days"]:
        rated, bad = WANT.get(d["day"], (0, 0))
        assert (d["rated"], d["bad"]) == (rated, bad), d
        assert d["count"]["text"] == str(rated), d  # the day's count printed, not only on hover
        if not rated:
            assert d["top"] is None and d["none"] == "无评价"
            continue
        # The bar's top sits on its count's place on the count axis (what the "N件" lines say).
        assert abs(d["top"] - at_value(geo["grid_count"], rated)) < 1.0, (d, geo["grid_count"])
        assert abs(d["bottom"] - at_value(geo["grid_count"], 0)) < 1.0
        assert abs(d["bad_box"]["bottom"] - d["bad_box"]["top"]
                   - (at_value(geo["grid_count"], 0) - at_value(geo["grid_count"], bad))) < 1.0
        assert 0 < d["top"] - d["count"]["bottom"] < 16  # the printed count just above its bar
        assert abs(d["count"]["cx"] - d["x"]["cx"]) < 1.0
    # Each grid line's label is at its line, and a "3件"-style label names the value of that line.
    for line, tick in zip(geo["grid_count"], geo["ticks_count"], strict=True):
        assert tick["text"] == f'{line["value"]}件' and abs(tick["cy"] - line["y"]) < 4
    # Rates: one point a day with ratings, at its percentage, its value printed above it.
    rated_days = [d for d in geo["days"] if d["rated"]]
    assert len(geo["points"]) == len(rated_days) == len(geo["rates"]) == 4
    for d, p, label in zip(rated_days, geo["points"], geo["rates"], strict=True):
        rate = float(d["rate"])
        assert abs(p["cy"] - at_value(geo["grid_rate"], rate * 100)) < 1.0
        assert label["text"] == f"{rate * 100:.0f}%" and 0 < p["cy"] - label["bottom"] < 16
        assert abs(p["cx"] - d["x"]["cx"]) < 1.0
    assert [x["text"] for x in geo["rates"]] == ["83%", "83%", "86%", "62%"]
    # The ranking bars: each as long as its value on its track, the value printed at its end.
    ranked = {(b["panel"], b["label"]): b for b in geo["hbars"]}
    assert ranked[("windows", "1号窗口")]["text"] == "77.8%（18评/4差）"  # 14 of 18 good
    assert ranked[("reasons", "服务态度差")]["text"] == "6 件"
    for b in geo["hbars"]:
        assert abs(b["bar"] / b["track"] - b["value"] / b["max"]) < 0.005, b
        if b["panel"] in ("windows", "clerks"):
            assert b["text"].startswith(f'{b["value"]:.1f}%'), b
    # The legend says what each colour shows, in the colours drawn.
    legend = {g["text"].split("（")[0]: g["fill"] for g in geo["legend"]}
    assert set(legend) == {"好评率", "好评件数", "差评件数"}
    assert {d["good_fill"] for d in rated_days} == {legend["好评件数"]}
    assert {d["bad_fill"] for d in rated_days} == {legend["差评件数"]}
