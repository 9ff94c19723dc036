"""`GET /openapi.json` (public): an OpenAPI 3.1 document of every route the running daemon serves.

The paths and methods come from the app's own routes (every adapter's, so nothing can be left
out); each operation gets the small schema of `HINTS` (query parameters, a JSON or form body, path
parameters) where one is written, and a generic one otherwise. It documents the surface for
integrators and drives the fuzz test over every route (tests/security/test_fuzz_routes.py).
`x-pool` names a kind of value the caller may have seen (a ticket id, a rating key, a case): the
fuzz test fills it from earlier replies to reach past the look-ups. `x-stream` marks server-sent
event streams, `x-fuzz-valid: false` a body not to be generated valid (a planner run would start).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

S: dict = {"type": "string"}
INT: dict = {"type": "integer"}
BOOL: dict = {"type": "boolean"}
DAY: dict = {"type": "string", "format": "date"}
MONTH: dict = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}
BUSINESS: dict = {"type": "string", "x-pool": "business"}
TICKET: dict = {"type": "string", "x-pool": "ticket"}
WINDOW: dict = {"type": "string", "x-pool": "window"}
CASE: dict = {"type": "integer", "minimum": 0, "maximum": 4294967295, "x-pool": "case"}


def enum(*values: str) -> dict:
    return {"type": "string", "enum": list(values)}


def obj(**props: dict) -> dict:
    return {"type": "object", "properties": props, "additionalProperties": False}


REPORT_QUERY = {"from": DAY, "to": DAY, "group_by": enum("clerk", "window", "business", "day"),
                "format": enum("json", "csv", "xlsx")}
RANGE = {"from": DAY, "to": DAY}
WINDOW_ACTIONS = ("call-next", "recall", "skip", "start", "resume", "close", "sign-out", "finish", "pause", "park",
                  "transfer", "call", "sign-in", "unpark")
FOLLOWUP_ACTIONS = ("callback", "rectify", "verdict", "appeal", "decide-appeal")

# path → method → {"summary", "path": {name: schema}, "query": {...}, "json": schema, "form": {...}, ...}
HINTS: dict[str, dict[str, dict[str, Any]]] = {
    "/api/v1/hall": {"GET": {"summary": "(public) businesses, open or not, waiting"}},
    "/api/v1/tickets": {"POST": {"summary": "take a number (kiosk/desk token, or a WeChat session)",
                                 "json": obj(business=BUSINESS, channel=enum("kiosk", "wechat", "desk"),
                                             priority=enum("normal", "green"), openid=S)}},
    "/api/v1/tickets/{ticket_id}": {
        "GET": {"summary": "(public) one ticket", "path": {"ticket_id": TICKET}},
        "DELETE": {"summary": "cancel: the holder (key or WeChat session) or staff", "path": {"ticket_id": TICKET},
                   "json": obj(key={"type": "string", "x-pool": "rating_key"}, openid=S)}},
    "/api/v1/windows": {"GET": {"summary": "every window"}},
    "/api/v1/windows/{window}": {"GET": {"summary": "one window", "path": {"window": WINDOW}}},
    "/api/v1/windows/{window}/{action}": {"POST": {
        "summary": "a window action (clerk of that window, admin)",
        "path": {"window": WINDOW, "action": enum(*WINDOW_ACTIONS)},
        "json": obj(number={"type": "string", "x-pool": "number"}, business=BUSINESS, window=WINDOW,
                    place=enum("front", "end", "issued"), reason=S, ticket=TICKET,
                    outcome=enum("done", "accepted_pending", "returned", "consulted", "failed"), note=S,
                    clerk=enum("1001", "1002", "9999"), pin=S)}},
    "/healthz": {"GET": {"summary": "(public) liveness"}},
    "/metrics": {"GET": {"summary": "Prometheus metrics"}},
    "/openapi.json": {"GET": {"summary": "(public) this document"}},
    "/screen": {"GET": {"summary": "the waiting-area screen", "query": {"token": S, "window": WINDOW}}},
    "/screen/state": {"GET": {"summary": "the screen's state", "query": {"window": WINDOW}}},
    "/screen/window/{window}": {"GET": {"summary": "one window's LCD page", "path": {"window": WINDOW}}},
    "/events/screen": {"GET": {"summary": "server-sent events of the screen", "x-stream": True,
                               "query": {"token": S, "window": WINDOW}}},
    "/audio/calls/{call}.wav": {"GET": {"summary": "a call's speech", "path": {"call": S}}},
    "/api/v1/ratings": {"POST": {"summary": "rate a case: the holder only",
                                 "json": obj(ticket=TICKET, key={"type": "string", "x-pool": "rating_key"},
                                             case=CASE, level={"type": "integer", "minimum": 1, "maximum": 5},
                                             reasons={"type": "array", "items": INT}, comment=S)}},
    "/api/v1/windows/{window}/cases": {"POST": {
        "summary": "bind a 办件 to the window's current ticket (integration, admin, the window's clerk)",
        "path": {"window": WINDOW},
        "json": obj(project_no=S, item_code=S, item_name=S, dept_code=S,
                    applicant=obj(name=S, id_number=S, phone=S, type=enum("1", "2", "3", "4", "9")))}},
    "/api/v1/tickets/{ticket_id}/cases": {"GET": {
        "summary": "a ticket's 办件 and their rating state (integration, supervisor; the holder by X-Rating-Key)",
        "path": {"ticket_id": TICKET}}},
    "/api/v1/reviews/{case}": {"GET": {"summary": "one review", "path": {"case": CASE}}},
    "/api/v1/reports/reviews": {"GET": {"summary": "review report",
                                        "query": {**REPORT_QUERY, "group_by": enum("clerk", "window", "business",
                                                                                   "day", "dept")}}},
    "/api/v1/reports/queues": {"GET": {"summary": "queue report", "query": REPORT_QUERY}},
    "/api/v1/reports/national": {"GET": {"summary": "the national export", "query": {**RANGE, "format": S,
                                                                                      "scheme": S}}},
    "/api/v1/reports/failed": {"GET": {"summary": "办不成事 ledger", "query": {**RANGE, "format": S}}},
    "/api/v1/followups": {"GET": {"summary": "差评 follow-ups", "query": {
        "state": S, "overdue": S, "window": WINDOW, **RANGE}}},
    "/api/v1/followups/{case}": {"GET": {"summary": "one follow-up", "path": {"case": CASE}}},
    "/api/v1/followups/{case}/{action}": {"POST": {
        "summary": "a follow-up step", "path": {"case": CASE, "action": enum(*FOLLOWUP_ACTIONS)},
        "json": obj(contacted=BOOL, note=S, by=S, called_at={"type": "string", "format": "date-time"},
                    mode=S, plan_date=DAY, verdict=S, reason=S, upheld=BOOL)}},
    "/api/v1/reports/followups": {"GET": {"summary": "follow-up report", "query": {**RANGE, "format": S}}},
    "/api/v1/hall/live": {"GET": {"summary": "the supervisor's live hall"}},
    "/admin": {"GET": {"summary": "supervisor pages"}},
    "/admin/login": {"GET": {"summary": "sign-in page", "query": {"next": S}},
                     "POST": {"summary": "sign in with a token", "form": {"token": S, "next": S}}},
    "/admin/logout": {"POST": {"summary": "sign out"}},
    "/admin/reviews": {"GET": {"summary": "reviews page", "query": {**RANGE, "group_by": S}}},
    "/admin/followups": {"GET": {"summary": "follow-ups page", "query": {"state": S, **RANGE}}},
    "/admin/followups/{case}": {"GET": {"summary": "one follow-up page", "path": {"case": CASE}}},
    "/results": {"GET": {"summary": "(public) the month's results", "query": {"month": MONTH}}},
    "/admin/province": {"GET": {"summary": "province push page"}},
    "/api/v1/province/outbox": {"GET": {"summary": "province outbox", "query": {"state": S, "limit": S}}},
    "/api/v1/province/records/{rating_id}": {"GET": {"summary": "one pushed record", "path": {"rating_id": S}}},
    "/api/v1/province/records/{rating_id}/repush": {"POST": {"summary": "push again", "path": {"rating_id": S},
                                                             "json": obj(by=S)}},
    "/api/v1/province/reconciliation": {"GET": {"summary": "reconciliation", "query": RANGE}},
    "/admin/planner": {"GET": {"summary": "the staffing planner"},
                       "POST": {"summary": "start a planner run", "x-fuzz-valid": False,
                                "form": {"weeks": S, "windows": S, "target": S}}},
    "/api/v1/pads": {"GET": {"summary": "evaluator pads"}},
    "/api/v1/screens": {"GET": {"summary": "screens seen"}},
    "/clerk": {"GET": {"summary": "the clerk console", "query": {"window": WINDOW}}},
    "/clerk/login": {"POST": {"summary": "clerk sign-in (token, or 工号 + PIN)",
                              "json": obj(token=S, clerk=enum("1001", "1002", "9999"), pin=S, window=WINDOW)}},
    "/clerk/logout": {"POST": {"summary": "clerk sign-out"}},
    "/clerk/api/last-case": {"GET": {"summary": "the window's last case", "query": {"window": WINDOW}}},
    "/api/v1/appointments/slots": {"GET": {"summary": "(public) seats per slot",
                                           "query": {"business": BUSINESS, "day": DAY}}},
    "/api/v1/appointments/check-in": {"POST": {"summary": "check in by code", "json": obj(code=S)}},
    "/api/v1/appointments": {
        "POST": {"summary": "book a slot", "json": obj(business=BUSINESS, day=DAY, start=enum("09:00", "10:30", "25:99"),
                                                       slot=S, openid=S)},
        "GET": {"summary": "my bookings, or a day's (staff)", "query": {"day": DAY}}},
    "/api/v1/appointments/{booking_id}": {
        "GET": {"summary": "(public) one booking", "path": {"booking_id": {"type": "string", "x-pool": "booking"}}},
        "DELETE": {"summary": "cancel a booking", "path": {"booking_id": {"type": "string", "x-pool": "booking"}},
                   "json": obj(openid=S)}},
    "/api/v1/appointments/{booking_id}/check-in": {"POST": {
        "summary": "check in a booking", "path": {"booking_id": {"type": "string", "x-pool": "booking"}}}},
    "/kiosk": {"GET": {"summary": "the kiosk", "query": {"token": S, "mode": enum("", "desk")}}},
    "/kiosk/login": {"POST": {"summary": "kiosk sign-in", "form": {"token": S, "mode": S}}},
    "/kiosk/take": {"POST": {"summary": "take a number at the kiosk",
                             "form": {"business": BUSINESS, "mode": S, "green": enum("0", "1")}}},
    "/kiosk/check-in": {"POST": {"summary": "booking check-in at the kiosk", "form": {"code": S, "mode": S}}},
    "/kiosk/t/{ticket_id}": {"GET": {"summary": "a printed ticket", "path": {"ticket_id": TICKET}}},
    "/": {"GET": {"summary": "(public) the landing page"}},
    "/admin/live": {"GET": {"summary": "the live hall (fragment the page refreshes)"}},
    "/admin/failed": {"GET": {"summary": "the 办不成事 ledger page", "query": RANGE}},
    "/api/v1/rechecks/{token}": {"POST": {"summary": "(public) the 二次评价 answer of a rectified 差评",
                                          "path": {"token": S},
                                          "json": obj(level={"type": "integer", "minimum": 1, "maximum": 5},
                                                      comment=S)}},
    "/api/v1/contacts": {"POST": {"summary": "(public) the holder leaves a phone for the 差评 call-back",
                                  "json": obj(ticket=TICKET, case=CASE, key={"type": "string", "x-pool": "rating_key"},
                                              phone=enum("13800138000", "12345", "+86 138 0013 8000"),
                                              consent=BOOL)}},
    "/r/{token}": {"GET": {"summary": "(public) the 二次评价 page", "path": {"token": S}},
                   "POST": {"summary": "(public) the 二次评价 form", "path": {"token": S},
                            "form": {"level": enum("1", "3", "5", "9"), "comment": S}}},
    "/m": {"GET": {"summary": "the mobile page", "query": {"next": S}}},
    "/m/oauth": {"GET": {"summary": "WeChat's OAuth redirect", "query": {"code": S, "state": S}}},
    "/m/demo-login": {"POST": {"summary": "the demo sign-in", "form": {"next": S}}},
    "/m/logout": {"POST": {"summary": "sign out of /m"}},
    "/m/api/mine": {"GET": {"summary": "my tickets"}},
    "/m/t/{ticket_id}": {"GET": {"summary": "follow a ticket", "path": {"ticket_id": TICKET}}},
}

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z0-9_]+))?\}")


def _template(path: str) -> tuple[str, dict[str, dict]]:
    """Starlette's `{case:u32}` → OpenAPI's `{case}`, with each parameter's schema from its convertor."""
    params: dict[str, dict] = {}

    def one(m: re.Match) -> str:
        kind = m.group(2)
        params[m.group(1)] = (dict(CASE) if kind == "u32" else {"type": "integer"} if kind == "int"
                              else {"type": "string"})
        return "{" + m.group(1) + "}"

    return _PARAM.sub(one, path), params


