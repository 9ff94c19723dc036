"""办件 from the 一窗受理 system: `POST /api/v1/windows/{window}/cases` binds one to the ticket the
window is serving (http-api.md 1.1, Cases).

Who may bind: an `integration` token (the 一窗受理 system) or `admin`, for any window; a `clerk`
token for its own window only. Everything is checked before the decision, and the engine checks the
window's state and the 办件编号 again in it, so a refused binding changes nothing:
- the body: only the spec's fields, each a string of bounded length; `project_no` printable ASCII
  without spaces (办件编号 are letters, digits and `-`/`_`); the phone digits with `+`, `-`, spaces;
- a `project_no` bound today, or finished with a ticket on any day, is refused (the engine knows
  today's bindings; finished ones are in `cases`, whose unique index must never be what refuses
  it). One bound on an earlier day to a ticket that was never finished (挂起 overnight, 容缺受理:
  the citizen comes back with the missing document) may be bound again: its old binding is
  replaced (the projection's INSERT OR REPLACE).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from queued.core import commands as c
from queued.web.errors import ApiError
from queued.web.inputs import field, json_body, no_unknown, principal

PROJECT_NO = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]{0,63}")
CODE = re.compile(r"[0-9A-Za-z_.\-]{0,64}")
PHONE = re.compile(r"[0-9+\- ]{0,32}")
APPLICANT_TYPES = ("1", "2", "3", "4", "9")  # userProp: 1 个人, 2 法人, 3 其他组织, 4 个体工商户, 9 其他


def _code(data: dict, name: str, pattern: re.Pattern, what: str, required: bool = False) -> str:
    value = field(data, name, str, ... if required else "", max_len=64)
    if not pattern.fullmatch(value):
        raise ApiError("invalid_request", f"字段 {name} 须为{what}（field {name!r} must be {what}）")
    return value


def case_command(window: str, data: dict) -> c.BindCase:
    """The body as a BindCase, or a 4xx naming the first bad field."""
    no_unknown(data, "project_no", "item_code", "item_name", "dept_code", "applicant")
    project_no = _code(data, "project_no", PROJECT_NO, "办件编号：字母、数字、-、_，1 至 64 位", required=True)
    item_code = _code(data, "item_code", CODE, "事项编码：字母、数字、-、_")
    dept_code = _code(data, "dept_code", CODE, "部门编码（统一社会信用代码）：字母和数字")
    item_name = field(data, "item_name", str, "", max_len=200).strip()
    applicant = field(data, "applicant", dict, {})
    no_unknown(applicant, "name", "id_number", "phone", "type")
    name = field(applicant, "name", str, "", max_len=100).strip()
    id_number = _code(applicant, "id_number", CODE, "证件号码：字母和数字")
    phone = field(applicant, "phone", str, "", max_len=32).strip()
    if not PHONE.fullmatch(phone):
        raise ApiError("invalid_request", "字段 phone 须为电话号码：数字、+、-（field 'phone' must be a phone number）")
    kind = field(applicant, "type", str, "1", APPLICANT_TYPES)
    return c.BindCase(window, project_no, item_code, item_name, dept_code, name, id_number, phone, kind)


async def bind_case(request: Request) -> JSONResponse:
    rt = request.app.state.runtime
    window = request.path_params["window"]
    p = await principal(request)
    if p is None:
        raise ApiError("unauthorized", "需要登录令牌（missing 'Authorization: Bearer TOKEN'）")
    if p.role == "clerk":
        if p.window != window:
            raise ApiError("forbidden", f"此令牌只能操作{p.window}号窗口（this clerk token is bound to window {p.window}）")
    elif not p.can("cases"):
        raise ApiError("forbidden", f"角色 {p.role} 不能绑定办件（role {p.role!r} may not bind cases）")
    if window not in rt.engine.windows:
        raise ApiError("unknown_window", f"没有{window}号窗口（no window {window!r}）")
    cmd = case_command(window, await json_body(request))
    row = await rt.journal.fetchone(
        "SELECT b.day, EXISTS (SELECT 1 FROM cases c WHERE c.project_no = b.project_no) AS finished"
        " FROM case_bindings b WHERE b.project_no = ?", (cmd.project_no,))
    if row is not None and (row["finished"] or row["day"] >= rt.calendar.day(rt.clock())):
        raise ApiError("duplicate_case", f"办件 {cmd.project_no} 已于 {row['day']} 绑定过"
                                         f"（project_no {cmd.project_no!r} is already bound）")
    (bound,), _ = await rt.execute(cmd)
    return JSONResponse({"case": bound.case, "ticket": bound.ticket, "project_no": bound.project_no,
                         "window": bound.window, "bound_at": rt.iso(bound.at)}, status_code=201)


routes = [Route("/api/v1/windows/{window}/cases", bind_case, methods=["POST"])]
