"""Charts drawn on the server as inline SVG: no script, no CDN (the hall LAN has no internet), and
they print. Text uses the page's font, so Chinese labels render with the CJK font the pages name.

Made to be read on a projector: every value is printed (not only in a hover title), each axis is
the scale of what is drawn against it (a bar as high as the "3件" grid line holds 3), every day of
the range has its place on the x-axis (a day without ratings shows 0 and no rate; labels that would
touch their neighbours are shortened or thinned), and the legend names what each colour counts. The SVG scales to its panel's width (viewBox), so a 1920 px page
draws it about 1.5 times its nominal size.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

GOOD, BAD, MUTED, GRID, INK = "#2e7d32", "#c62828", "#757575", "#e0e0e0", "#333"
GOOD_BAR, BAD_BAR = "#81c784", "#e57373"
FONT = 14


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def nice_max(value: float, ticks: int = 5) -> tuple[float, float]:
    """(axis top, tick step): the smallest 1/2/5×10ⁿ step with at most `ticks` steps up to `value`."""
    value = max(value, 1)
    raw = value / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(int(round(step)), 1)  # counts: whole numbers ("4件", not "4.0件")
    return step * math.ceil(value / step), step


def every_day(rows: list[dict], day_from: str | None, day_to: str | None) -> list[dict]:
    """The rows of each day from `day_from` to `day_to`, a day without a row as one with nothing."""
    by_day = {str(r["key"]): r for r in rows}
    if not day_from or not day_to:
        return rows
    first, last = date.fromisoformat(day_from), date.fromisoformat(day_to)
    out = []
    for i in range((last - first).days + 1):
        d = (first + timedelta(days=i)).isoformat()
        out.append(by_day.get(d) or {"key": d, "served": 0, "rated": 0, "good": 0, "bad": 0, "good_rate": None})
    return out


def _text(x: float, y: float, text: str, anchor: str = "middle", fill: str = INK, cls: str = "",
          size: int | None = None, weight: str | None = None) -> str:
    extra = (f' class="{cls}"' if cls else "") + (f' font-size="{size}"' if size else "") + \
        (f' font-weight="{weight}"' if weight else "")
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>{escape(text)}</text>'


def rate_by_day(rows: list[dict], day_from: str | None = None, day_to: str | None = None,
                width: int = 1200) -> Markup:
    """Two panels on one x-axis of days: above, the day's 好评率 (0–100%, the value printed at each
    point); below, the day's ratings as stacked bars of 好评件数 and 差评件数 on a count axis, the
    day's 评价件数 printed on top of its bar."""
    days = every_day(rows, day_from, day_to)
    if not days or not any(d["rated"] for d in days):
        return Markup('<p class="muted">所选期间没有评价</p>')
    n = len(days)
    left, right = 64, 16
    rate_top, rate_h, gap, count_h, axis_h = 58, 150, 58, 200, 46  # the legend above rate_top
    count_top = rate_top + rate_h + gap
    height = count_top + count_h + axis_h
    w = width - left - right
    step = w / n
    bar_w = max(min(step * 0.62, 48), 1)
    top_count, count_step = nice_max(max(d["rated"] for d in days))
    # What fits between two days' centres (chart units, FONT 14 bold): "100%" ~36, "无评价" 36 at
    # FONT - 2, "09/18" ~42, "18" ~17; with a gap, so neighbours never touch (30 days in 1200 do not).
    show_rates = step >= 34  # smaller type below 42; with less room only a rate with no neighbour
    rate_size = None if step >= 42 else FONT - 2
    show_none = step >= 46
    show_counts = step >= 16
    full_labels = step >= 50  # "MM/DD" under every day; else "DD", the first day and a month's 1st "MM/DD"
    label_every = 1 if step >= 34 else 7 if step >= 6 else 30

    def y_rate(rate: float) -> float:
        return rate_top + rate_h * (1 - rate)

    def y_count(v: float) -> float:
        return count_top + count_h * (1 - v / top_count)

    parts = [f'<svg class="chart day-chart" role="img" aria-label="好评率与评价件数（按日）"'
             f' viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
             f' xmlns="http://www.w3.org/2000/svg" font-size="{FONT}">']
    # The legend: what each mark shows, laid out left to right at the widths of their texts.
    lx = left
    parts.append(f'<g class="legend"><line x1="{lx}" y1="17" x2="{lx + 26}" y2="17" stroke="{GOOD}"'
                 f' stroke-width="3"/><circle cx="{lx + 13}" cy="17" r="4.5" fill="{GOOD}"/>'
                 + _text(lx + 34, 22, "好评率（上图，点上为当日好评率）", "start", cls="legend-text") + "</g>")
    lx += 34 + _label_width(["好评率（上图，点上为当日好评率）"], FONT) + 24
    for color, text in ((GOOD_BAR, "好评件数（基本满意及以上）"), (BAD_BAR, "差评件数（不满意、非常不满意）")):
        parts.append(f'<g class="legend"><rect x="{lx}" y="8" width="18" height="18" fill="{color}"/>'
                     f'{_text(lx + 26, 22, text, "start", cls="legend-text")}</g>')
        lx += 26 + _label_width([text], FONT) + 24
    parts.append(_text(lx, 22, "柱顶数字：当日评价件数", "start", MUTED, "legend-text"))

    # Axes: percentages for the rate panel, counts for the bar panel; each grid line at its value.
    parts.append(_text(left - 8, rate_top - 12, "好评率", "end", MUTED, "axis-title"))
    for pct in (0, 25, 50, 75, 100):
        y = y_rate(pct / 100)
        parts.append(f'<line class="grid-rate" data-value="{pct}" x1="{left}" y1="{y:.1f}" x2="{left + w}"'
                     f' y2="{y:.1f}" stroke="{GRID}"/>' + _text(left - 8, y + 5, f"{pct}%", "end", "#555", "tick-rate"))
    parts.append(_text(left - 8, count_top - 12, "件数", "end", MUTED, "axis-title"))
    v = 0
    while v <= top_count:
        y = y_count(v)
        parts.append(f'<line class="grid-count" data-value="{v}" x1="{left}" y1="{y:.1f}" x2="{left + w}"'
                     f' y2="{y:.1f}" stroke="{GRID}"/>' + _text(left - 8, y + 5, f"{v}件", "end", "#555", "tick-count"))
        v += count_step

    segment: list[tuple[float, float]] = []
    lines, points = [], []
    for i, d in enumerate(days):
        cx = left + step * (i + 0.5)
        day = str(d["key"])
        good, bad, rated = d["rated"] - d["bad"], d["bad"], d["rated"]
        g = [f'<g class="day" data-day="{escape(day)}" data-rated="{rated}" data-good="{good}" data-bad="{bad}"'
             f' data-rate="{"" if d["good_rate"] is None else d["good_rate"]}">'
             f'<title>{escape(day)}：评价 {rated} 件，好评 {good} 件，差评 {bad} 件，好评率 {_pct(d["good_rate"])}</title>']
        base = y_count(0)
        if good:
            g.append(f'<rect class="bar-good" x="{cx - bar_w / 2:.1f}" y="{y_count(good):.1f}" width="{bar_w:.1f}"'
                     f' height="{base - y_count(good):.1f}" fill="{GOOD_BAR}"/>')
        if bad:
            g.append(f'<rect class="bar-bad" x="{cx - bar_w / 2:.1f}" y="{y_count(rated):.1f}" width="{bar_w:.1f}"'
                     f' height="{y_count(good) - y_count(rated):.1f}" fill="{BAD_BAR}"/>')
            if show_counts and y_count(good) - y_count(rated) >= FONT + 2:
                g.append(_text(cx, y_count(rated) + (y_count(good) - y_count(rated)) / 2 + 5, str(bad),
                               fill="#fff", cls="v-bad", weight="bold"))
        if show_counts:
            g.append(_text(cx, y_count(rated) - 6, str(rated), fill=INK if rated else MUTED, cls="v-count",
                           weight="bold"))
        if d["good_rate"] is None:
            segment and lines.append(segment)
            segment = []
            if show_none:
                g.append(_text(cx, y_rate(0) - 8, "无评价", fill=MUTED, cls="v-rate-none", size=FONT - 2))
        else:
            y = y_rate(d["good_rate"])
            segment.append((cx, y))
            points.append(f'<circle class="pt" cx="{cx:.1f}" cy="{y:.1f}" r="4.5" fill="{GOOD}"/>')
            alone = all(not (0 <= j < n) or days[j]["good_rate"] is None for j in (i - 1, i + 1))
            if show_rates or alone:
                points.append(_text(cx, y - 10, f'{d["good_rate"] * 100:.0f}%', fill=GOOD, cls="v-rate",
                                    weight="bold", size=rate_size if show_rates else None))
        if i % label_every == 0 or n <= 1:
            label = day[5:].replace("-", "/") if full_labels or i == 0 or day[8:] == "01" else day[8:]
            g.append(_text(cx, count_top + count_h + 22, label, fill="#555", cls="x-label"))
        g.append("</g>")
        parts.append("".join(g))
    if segment:
        lines.append(segment)
    for seg in lines:  # a day without ratings breaks the line: no rate is drawn across it
        if len(seg) > 1:
            parts.append(f'<polyline fill="none" stroke="{GOOD}" stroke-width="2.5" points="'
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y in seg) + '"/>')
    parts.extend(points)
    parts.append(f'<line x1="{left}" y1="{y_count(0):.1f}" x2="{left + w}" y2="{y_count(0):.1f}" stroke="#999"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _label_width(labels: list[str], size: int) -> int:
    """Pixels the longest label takes: a wide (CJK) character one em, others about half."""
    def px(s: str) -> float:
        return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in s)
    return int(max((px(s) for s in labels), default=0)) + 14


