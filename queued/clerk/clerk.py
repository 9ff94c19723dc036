"""The clerk console adapter: /clerk (sign-in and the window keys), its session cookie, and the
last case's rating.

The keys themselves go to the API's own `POST /api/v1/windows/{w}/{action}`: this adapter only
adds a cookie sign-in (a resolver in `app.state.session_resolvers`, consulted when no Bearer token
came), so the console and a hardware pad run the very same commands.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from queued.auth import Principal, token_hash
from queued.clerk.session import COOKIE, SESSION_S, ClerkSessions
from queued.core import commands as c
from queued.core.hall import OUTCOME_TEXT
from queued.pins import PinLocked, WrongPin
from queued.sessions import clear_cookie, set_cookie
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import field, json_body, no_unknown, require

log = logging.getLogger("queued.clerk")

# The national 好差评 levels (5 best); the evaluator's tables store these numbers.
LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
CASE_STATE_TEXT = {
    "open": "等待群众评价",
    "rated": "已评价",
    "unrated": "未评价（超时）",
    "defaulted": "系统默认评价",
    "pending": "评价器未启用",
}


async def check_pin(request: Request, clerk: str, pin: str, now: float) -> None:
    """The daemon's PIN check (queued.pins) with its errors as the console's HTTP answers."""
    address = request.client.host if request.client else ""
    try:
        await request.app.state.pins.verify_pin(clerk, pin, address, now)
    except PinLocked as exc:
        raise ApiError("too_many_attempts", f"密码错误次数过多，请 {math.ceil(exc.wait_s / 60)} 分钟后再试"
                                            f"（PIN sign-in locked for {exc.wait_s:.0f} s）", 429) from None
    except WrongPin:
        raise ApiError("unauthorized", "工号或密码错误（wrong clerk id or PIN）") from None


class ClerkConsole:
    def __init__(self, daemon):
        self.daemon = daemon
        self.runtime = daemon.runtime
        self.config = daemon.config
        self.sessions = ClerkSessions(daemon)
        self.templates = make_templates(Path(__file__).parent / "templates")
        self.routes = [
            Route("/clerk", self.page, methods=["GET"]),
            Route("/clerk/login", self.login, methods=["POST"]),
            Route("/clerk/logout", self.logout, methods=["POST"]),
            Route("/clerk/api/last-case", self.last_case, methods=["GET"]),
        ]

    async def start(self) -> None:
        self.daemon.app.state.session_resolvers.append(self.resolve)

    async def stop(self) -> None:
        resolvers = self.daemon.app.state.session_resolvers
        if self.resolve in resolvers:
            resolvers.remove(self.resolve)

    # ---- sessions ------------------------------------------------------------------------------

    async def resolve(self, request: Request) -> Principal | None:
        return await self.sessions.resolve(request)

    async def login(self, request: Request) -> Response:
        """Sign in with a clerk token, or with 工号 + PIN at a chosen window. Sets the cookie."""
        rt = self.runtime
        data = await json_body(request)
        now = rt.clock()
        if "token" in data:
            no_unknown(data, "token")
            token = field(data, "token", str).strip()
            p = await request.app.state.tokens.principal(token) if token else None
            if p is None:
                raise ApiError("unauthorized", "令牌无效或已吊销（unknown or revoked token）")
            if p.role != "clerk" or not p.window:
                raise ApiError("forbidden", f"只有窗口人员令牌可以登录工作台，这是 {p.role} 令牌"
                                            f"（only a clerk token signs in here）")
            window, clerk, th = p.window, p.clerk, token_hash(token)
            if window not in rt.engine.windows:
                raise ApiError("unknown_window", f"令牌绑定的{window}号窗口不在本大厅的配置中（no window {window!r}）")
        else:
            no_unknown(data, "clerk", "pin", "window")
            clerk = field(data, "clerk", str).strip()
            pin = field(data, "pin", str)
            window = field(data, "window", str)
            if window not in rt.engine.windows:
                raise ApiError("unknown_window", f"没有{window}号窗口（no window {window!r}）")
            await check_pin(request, clerk, pin, now)
            th = None
        if clerk is not None:
            await rt.execute(c.SignIn(window, clerk))  # the pad and the LED show who serves now
        cookie = await self.sessions.create(window, clerk, th)
        resp = JSONResponse({"window": window, "clerk": clerk, "clerk_name": self._clerk_name(clerk)})
        set_cookie(resp, request, self.config.public_url, COOKIE, cookie, SESSION_S)
        log.info("clerk console sign-in: window %s, clerk %s (%s)", window, clerk, "token" if th else "PIN")
        return resp

    async def logout(self, request: Request) -> Response:
        s = self.sessions.session(request)
        if s is not None:
            await self.sessions.store.end(s)  # a copy of the cookie is refused from now on
            w = self.runtime.engine.windows.get(s.window)
            if s.clerk is not None and w is not None and w.clerk == s.clerk:
                await self.runtime.execute(c.SignOut(s.window))
        resp = JSONResponse({"signed_out": True})
        clear_cookie(resp, request, self.config.public_url, COOKIE)
        return resp

    def _clerk_name(self, clerk: str | None) -> str | None:
        k = self.config.hall.clerk_index.get(clerk) if clerk else None
        return k.name if k else None

    # ---- the page ------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        hall = self.config.hall
        p = await self.resolve(request)
        ctx = {
            "hall_name": hall.name,
            "windows": [{"id": w.id, "label": w.label} for w in hall.windows],
            "businesses": [{"code": b.code, "name": b.name} for b in hall.businesses],
            # 办结 outcomes of [hall] outcomes (done is always offered) and [hall] pause_reasons
            "outcomes": [{"code": o, "text": OUTCOME_TEXT.get(o, o)}
                         for o in (hall.outcomes if "done" in hall.outcomes else ("done", *hall.outcomes))],
            "pause_reasons": list(hall.pause_reasons),
            "session": None,
        }
        if p is not None:
            win = hall.window_index[p.window]
            ctx["session"] = {"window": win.id, "label": win.label, "clerk": p.clerk,
                              "clerk_name": self._clerk_name(p.clerk), "businesses": list(win.businesses)}
        resp = self.templates.TemplateResponse(request, "clerk.html", ctx)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    # ---- the last case and its rating ----------------------------------------------------------

    async def last_case(self, request: Request) -> JSONResponse:
        p = await require(request, "window")
        window = p.window if p.role == "clerk" else request.query_params.get("window", "")
        if window not in self.runtime.engine.windows:
            raise ApiError("unknown_window", f"没有{window}号窗口（no window {window!r}）")
        return JSONResponse({"case": await self.case_rating(window)})

    async def case_rating(self, window: str) -> dict | None:
        """Today's last finished case at `window` with its rating as the evaluator recorded it
        (its `cases` table); without the evaluator, the case alone, its rating pending."""
        rt = self.runtime
        j = rt.journal
        day = rt.engine.day
        has_cases = await j.fetchone("SELECT 1 FROM sqlite_master WHERE type='table' AND name='cases'")
        if has_cases:
            row = await j.fetchone(
                "SELECT case_id, number, business, finished_at, state, level, reasons FROM cases"
                " WHERE day=? AND window=? ORDER BY finished_at DESC, case_id DESC LIMIT 1", (day, window))
        else:
            row = await j.fetchone(
                "SELECT serial AS case_id, number, business, finished_at, 'pending' AS state, NULL AS level,"
                " 0 AS reasons FROM tickets WHERE day=? AND window=? AND status='done'"
                " ORDER BY finished_at DESC, serial DESC LIMIT 1", (day, window))
        if row is None:
            return None
        level = row["level"]
        reasons = [r for i, r in enumerate(self.config.hall.reasons) if row["reasons"] & (1 << i)]
        state = row["state"]
        text = CASE_STATE_TEXT.get(state, state)
        if level is not None:
            text = f"{text}：{LEVEL_NAMES.get(level, level)}"
        return {"case": row["case_id"], "number": row["number"], "business": row["business"],
                "finished_at": rt.iso(row["finished_at"]), "state": state, "level": level,
                "level_name": LEVEL_NAMES.get(level) if level is not None else None,
                "bad": level is not None and level <= 2, "reasons": reasons, "text": text}
