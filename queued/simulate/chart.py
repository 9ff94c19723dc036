"""Charts as hand-written SVG (no plotting library: the hall LAN has no CDN, and two charts do not
earn one): waits through the simulated day, and the planned windows per half hour.

Text names the CJK font the pages use, so Chinese renders in a browser and in LibreOffice alike.
"""

from __future__ import annotations

from html import escape
from typing import Any

from queued.simulate.day import DayResult
from queued.simulate.scenario import Scenario
from queued.simulate.summary import SLOT_S, p90, waits_by_slot

COLORS = ("#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#558b2f", "#283593",
          "#c62828")
YELLOW, RED, GRID, INK = "#f9a825", "#c62828", "#e0e0e0", "#555"
FONT = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif"


def _hhmm(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m // 60:02d}:{m % 60:02d}"


def _svg_open(width: int, height: int, label: str, standalone: bool) -> str:
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else ""
    return (f'{head}<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{escape(label)}"'
            f' viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="{FONT}" font-size="13">'
            f'<rect width="{width}" height="{height}" fill="#fff"/>')


def waits_svg(scenario: Scenario, results: list[DayResult], width: int = 960, height: int = 420,
              standalone: bool = True) -> str:
    """Mean wait of the tickets issued in each quarter hour, per business (lines), with the p90 of
    all of them (dashed) and the hall's yellow and red lines."""
    slots = waits_by_slot(results, SLOT_S)
    codes = [c for c in slots if any(slots[c].values())]
    keys = sorted({k for c in codes for k in slots[c]})
    label = "等候时间（按取号时刻，每15分钟）"
    if not keys:
        return _svg_open(width, height, label, standalone) + f'<text x="20" y="40">{label}：没有叫号</text></svg>'
    lo, hi = keys[0], keys[-1] + 1
    allp90 = {k: p90([w for c in codes for w in slots[c].get(k, [])]) for k in range(lo, hi)}
    yellow, red = scenario.hall.warn_wait_s
    top_s = max([v for v in allp90.values() if v is not None] + [red * 1.1])
    top_min = max(10, int((top_s / 60 + 9) // 10 * 10))
    left, right, top, bottom = 56, 150, 36, 44
    w, h = width - left - right, height - top - bottom

    def x(k: float) -> float:
        return left + (k - lo) / max(1, hi - lo) * w

    def y(seconds: float) -> float:
        return top + h - min(seconds / 60, top_min) / top_min * h

    parts = [_svg_open(width, height, label, standalone),
             f'<text x="{left}" y="22" font-size="15" fill="#222">{escape(label)}</text>']
    step = 10 if top_min <= 60 else 30 if top_min <= 180 else 60
    for m in range(0, top_min + 1, step):
        yy = y(m * 60)
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + w}" y2="{yy:.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="{INK}">{m}</text>')
    parts.append(f'<text x="14" y="{top + h / 2:.0f}" fill="{INK}" transform="rotate(-90 14 {top + h / 2:.0f})"'
                 f' text-anchor="middle">分钟</text>')
    for k in range(lo, hi + 1):
        if (k * SLOT_S) % 3600 == 0:
            parts.append(f'<line x1="{x(k):.1f}" y1="{top + h}" x2="{x(k):.1f}" y2="{top + h + 4}" stroke="{INK}"/>'
                         f'<text x="{x(k):.1f}" y="{top + h + 18}" text-anchor="middle" fill="{INK}">'
                         f'{_hhmm(k * SLOT_S)}</text>')
    for seconds, color, name in ((yellow, YELLOW, "黄线"), (red, RED, "红线")):
        yy = y(seconds)
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + w}" y2="{yy:.1f}" stroke="{color}"'
                     f' stroke-width="1.5" stroke-dasharray="2 3"/>'
                     f'<text x="{left + w + 6}" y="{yy + 4:.1f}" fill="{color}">{name} {seconds / 60:g}分</text>')
    legend_y = top + 8
    for i, code in enumerate(codes):
        color = COLORS[i % len(COLORS)]
        pts = []
        for k in range(lo, hi):
            ws = slots[code].get(k)
            if ws:
                pts.append(f"{x(k + 0.5):.1f},{y(sum(ws) / len(ws)):.1f}")
        if pts:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(pts)}"/>')
        name = scenario.hall.business_index[code].name if code in scenario.hall.business_index else code
        ly = legend_y + 46 + i * 18
        parts.append(f'<line x1="{left + w + 6}" y1="{ly - 4}" x2="{left + w + 24}" y2="{ly - 4}" stroke="{color}"'
                     f' stroke-width="2"/><text x="{left + w + 28}" y="{ly}" fill="#222">{escape(code)} {escape(name)}'
                     f'</text>')
    pts = [f"{x(k + 0.5):.1f},{y(v):.1f}" for k, v in allp90.items() if v is not None]
    if pts:
        parts.append(f'<polyline fill="none" stroke="#222" stroke-width="1.5" stroke-dasharray="6 4"'
                     f' points="{" ".join(pts)}"/>')
    parts.append(f'<line x1="{left + w + 6}" y1="{legend_y - 4}" x2="{left + w + 24}" y2="{legend_y - 4}"'
                 f' stroke="#222" stroke-dasharray="6 4"/><text x="{left + w + 28}" y="{legend_y}"'
                 f' fill="#222">全部 90%等候</text>'
                 f'<text x="{left + w + 6}" y="{legend_y + 26}" fill="{INK}">平均等候：</text>')
    parts.append(f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="{INK}"/>'
                 f'<text x="{left + w / 2:.0f}" y="{height - 6}" text-anchor="middle" fill="{INK}">取号时刻</text>'
                 '</svg>')
    return "".join(parts)