def hbars(items: list[tuple[str, float, str]], max_value: float | None = None, width: int = 640,
          color: str = GOOD, label_width: int | None = None, marks: set[str] | None = None) -> Markup:
    """Horizontal bars: (label, value, text printed at the bar's end). Labels in `marks` are red.
    The bar's length is value ÷ max_value of the track (max_value: 100 for rates, else the largest)."""
    if not items:
        return Markup('<p class="muted">所选期间没有数据</p>')
    size, row_h, top = 15, 32, 6
    label_width = label_width or min(max(_label_width([i[0] for i in items], size), 80), 220)
    height = top * 2 + row_h * len(items)
    top_value = max_value if max_value else max((v for _, v, _ in items), default=0) or 1
    text_w = max(_label_width([i[2] for i in items], size - 1), 60)
    bar_w = width - label_width - text_w
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
             f' xmlns="http://www.w3.org/2000/svg" font-size="{size}">']
    for i, (label, value, text) in enumerate(items):
        y = top + i * row_h
        marked = marks is not None and label in marks
        fill = BAD if marked else color
        length = bar_w * max(value, 0) / top_value
        parts.append(f'<g class="hbar" data-value="{value}" data-max="{top_value}">'
                     f'<text x="{label_width - 8}" y="{y + 21}" text-anchor="end"'
                     f' fill="{BAD if marked else "#222"}">{escape(label)}</text>'
                     f'<rect class="track" x="{label_width}" y="{y + 5}" width="{bar_w}" height="{row_h - 10}" fill="#f0f0f0"/>'
                     f'<rect class="bar" x="{label_width}" y="{y + 5}" width="{length:.1f}" height="{row_h - 10}" fill="{fill}"/>'
                     f'<text class="v" x="{label_width + bar_w + 8}" y="{y + 21}" fill="{INK}" font-size="{size - 1}">'
                     f'{escape(text)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def rate_bars(rows: list[dict], label, width: int = 640, marks: set[str] | None = None) -> Markup:
    """Ranked rows (with good_rate) as bars of their good rate; `label(row)` names each bar."""
    items = [(label(r), (r["good_rate"] or 0) * 100, f'{_pct(r["good_rate"])}（{r["rated"]}评/{r["bad"]}差）')
             for r in rows if r["rated"]]
    return hbars(items, 100, width, GOOD, marks=marks)


def pct(rate: float | None) -> str:
    return _pct(rate)
