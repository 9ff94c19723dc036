"""Charts drawn on the server as inline SVG: no script, no CDN (the hall LAN has no internet), and
they print. Text uses the page's font, so Chinese labels render with the CJK font the pages name.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

GOOD, BAD, MUTED, GRID = "#2e7d32", "#c62828", "#9e9e9e", "#e0e0e0"


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def rate_by_day(rows: list[dict], width: int = 720, height: int = 260) -> Markup:
    """Good rate per day as a line over columns of the day's ratings (差评 in red on top)."""
    if not rows:
        return Markup('<p class="muted">所选期间没有评价</p>')
    left, right, top, bottom = 48, 48, 20, 44
    w, h = width - left - right, height - top - bottom
    n = len(rows)
    step = w / n
    most = max(max(r["rated"] for r in rows), 1)
    parts = [f'<svg class="chart" role="img" aria-label="好评率（按日）" viewBox="0 0 {width} {height}"'
             f' width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="12">']
    for pct in (0, 25, 50, 75, 100):
        y = top + h - h * pct / 100
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{pct}%</text>')
    parts.append(f'<text x="{left + w + 6}" y="{top + 4}" fill="{MUTED}">{most}件</text>')
    points = []
    label_every = max(1, n // 10)
    for i, r in enumerate(rows):
        x = left + i * step
        bw = max(step * 0.6, 1)
        good_h = h * 0.9 * (r["rated"] - r["bad"]) / most
        bad_h = h * 0.9 * r["bad"] / most
        base = top + h
        parts.append(f'<rect x="{x + step * 0.2:.1f}" y="{base - good_h:.1f}" width="{bw:.1f}" height="{good_h:.1f}"'
                     f' fill="#c8e6c9"><title>{escape(str(r["key"]))}：评价 {r["rated"]} 件</title></rect>')
        if bad_h:
            parts.append(f'<rect x="{x + step * 0.2:.1f}" y="{base - good_h - bad_h:.1f}" width="{bw:.1f}"'
                         f' height="{bad_h:.1f}" fill="#ffcdd2"><title>差评 {r["bad"]} 件</title></rect>')
        if r["good_rate"] is not None:
            points.append((x + step / 2, top + h - h * r["good_rate"], r))
        if i % label_every == 0:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{top + h + 16}" text-anchor="middle" fill="#555">'
                         f'{escape(str(r["key"])[5:])}</text>')
    if points:
        parts.append('<polyline fill="none" stroke="{}" stroke-width="2.5" points="{}"/>'.format(
            GOOD, " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)))
        for x, y, r in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{GOOD}"><title>{escape(str(r["key"]))}'
                         f' 好评率 {_pct(r["good_rate"])}</title></circle>')
    parts.append(f'<text x="{left}" y="{height - 6}" fill="#555">'
                 f'<tspan fill="{GOOD}">━ 好评率</tspan>　<tspan fill="#81c784">■ 评价件数</tspan>'
                 f'　<tspan fill="#e57373">■ 差评件数</tspan></text></svg>')
    return Markup("".join(parts))


def hbars(items: list[tuple[str, float, str]], max_value: float | None = None, width: int = 520,
          color: str = GOOD, label_width: int = 130, marks: set[str] | None = None) -> Markup:
    """Horizontal bars: (label, value, text shown at the bar's end). Labels in `marks` are red."""
    if not items:
        return Markup('<p class="muted">所选期间没有数据</p>')
    row_h, top = 26, 6
    height = top * 2 + row_h * len(items)
    top_value = max_value if max_value else max((v for _, v, _ in items), default=0) or 1
    bar_w = width - label_width - 160  # room for "87.5%（16评/2差）" at the end
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
             f' xmlns="http://www.w3.org/2000/svg" font-size="13">']
    for i, (label, value, text) in enumerate(items):
        y = top + i * row_h
        marked = marks is not None and label in marks
        fill = BAD if marked else color
        length = bar_w * max(value, 0) / top_value
        parts.append(f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end"'
                     f' fill="{BAD if marked else "#222"}">{escape(label)}</text>'
                     f'<rect x="{label_width}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" fill="#f3f3f3"/>'
                     f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}" fill="{fill}"/>'
                     f'<text x="{label_width + bar_w + 6}" y="{y + 17}" fill="#333">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def rate_bars(rows: list[dict], label, width: int = 520, marks: set[str] | None = None) -> Markup:
    """Ranked rows (with good_rate) as bars of their good rate; `label(row)` names each bar."""
    items = [(label(r), (r["good_rate"] or 0) * 100, f'{_pct(r["good_rate"])}（{r["rated"]}评/{r["bad"]}差）')
             for r in rows if r["rated"]]
    return hbars(items, 100, width, GOOD, marks=marks)


def pct(rate: float | None) -> str:
    return _pct(rate)