def plan_svg(plan: dict[str, Any], width: int = 960, height: int = 360, standalone: bool = False) -> str:
    """Planned windows per half hour, stacked by business."""
    rows = plan["slots"]
    codes = list(plan["businesses"])
    label = "建议开窗数（每半小时）"
    if not rows:
        return _svg_open(width, height, label, standalone) + "</svg>"
    most = max(1, max(r["total"] for r in rows))
    left, right, top, bottom = 44, 150, 44, 40
    w, h = width - left - right, height - top - bottom
    step = w / len(rows)
    parts = [_svg_open(width, height, label, standalone),
             f'<text x="{left}" y="20" font-size="15" fill="#222">{escape(label)}</text>']
    tick = max(1, (most + 4) // 5)
    for n in range(0, most + 1, tick):
        yy = top + h - n / most * h
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + w}" y2="{yy:.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="{INK}">{n}</text>')
    for i, r in enumerate(rows):
        base = top + h
        for j, code in enumerate(codes):
            n = r["windows"][code]
            if not n:
                continue
            bh = n / most * h
            parts.append(f'<rect x="{left + i * step + step * 0.12:.1f}" y="{base - bh:.1f}" width="{step * 0.76:.1f}"'
                         f' height="{bh:.1f}" fill="{COLORS[j % len(COLORS)]}"><title>{r["from"]}-{r["to"]}'
                         f' {escape(code)}：{n} 个窗口</title></rect>')
            base -= bh
        parts.append(f'<text x="{left + i * step + step / 2:.1f}" y="{top + h - r["total"] / most * h - 4:.1f}"'
                     f' text-anchor="middle" font-size="11" fill="#222">{r["total"]}</text>')
        if i % 2 == 0:
            parts.append(f'<text x="{left + i * step + step / 2:.1f}" y="{top + h + 18}" text-anchor="middle"'
                         f' fill="{INK}">{r["from"]}</text>')
    for j, code in enumerate(codes):
        ly = top + 14 + j * 18
        parts.append(f'<rect x="{left + w + 10}" y="{ly - 10}" width="12" height="12" fill="{COLORS[j % len(COLORS)]}"/>'
                     f'<text x="{left + w + 28}" y="{ly}" fill="#222">{escape(code)} {escape(plan["businesses"][code])}'
                     '</text>')
    parts.append("</svg>")
    return "".join(parts)
