"""The simulator's answers as a director reads them (text tables, Chinese heads), as JSON (the
issue's keys) and as CSV (UTF-8 with a BOM and CRLF, first row the JSON keys, as the reports')."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from typing import Any


def width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def table(heads: list[str], rows: list[list[str]], right_from: int = 1) -> str:
    """Columns padded by display width (a CJK character is two columns)."""
    cols = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(heads)]

    def line(cells: list[str]) -> str:
        out = []
        for i, (cell, w) in enumerate(zip(cells, cols, strict=True)):
            pad = " " * (w - width(cell))
            out.append(pad + cell if i >= right_from else cell + pad)
        return "  ".join(out).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in cols])] + [line(r) for r in rows])


def minutes(s: float | None) -> str:
    return "—" if s is None else f"{s / 60:.1f}"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _num(x: Any) -> str:
    return "—" if x is None else f"{x:,}" if isinstance(x, int) else f"{x:,.1f}"


# ---- one scenario -------------------------------------------------------------------------------

def summary_text(s: dict[str, Any], title: str = "") -> str:
    days = s["days"]
    yellow, red = (x / 60 for x in s["lines_s"])
    tot = s["total"]
    per_day = tot["tickets"] / days if days else 0
    out = []
    if title:
        out.append(title)
    out.append(f"模拟 {days} 个工作日（随机种子 {s['seed']}），每日平均取号 {per_day:,.0f} 张；"
               f"等候时间单位：分钟；黄线 {yellow:g} 分钟、红线 {red:g} 分钟；件数为 {days} 天合计")
    rows = []
    for code, b in s["businesses"].items():
        rows.append([f"{code} {b['name']}", _num(b["tickets"]), _num(b["served"]), minutes(b["mean_wait_s"]),
                     minutes(b["p90_wait_s"]), minutes(b["max_wait_s"]), _num(b["over_yellow"]),
                     _num(b["over_red"]), pct(b["skip_rate"]), pct(b.get("saturation")), _num(b["left_over"]),
                     _num(b["refused"]), minutes(b["eta_error_mean_s"])])
    rows.append(["合计", _num(tot["tickets"]), "", minutes(tot["mean_wait_s"]), minutes(tot["p90_wait_s"]),
                 minutes(tot["max_wait_s"]), _num(tot["over_yellow"]), _num(tot["over_red"]),
                 pct(tot["skip_rate"]), "", _num(tot["left_over"]), _num(tot["refused"]),
                 minutes(s["eta_error"]["mean_s"])])
    out += ["", "按业务", table(["业务", "取号", "办结", "平均等候", "90%等候", "最长等候", "超黄线", "超红线",
                                 "弃号率", "饱和度", "留号", "未取到号", "预计误差"], rows)]
    rows = []
    for w in s["windows"].values():
        rows.append([w["name"], _num(w["served"]), pct(w["saturation"]), _num(w["extended_minutes"]),
                     minutes(w["mean_wait_s"]), minutes(w["p90_wait_s"]), minutes(w["max_wait_s"]),
                     _num(w["over_yellow"]), _num(w["over_red"]), _num(w["no_shows"]),
                     _num(w["open_minutes"] / 60 if w["open_minutes"] is not None else None),
                     _num(w["paused_minutes"])])
    out += ["", "按窗口", table(["窗口", "办结", "饱和度", "延时(分)", "平均等候", "90%等候", "最长等候", "超黄线",
                                 "超红线", "过号", "开窗(时)", "暂停(分)"], rows)]
    eta = s["eta_error"]
    out += ["", f"预计等候误差（取号时显示的预计等候与实际等候之差）：平均 {minutes(eta['mean_s'])} 分钟，"
                f"90% 不超过 {minutes(eta['p90_s'])} 分钟（{eta['tickets']:,} 张）",
            f"延时服务合计 {_num(tot['extended_minutes'])} 分钟；留号 {tot['left_over']:,} 张；"
            f"未取到号（取号截止或超出限额）{tot['refused']:,} 人"]
    if s.get("overran_days"):
        out.append(f"注意：有 {s['overran_days']} 天到 23:55 仍未办完，余下的号按留号计。")
    if s.get("assumed_service"):
        out.append("注意：以下业务未给出办理时长，按大厅默认值估算：" + "、".join(s["assumed_service"]))
    return "\n".join(out)


SUMMARY_FIELDS = ("kind", "key", "name", "tickets", "served", "mean_wait_s", "p90_wait_s", "max_wait_s",
                  "over_yellow", "over_red", "skip_rate", "saturation", "extended_minutes", "left_over", "refused",
                  "eta_error_mean_s", "no_shows", "open_minutes", "busy_minutes", "paused_minutes")


def to_csv(rows: list[dict[str, Any]], fields: tuple[str, ...] | list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(fields)
    for row in rows:
        w.writerow(["" if row.get(f) is None else row.get(f) for f in fields])
    return "\ufeff" + buf.getvalue()


def summary_rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"kind": "business", "key": code, **b} for code, b in s["businesses"].items()]
    rows += [{"kind": "window", "key": wid, **w} for wid, w in s["windows"].items()]
    rows.append({"kind": "total", "key": "", "name": "合计", **s["total"], "eta_error_mean_s": s["eta_error"]["mean_s"]})
    return rows


# ---- what-if -------------------------------------------------------------------------------------

LABELS = {"mean_wait_s": "平均等候(分)", "p90_wait_s": "90%等候(分)", "max_wait_s": "最长等候(分)",
          "over_yellow": "超黄线(张/日)", "over_red": "超红线(张/日)", "skip_rate": "弃号率",
          "left_over": "留号(张/日)", "extended_minutes": "延时(分/日)", "eta_error_mean_s": "预计误差(分)"}


def _metric_label(key: str, businesses: dict[str, Any]) -> str:
    if "." in key:
        code, _, m = key.partition(".")
        name = businesses.get(code, {}).get("name", "")
        return f"{code} {name} {LABELS.get(m, m)}"
    return LABELS.get(key, key)


def _fmt(key: str, v: float | None, sign: str = "", prefix: str = "") -> str:
    """A figure as the report prints it: minutes for `_s`, a percentage for the skip rate.
    `sign="+"` for a difference, `prefix="±"` for a confidence interval."""
    if v is None:
        return "—"
    if key.endswith("_s"):
        return f"{prefix}{v / 60:{sign}.1f}"
    if key == "skip_rate":
        return f"{prefix}{v * 100:{sign}.1f}%"
    return f"{prefix}{v:{sign},.1f}"


def _fmt_diff(key: str, v: float | None) -> str:
    return _fmt(key, v, sign="+")


def _fmt_ci(key: str, v: float | None) -> str:
    return _fmt(key, v, prefix="±")


def compare_text(c: dict[str, Any], name_a: str, name_b: str) -> str:
    days = c["days"]
    out = [f"方案比较：A = {name_a}，B = {name_b}；同样的 {days} 个模拟工作日（随机种子 {c['seed']}，共同随机数）",
           "各项为每日平均；差值 = B − A，负数表示 B 更好；“±”为差值均值的 95% 区间"]
    rows = []
    for key, d in c["difference"].items():
        rows.append([_metric_label(key, c["a"]["businesses"]), _fmt(key, d["a"]), _fmt(key, d["b"]),
                     _fmt_diff(key, d["mean"]), _fmt_ci(key, d["ci95"]), f"{d['b_better_days']}/{days}",
                     f"{d['a_better_days']}/{days}"])
    out += ["", table(["指标", "A", "B", "差值 B−A", "95%区间", "B更好天数", "A更好天数"], rows)]
    return "\n".join(out)


COMPARE_FIELDS = ("metric", "a", "b", "mean", "sd", "ci95", "b_better_days", "a_better_days")


def compare_rows(c: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"metric": k, **d} for k, d in c["difference"].items()]


# ---- planner -------------------------------------------------------------------------------------

def plan_text(p: dict[str, Any]) -> str:
    codes = list(p["businesses"])
    target = p["target_p90_s"] / 60
    out = [f"窗口排班建议：每半小时最少开几个窗口，使每个业务在该半小时取号的人 90% 等候不超过 {target:g} 分钟",
           f"（按业务专窗计算；{p['days']} 个模拟工作日，随机种子 {p['seed']}，共模拟 {p['simulations']} 次）", ""]
    heads = ["时段"] + [f"{c} {p['businesses'][c]}" for c in codes] + ["合计", "最长90%等候(分)"]
    rows = []
    for r in p["slots"]:
        worst = max((v for v in r["p90_wait_s"].values() if v is not None), default=None)
        rows.append([f"{r['from']}-{r['to']}"] + [str(r["windows"][c]) for c in codes] + [str(r["total"]),
                                                                                          minutes(worst)])
    hours = p["window_hours"]
    rows.append(["窗口·小时"] + [f"{hours[c]:g}" for c in codes] + [f"{p['total_window_hours']:g}", ""])
    out.append(table(heads, rows))
    unmet = [c for c, ok in p["met"].items() if not ok]
    if unmet:
        out.append("注意：以下业务即使增开窗口也达不到目标（需求超过可开窗口或办理太慢）：" + "、".join(unmet))
    s = p["summary"]
    out += ["", f"按此排班的模拟结果：平均等候 {minutes(s['total']['mean_wait_s'])} 分钟，"
                f"90% 等候 {minutes(s['total']['p90_wait_s'])} 分钟，超黄线 {s['total']['over_yellow']:,} 张，"
                f"延时 {s['total']['extended_minutes']:,.0f} 分钟，留号 {s['total']['left_over']:,} 张（{s['days']} 天合计）"]
    return "\n".join(out)


def plan_rows(p: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r in p["slots"]:
        row = {"from": r["from"], "to": r["to"], "total": r["total"]}
        for code, n in r["windows"].items():
            row[f"windows_{code}"] = n
            row[f"p90_wait_s_{code}"] = r["p90_wait_s"][code]
        rows.append(row)
    return rows


def plan_fields(p: dict[str, Any]) -> list[str]:
    codes = list(p["businesses"])
    return ["from", "to", "total"] + [f"windows_{c}" for c in codes] + [f"p90_wait_s_{c}" for c in codes]


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)
