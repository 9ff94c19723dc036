"""The national 好差评 export: what provincial platforms take from a hall, one row per rating.

Two numbering schemes for satisfaction exist and point opposite ways; `SATISFACTION` below is the
only place our levels are translated:
- "national" (the 全国一体化政务服务平台 好差评 interface): 1 非常不满意 … 5 非常满意 — our own order.
- "gbt" (GB/T 39046-2020): 1 非常满意 … 5 非常不满意.

Channel code pf: 1 PC, 2 mobile, 3 QR code, 4 hall pad, 5 other hall terminal, 6 phone, 7 SMS.
Our channels map as in `PF`; a 系统默认评价 takes `default_pf` (config `[hall] default_rating_pf`,
7 by default as some provinces do; a hall whose province wants 5 sets that).
Unrated cases are not ratings and are not exported. `case_no` is the 办件编号 the 一窗受理 system bound
(POST /api/v1/windows/{w}/cases); a rating of a ticket served with no 办件 bound has none, and the
export leaves it empty rather than invent one (such a rating cannot be reported as a case's);
`local_no` (`hall-case id`) is the hall's own id of the case, for tracing a row, never a 办件编号.
事项 and department come from the 办件, else from the business's `item_code`/`dept_code`. Rater data is masked: the WeChat openid keeps
its first 3 and last 2 characters; ID-card and mobile numbers typed into a comment are masked.
"""

from __future__ import annotations

import re
from typing import Any

SCHEMES = ("national", "gbt")
SATISFACTION = {
    "national": {5: 5, 4: 4, 3: 3, 2: 2, 1: 1},
    "gbt": {5: 1, 4: 2, 3: 3, 2: 4, 1: 5},
}
SATISFACTION_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
PF = {"web": 1, "wechat": 2, "qr": 3, "pad": 4}
DEFAULT_PF = 7

FIELDS = ("case_no", "local_no", "item_code", "item_name", "department", "region_code", "window", "clerk", "clerk_name", "pf",
          "satisfaction", "satisfaction_name", "defaulted", "reason_codes", "reasons", "comment", "rater",
          "served_at", "rated_at")
LABELS = {
    "case_no": "办件编号", "local_no": "本厅编号", "item_code": "事项编码", "item_name": "事项名称", "department": "实施部门",
    "region_code": "行政区划代码", "window": "窗口", "clerk": "工号", "clerk_name": "工作人员", "pf": "评价渠道",
    "satisfaction": "满意度", "satisfaction_name": "满意度名称", "defaulted": "系统默认评价",
    "reason_codes": "差评原因编号", "reasons": "差评原因", "comment": "评价内容", "rater": "评价人",
    "served_at": "办结时间", "rated_at": "评价时间",
}

_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def satisfaction(level: int, scheme: str) -> int:
    """Our level (5 非常满意 … 1 非常不满意) in the target's numbering."""
    return SATISFACTION[scheme][level]


def pf_code(channel: str, defaulted: bool, default_pf: int = DEFAULT_PF) -> int:
    if defaulted or channel == "default":
        return default_pf
    return PF.get(channel, 5)


def mask_text(text: str) -> str:
    text = _ID_CARD.sub(lambda m: m.group(1) + "*" * 8 + m.group(2), text)
    return _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


def mask_openid(openid: str | None) -> str:
    if not openid:
        return ""
    if len(openid) <= 5:
        return "*" * len(openid)
    return openid[:3] + "*" * (len(openid) - 5) + openid[-2:]


def reason_list(mask: int) -> list[int]:
    """1-based reason numbers of a bitmask (bit i = reason i+1)."""
    return [i + 1 for i in range(16) if mask >> i & 1]


def department(config, dept_code: str | None, business: str) -> str:
    """A case's department: its own (from the 办件), else its business's `dept_code`, else the hall's."""
    return dept_code or config.dept_codes.get(business, "") or config.department


async def national_rows(journal, config, start: str, end: str, scheme: str, iso) -> list[dict[str, Any]]:
    hall = config.hall
    default_pf = config.default_rating_pf
    rows = await journal.fetchall(
        "SELECT r.case_id, r.business, r.window, r.clerk, r.level, r.reasons, r.comment, r.channel, r.defaulted,"
        " r.at, c.finished_at, c.project_no, c.item_code, c.item_name, c.dept_code, t.openid FROM ratings r JOIN cases c ON c.case_id = r.case_id"
        " LEFT JOIN tickets t ON t.id = r.ticket"
        " WHERE r.day BETWEEN ? AND ? AND r.level IS NOT NULL ORDER BY r.case_id", (start, end))
    out = []
    for r in rows:
        level = r["level"]
        clerk = hall.clerk_index.get(r["clerk"]) if r["clerk"] else None
        business = hall.business_index.get(r["business"])
        bad = level <= 2
        codes = reason_list(r["reasons"]) if bad else []
        out.append({
            # The 一窗受理 system's 办件编号; a ticket served with none bound has none (never invented).
            "case_no": r["project_no"] or "",
            "local_no": f"{hall.id}-{r['case_id']}",  # the hall's own case id, to trace a row back
            "item_code": r["item_code"] or config.item_codes.get(r["business"], ""),
            "item_name": r["item_name"] or (business.name if business else r["business"]),
            "department": department(config, r["dept_code"], r["business"]),
            "region_code": config.region_code,
            "window": r["window"],
            "clerk": r["clerk"] or "",
            "clerk_name": clerk.name if clerk else "",
            "pf": pf_code(r["channel"], bool(r["defaulted"]), default_pf),
            "satisfaction": satisfaction(level, scheme),
            "satisfaction_name": SATISFACTION_NAMES[level],
            "defaulted": int(r["defaulted"]),
            "reason_codes": ",".join(map(str, codes)),
            "reasons": ";".join(hall.reasons[i - 1] for i in codes if i <= len(hall.reasons)),
            "comment": mask_text(r["comment"] or ""),
            "rater": mask_openid(r["openid"]),
            "served_at": iso(r["finished_at"]),
            "rated_at": iso(r["at"]),
        })
    return out
