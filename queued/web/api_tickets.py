"""Tickets and hall state: take a number, follow it, cancel it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from queued.core import commands as c
from queued.runtime import new_rating_key, new_ticket_id
from queued.web.errors import ApiError
from queued.web.inputs import ID_MAX, field, json_body, no_unknown, principal
from queued.web.rate_limit import client_address

CHANNELS = ("kiosk", "wechat", "desk")


async def issue_ticket(request: Request) -> JSONResponse:
    rt = request.app.state.runtime
    p = await principal(request)
    session_openid = None
    if p is None:
        # Public only with the WeChat session the mobile page signs in (set by the wechat adapter).
        session_openid = await request.app.state.mobile_session(request)
        if session_openid is None:
            raise ApiError("unauthorized", "需要取号机令牌或微信登录（kiosk token or WeChat session required）")
        # Per session and per address; refused (429) before anything is read or changed.
        request.app.state.rate_limits.take("issue", client_address(request), session_openid)
    elif not p.can("issue"):
        raise ApiError("forbidden", f"角色 {p.role} 不能取号（role {p.role!r} may not issue tickets）")
    data = await json_body(request)
    no_unknown(data, "business", "channel", "priority", "openid")
    business = field(data, "business", str)
    channel = field(data, "channel", str, "wechat" if session_openid else "kiosk", CHANNELS)
    priority = field(data, "priority", str, "normal", ("normal", "green"))
    openid = field(data, "openid", str, None, max_len=ID_MAX)
    if session_openid is not None:
        if openid is not None and openid != session_openid:
            raise ApiError("forbidden", "openid 与微信登录不符（openid does not match the WeChat session）")
        openid, channel = session_openid, "wechat"
    if priority == "green" and (p is None or not p.can("green")):
        raise ApiError("forbidden", "绿色通道号须由导办台发放（the green channel needs a desk or admin token）")
    cmd = c.IssueTicket(business, new_ticket_id(), channel, priority, openid or None, rating_key=new_rating_key())
    source = getattr(request.app.state, "ticket_source", None)
    if source is not None and p is not None and p.label:  # a [[kiosk]]'s own printer prints it (docs/kiosk.md)
        source(cmd.ticket_id, p.label)
    _, view = await rt.execute(cmd, lambda evs: rt.ticket_json(cmd.ticket_id, estimate=False))
    rt.add_estimate(view)  # after the commit: one plan serves every ticket of the group commit
    view["rating_key"] = cmd.rating_key  # the holder's proof: in this reply only (http-api.md 1.1)
    return JSONResponse(view, status_code=201, headers={"Location": f"/api/v1/tickets/{cmd.ticket_id}"})


async def get_ticket(request: Request) -> JSONResponse:
    rt = request.app.state.runtime
    ticket_id = request.path_params["ticket_id"]
    t = rt.engine.tickets.get(ticket_id)
    if t is None:
        row = await request.app.state.history_ticket(ticket_id)
        if row is None:
            raise ApiError("unknown_ticket", f"没有这张票（no ticket {ticket_id!r}）")
        return JSONResponse(row)
    return JSONResponse(rt.ticket_json(ticket_id))


async def cancel_ticket(request: Request) -> JSONResponse:
    rt = request.app.state.runtime
    ticket_id = request.path_params["ticket_id"]
    if ticket_id not in rt.engine.tickets:
        raise ApiError("unknown_ticket", f"没有这张票（no ticket {ticket_id!r}）")
    data = await json_body(request, allow_empty=True)
    no_unknown(data, "key", "openid")
    key = field(data, "key", str, None, max_len=ID_MAX)
    field(data, "openid", str, None, max_len=ID_MAX)  # accepted as before, but it proves nothing
    p = await principal(request)
    staff = p is not None and (p.can("admin") or p.can("supervise"))  # supervise: the live hall's 取消
    # The holder proves it with the rating key or the WeChat session of the ticket's openid.
    session_openid = None if staff else await request.app.state.mobile_session(request)
    cmd = c.CancelTicket(ticket_id, session_openid, "admin" if staff else "holder", check_holder=not staff, key=key)
    _, view = await rt.execute(cmd, lambda evs: rt.ticket_json(ticket_id))
    return JSONResponse(view)


def hall_json(rt) -> dict:
    eng = rt.engine
    hall = rt.config.hall
    now = rt.clock()
    minute = rt.calendar.minute(now)
    today = rt.calendar.day(now)
    day = eng.day_phase(now)  # 取号已截止, 延时服务中… (the same rule the engine issues by)
    issuing = day["phase"] == "open"
    businesses = []
    for b in hall.businesses:
        # eng.day lags until the first command of a new day: yesterday's counts are not today's.
        issued = eng.counters.get(b.code, 0) if eng.day == today else 0
        businesses.append({
            "code": b.code,
            "name": b.name,
            "open": issuing and b.is_open(minute),
            "hours": b.hours_text(),
            "full": b.daily_cap is not None and issued >= b.daily_cap,
            "daily_cap": b.daily_cap,
            "issued": issued,
            "waiting": eng.waiting(b.code),
            "avg_service_s": round(eng.service_avg.get(b.code, hall.default_service_s)),
            "windows": [w.id for w in hall.windows_serving(b.code)],
        })
    return {"hall": hall.id, "name": hall.name, "day": eng.day, "phase": day, "businesses": businesses,
            "at": rt.iso(now)}


async def get_hall(request: Request) -> JSONResponse:
    """(public) What the kiosk, screen and mobile page show: businesses, open or not, waiting."""
    return JSONResponse(hall_json(request.app.state.runtime))


routes = [
    Route("/api/v1/hall", get_hall, methods=["GET"]),
    Route("/api/v1/tickets", issue_ticket, methods=["POST"]),
    Route("/api/v1/tickets/{ticket_id}", get_ticket, methods=["GET"]),
    Route("/api/v1/tickets/{ticket_id}", cancel_ticket, methods=["DELETE"]),
]
