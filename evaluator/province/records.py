"""What each profile sends (province.md §1–2): records built from an outbox row, its case and
`[province]`, as pure functions. Built again for every attempt from the same frozen inputs, so a
resend carries the same payload (D1); `digest` proves it in the receipts without keeping the
personal data (a keyed hash: the digest of a record cannot be searched for an ID number).

Times are the true event times in hall local time (D8): assessTime is when the citizen rated,
serviceTime the end of the service rated (the 办结, or the rectification for a 二次评价), never
moved back; acceptDate is when the 办件 was bound at the window.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from evaluator.national import pf_code
from evaluator.province.settings import ProvinceSettings

# The row the sender reads: outbox columns plus these from `cases` (the cases contract).
CASE_COLUMNS = ("item_code", "item_name", "dept_code", "applicant_name", "applicant_id", "applicant_phone",
                "applicant_type", "bound_at", "finished_at")
ZJ_DEFAULT_PF = "7"  # zhejiang: 系统默认评价


def when(ts: float | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, tz).strftime(fmt)


def pf(row: dict) -> str:
    """评价渠道: pad 4, ticket QR 3, WeChat 2, web 1, other hall terminals 5; a default 7 (zj only)."""
    if row["kind"] == "default":
        return ZJ_DEFAULT_PF
    return str(pf_code(row["channel"], False))


def eval_detail(row: dict, s: ProvinceSettings, reasons: tuple[str, ...]) -> tuple[str, str]:
    """(evalDetail codes, writingEvaluation). Reasons the code table does not know go into the text
    when the citizen wrote none, so a 差评's reason still reaches the platform; nothing is added."""
    codes, uncoded = [], []
    for bit in range(len(reasons)):
        if row["reasons"] & (1 << bit):
            (codes.append(s.eval_detail[bit]) if bit in s.eval_detail else uncoded.append(reasons[bit]))
    text = row["comment"] or "、".join(uncoded)
    return ",".join(codes), text


def project_no(row: dict, s: ProvinceSettings) -> str:
    return s.project_prefix + row["project_no"]


def zhejiang_form(row: dict, s: ProvinceSettings, tz: ZoneInfo, clerk_name: str, reasons: tuple[str, ...]) -> dict:
    """The flat form of `offlinereport.do` (§2.1), every value a string, in the seen order."""
    detail, text = eval_detail(row, s, reasons)
    return {
        "areaCode": s.area_code, "areaName": s.area_name, "deptCode": row["dept_code"] or s.dept_code,
        "taskCode": (row["item_code"] or "")[:31], "taskHandleItem": "", "taskName": row["item_name"] or "",
        "subMatter": "", "projectNo": project_no(row, s), "proStatus": "3", "proDepartCode": s.depart_code,
        "proDepart": s.depart_name, "proManager": clerk_name, "pf": pf(row),
        "certkeyGOV": row["applicant_id"] or "", "userName": row["applicant_name"] or "",
        "userProp": row["applicant_type"] or "1", "satisfaction": str(row["level"]), "evalDetail": detail,
        "writingEvaluation": text, "assessTime": when(row["rated_at"], tz), "assessNumber": str(row["seq"]),
        "appStatus": "", "promiseTime": s.promise_code,
        "acceptDate": when(row["bound_at"] if row["bound_at"] is not None else row["finished_at"], tz),
        "dataSource": s.data_source,
    }


def _task_type(s: ProvinceSettings) -> str:
    """事项类型 as shandong takes it: 01 05 07 08 09 10 20 pass, 11 → 20, anything else → 99."""
    t = s.task_type
    return t if t in ("01", "05", "07", "08", "09", "10", "20") else "20" if t == "11" else "99"


def shandong_rating(row: dict, s: ProvinceSettings, tz: ZoneInfo, reasons: tuple[str, ...]) -> dict:
    """The plaintext of one 线下评价 (§2.2), for `params.evaluate`."""
    detail, text = eval_detail(row, s, reasons)
    return {"projectNo": project_no(row, s), "serviceNumber": row["seq"], "satisfaction": str(row["level"]),
            "pf": pf(row), "name": row["applicant_name"] or "", "evalDetail": detail, "writingEvaluation": text,
            "assessTime": when(row["rated_at"], tz), "taskType": _task_type(s)}


def shandong_service(row: dict, s: ProvinceSettings, tz: ZoneInfo, clerk_name: str) -> dict:
    """The plaintext of one 办件服务 record (§2.2): service `seq` of the case. Fields whose value the
    hall does not have (promise days, agents, credit numbers) are left out, not invented."""
    code = row["item_code"] or ""
    dept = row["dept_code"] or s.dept_code
    out = {
        "areaCode": s.area_code, "deptCode": dept, "taskType": _task_type(s), "taskCode": code[:31],
        "proTaskCode": code, "taskHandleItem": code if len(code) == 33 else "", "subMatter": "",
        "taskName": row["item_name"] or "", "proTaskName": row["item_name"] or "", "projectNo": project_no(row, s),
        "proProjectNo": row["project_no"], "projectName": row["item_name"] or "", "proStatus": "3",
        "proDepart": s.depart_name, "userName": row["applicant_name"] or "", "userProp": row["applicant_type"] or "1",
        "acceptDate": when(row["bound_at"] if row["bound_at"] is not None else row["finished_at"], tz),
        "deptName": s.depart_name, "proChannel": "2", "promiseTime": s.promise_code,
        "certKeyGOV": row["applicant_id"] or "", "orgcode": f"{s.area_code}_{dept}", "orgName": s.depart_name,
        "proManager": clerk_name, "userPageType": "111", "serviceName": "办结" if row["seq"] == 1 else "整改",
        "serviceNumber": row["seq"], "serviceTime": when(row["served_at"], tz), "dataSource": s.data_source,
        "projectType": s.promise_code, "resultDate": when(row["finished_at"], tz),
    }
    if s.send_mobile:
        out["mobile"] = row["applicant_phone"] or ""
    return out


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def digest(record: dict[str, Any], key: str) -> str:
    return hmac.new(key.encode(), canonical(record), hashlib.sha256).hexdigest()[:32]
