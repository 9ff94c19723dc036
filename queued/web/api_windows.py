"""Window actions for clerks: 呼叫, 重呼, 过号, 开始, 办结 (with its outcome), 转移, 暂停/恢复 (with a
reason), 特呼, 挂起/回呼."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from queued.auth import Principal
from queued.core import commands as c
from queued.core.engine import PLACES
from queued.metrics import label_values
from queued.pins.errors import PinLocked, WrongPin
from queued.web.errors import ApiError
from queued.web.inputs import ID_MAX, field, json_body, no_unknown, principal, require

SIMPLE = {
    "call-next": c.CallNext,
    "recall": c.Recall,
    "skip": c.Skip,
    "start": c.Start,
    "resume": c.Resume,
    "close": c.CloseWindow,  # extension: the clerk leaves (下班)
    "sign-out": c.SignOut,  # extension
}
WITH_BODY = ("transfer", "call", "sign-in", "unpark")
OPTIONAL_BODY = ("finish", "pause", "park")  # the body may be empty
TEXT_MAX = 500
# What a supervisor (the "supervise" right, no window of their own) may do at any window: pause and
# resume it, and call a number there (特呼: send a ticket to that window). Nothing else.
SUPERVISE = ("pause", "resume", "call")


def window_json(rt, window_id: str) -> dict:
    eng = rt.engine
    view = rt.isoize(eng.window_view(window_id))
    view["businesses"] = list(eng.windows[window_id].businesses)
    view["waiting_by_business"] = {b: eng.waiting(b) for b in eng.windows[window_id].businesses}
    clerk = rt.config.hall.clerk_index.get(view["clerk"]) if view["clerk"] else None
    view["clerk_name"] = clerk.name if clerk else None
    view["current"] = rt.ticket_json(view["ticket_id"]) if view["ticket_id"] else None
    for p in view["parked"]:  # 挂起 cases of this window (http-api.md: `parked`)
        p["parked_at"] = rt.iso(p["parked_at"])
    return view


def skipped_for(rt, window_id: str, limit: int = 10) -> list[dict]:
    """The latest skipped tickets this window could call back (特呼)."""
    eng = rt.engine
    serves = set(eng.windows[window_id].businesses)
    out = []
    for t in reversed(eng.skipped.values()):  # newest skip first; only skipped tickets are read
        if t.business in serves or t.window == window_id:
            out.append({"id": t.id, "number": t.number, "business": t.business, "window": t.window,
                        "skipped_at": rt.iso(t.called_at)})
            if len(out) == limit:
                break
    return out


async def _authorize(request: Request, window_id: str, action: str | None = None) -> Principal:
    p = await principal(request)
    if p is None or not (p.can("window") or (action in SUPERVISE and p.can("supervise"))):
        p = await require(request, "window")  # the 401 or 403 of a caller without the right
    rt = request.app.state.runtime
    if window_id not in rt.engine.windows:
        raise ApiError("unknown_window", f"没有{window_id}号窗口（no window {window_id!r}）")
    if p.role == "clerk" and p.window != window_id:
        raise ApiError("forbidden", f"此令牌只能操作{p.window}号窗口（this clerk token is bound to window {p.window}）")
    return p


async def _check_pin(request: Request, clerk: str, pin: str | None) -> None:
    """Signing in a clerk the token does not name needs that clerk's PIN (queued.pins: hashes and the
    lock-out the /clerk console shares, per clerk and per address)."""
    if pin is None:
        raise ApiError("forbidden", f"此令牌未绑定工号 {clerk}，请输入该工号的密码（pin required to sign in clerk {clerk!r}）")
    address = request.client.host if request.client else ""
    try:
        await request.app.state.pins.verify_pin(clerk, pin, address, request.app.state.runtime.clock())
    except PinLocked as exc:
        raise ApiError("too_many_attempts", f"密码错误次数过多，请 {math.ceil(exc.wait_s / 60)} 分钟后再试"
                                            f"（PIN sign-in locked for {exc.wait_s:.0f} s）", 429) from None
    except WrongPin:
        raise ApiError("unauthorized", "工号或密码错误（wrong clerk id or PIN）") from None


async def window_action(request: Request) -> JSONResponse:
    rt = request.app.state.runtime
    window_id = request.path_params["window"]
    action = request.path_params["action"]
    if action not in SIMPLE and action not in WITH_BODY and action not in OPTIONAL_BODY:
        raise ApiError("not_found", f"没有操作 {action}（unknown action {action!r}; actions: "
                                    f"{', '.join([*SIMPLE, *OPTIONAL_BODY, *WITH_BODY])}）", 404)
    p = await _authorize(request, window_id, action)
    acting = p.clerk if p.can("window") else None  # a supervisor acts as nobody: no clerk is signed in
    if action in WITH_BODY or action in OPTIONAL_BODY:
        data = await json_body(request, allow_empty=action in OPTIONAL_BODY)
        if action == "transfer":
            no_unknown(data, "business", "window", "place")
            cmd = c.Transfer(window_id, field(data, "business", str, None), field(data, "window", str, None),
                             field(data, "place", str, "front", PLACES), as_clerk=acting)
        elif action == "call":
            no_unknown(data, "number")
            cmd = c.CallNumber(window_id, field(data, "number", str, max_len=ID_MAX), as_clerk=acting)
        elif action == "finish":
            no_unknown(data, "outcome", "note")
            cmd = c.Finish(window_id, field(data, "outcome", str, "done", max_len=32),
                           field(data, "note", str, "", max_len=TEXT_MAX), as_clerk=acting)
        elif action == "pause":
            no_unknown(data, "reason")
            cmd = c.Pause(window_id, field(data, "reason", str, None, max_len=32), as_clerk=acting)
        elif action == "park":
            no_unknown(data, "reason")
            cmd = c.Park(window_id, field(data, "reason", str, "", max_len=TEXT_MAX), as_clerk=acting)
        elif action == "unpark":
            no_unknown(data, "ticket")
            cmd = c.Unpark(window_id, field(data, "ticket", str, max_len=ID_MAX), as_clerk=acting)
        else:
            no_unknown(data, "clerk", "pin")
            clerk = field(data, "clerk", str, max_len=ID_MAX)
            pin = field(data, "pin", str, None, max_len=ID_MAX)
            if clerk != acting:  # the token does not name this clerk: the clerk proves it with their PIN
                await _check_pin(request, clerk, pin)
            cmd = c.SignIn(window_id, clerk)
    else:
        await json_body(request, allow_empty=True)  # a body, if any, must still be JSON
        # A token that names a clerk signs that clerk in with its first action at the window, in the
        # same decision (the engine refuses both or neither).
        cmd = SIMPLE[action](window_id, as_clerk=acting if action != "sign-out" else None)

    def view(events):
        out = window_json(rt, window_id)
        called = [ev for ev in events if ev.kind == "ticket_called"]
        if action in ("call-next", "call"):
            out_ticket = rt.ticket_json(called[-1].ticket) if called else None
        else:
            out_ticket = out["current"]
        finished = [ev for ev in events if ev.kind == "ticket_finished"]
        result = {"ticket": out_ticket, "window": out}
        if finished:
            result["finished"] = {"ticket": finished[-1].ticket, "number": finished[-1].number,
                                  "case": finished[-1].case, "outcome": finished[-1].outcome}
        parked = [ev for ev in events if ev.kind == "ticket_parked"]
        if parked:
            result["parked"] = rt.ticket_json(parked[-1].ticket)
        return result

    _, result = await rt.execute(cmd, view)
    return JSONResponse(result)


async def get_window(request: Request) -> JSONResponse:
    rt = request.app.state.runtime
    window_id = request.path_params["window"]
    p = await require(request, "read_hall")
    if window_id not in rt.engine.windows:
        raise ApiError("unknown_window", f"没有{window_id}号窗口（no window {window_id!r}）")
    if p.role == "clerk" and p.window != window_id:
        raise ApiError("forbidden", f"此令牌只能查看{p.window}号窗口（bound to window {p.window}）")
    out = window_json(rt, window_id)
    out["skipped"] = skipped_for(rt, window_id)
    return JSONResponse(out)


async def list_windows(request: Request) -> JSONResponse:
    rt = request.app.state.runtime
    p = await require(request, "read_hall")
    ids = [p.window] if p.role == "clerk" else list(rt.engine.windows)
    return JSONResponse({"windows": [window_json(rt, w) for w in ids]})


routes = [
    Route("/api/v1/windows", list_windows, methods=["GET"]),
    Route("/api/v1/windows/{window}", get_window, methods=["GET"]),
    label_values(Route("/api/v1/windows/{window}/{action}", window_action, methods=["POST"]),
                 action=(*SIMPLE, *WITH_BODY, *OPTIONAL_BODY)),
]