def _operation(method: str, path: str, hint: dict, params: dict[str, dict]) -> dict:
    op: dict[str, Any] = {"summary": hint.get("summary", f"{method} {path}"),
                          "operationId": f"{method.lower()} {path}", "parameters": [],
                          "responses": {"default": {"description": "JSON, a page, or the error shape "
                                                                   "{\"error\": {\"code\", \"message\"}}"}}}
    for name, schema in params.items():
        op["parameters"].append({"name": name, "in": "path", "required": True,
                                 "schema": hint.get("path", {}).get(name, schema)})
    for name, schema in hint.get("query", {}).items():
        op["parameters"].append({"name": name, "in": "query", "required": False, "schema": schema})
    if "json" in hint:
        op["requestBody"] = {"content": {"application/json": {"schema": hint["json"]}}}
    elif "form" in hint:
        op["requestBody"] = {"content": {"application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": hint["form"]}}}}
    for key in ("x-stream", "x-fuzz-valid"):
        if key in hint:
            op[key] = hint[key]
    return op


def openapi_document(routes) -> dict:
    paths: dict[str, dict] = {}
    for route in routes:
        if isinstance(route, Route):
            path, params = _template(route.path)
            hints = HINTS.get(path, {})
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                paths.setdefault(path, {})[method.lower()] = _operation(method, path, hints.get(method, {}), params)
        elif isinstance(route, Mount):
            path = route.path + "/{path}"
            paths.setdefault(path, {})["get"] = _operation("GET", path, {"summary": f"files under {route.path}"},
                                                           {"path": {"type": "string"}})
    return {"openapi": "3.1.0", "info": {"title": "queued", "version": "1.1",
                                         "description": "The hall daemon's HTTP surface (../shared/spec/http-api.md "
                                                        "1.1 and its extensions)."},
            "paths": paths}


async def get_openapi(request: Request) -> JSONResponse:
    doc = getattr(request.app.state, "openapi", None)
    if doc is None:  # every adapter has added its routes once the daemon serves
        doc = request.app.state.openapi = openapi_document(request.app.routes)
    return JSONResponse(doc)


routes = [Route("/openapi.json", get_openapi, methods=["GET"])]
