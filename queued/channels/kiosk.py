"""/kiosk: the touch-screen ticket machine, rendered on the server, and its guide-desk mode (导办台).

Sign-in: open `/kiosk?token=KIOSK_TOKEN` once (or type the token into the form); the daemon keeps a
server-side session made from the token (queued.sessions) and the HttpOnly cookie, scoped to /kiosk,
carries only that session's id, never the token. Revoking the token ends the session (within the
token book's 10 s).
Taking a number posts to /kiosk/take, which runs the same IssueTicket as POST /api/v1/tickets
from the server side and redirects to the confirmation (number, people ahead, estimated wait,
time, a QR code to the ticket's mobile page); the page goes back to the start after 15 s. The
printer adapter prints kiosk and desk tickets after the commit.

`/kiosk?mode=desk` with a desk or admin token is the guide desk: channel "desk" and a 绿色通道 switch.

The confirmation's QR code carries the ticket's rating key (the holder's proof) only in the first
KEY_SHOWN_S after the ticket was issued, while it is the confirmation of that very ticket: a later
visit to /kiosk/t/{id} (staff who learned the id) shows a QR code to follow it, not to rate it.
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from queued.auth import Principal, token_hash
from queued.channels.printing import ticket_url
from queued.core import commands as c
from queued.core.errors import CoreError
from queued.runtime import new_rating_key, new_ticket_id
from queued.sessions import LIFETIME_S, set_cookie
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import form_body

COOKIE = "queued_kiosk"
KIND = "kiosk"
COOKIE_PATH = "/kiosk"
RETURN_AFTER_S = 15
KEY_SHOWN_S = 120.0
CARD_TEXT = {"open": "", "closed": "不在取号时间", "full": "已取完", "stopped": "取号已截止", "off": "今日不对外办理"}


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code (no external service: the hall LAN has no internet)."""
    img = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = img.to_string(encoding="unicode")
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="二维码" ', 1))


class Kiosk:
    def __init__(self, daemon):
        self.daemon = daemon
        self.runtime = daemon.runtime
        self.config = daemon.config
        self.templates = make_templates(Path(__file__).parent / "templates")
        self.routes = [
            Route("/kiosk", self.home, methods=["GET"]),
            Route("/kiosk/login", self.login, methods=["POST"]),
            Route("/kiosk/take", self.take, methods=["POST"]),
            Route("/kiosk/check-in", self.check_in, methods=["POST"]),
            Route("/kiosk/t/{ticket_id}", self.ticket_page, methods=["GET"]),
        ]

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    # ---- sign-in ---------------------------------------------------------------------------------

    async def _principal(self, request: Request) -> Principal | None:
        store = request.app.state.sessions
        s = store.get(KIND, request.cookies.get(COOKIE))
        if s is None:
            return None
        p = await request.app.state.tokens.principal_by_hash(s.token_hash)
        if p is None or not p.can("issue"):
            await store.end(s)  # the token was revoked
            return None
        return p

    @staticmethod
    def _desk(request: Request, p: Principal | None, mode: str | None = None) -> bool:
        mode = mode if mode is not None else request.query_params.get("mode", "")
        return mode == "desk" and p is not None and p.can("green")

    @staticmethod
    def _home_url(desk: bool) -> str:
        return "/kiosk?mode=desk" if desk else "/kiosk"

    async def _with_cookie(self, response: Response, request: Request, token: str) -> Response:
        value, _ = await request.app.state.sessions.create(KIND, token_hash=token_hash(token))
        set_cookie(response, request, self.config.public_url, COOKIE, value, LIFETIME_S[KIND], path=COOKIE_PATH)
        return response

    async def login(self, request: Request) -> Response:
        form = await form_body(request)
        token = str(form.get("token", "")).strip()
        mode = str(form.get("mode", ""))
        p = await request.app.state.tokens.principal(token) if token else None
        if p is None or not p.can("issue"):
            return self._login_page(request, "令牌无效，或该令牌不能取号（需要 kiosk 或 admin 令牌）", mode, 401)
        return await self._with_cookie(RedirectResponse(self._home_url(mode == "desk"), 303), request, token)

    def _login_page(self, request: Request, error: str, mode: str, status: int = 200) -> Response:
        return self.templates.TemplateResponse(request, "kiosk_login.html", {
            "hall_name": self.config.hall.name, "error": error, "mode": mode}, status_code=status)

    # ---- pages -----------------------------------------------------------------------------------

    def cards(self) -> list[dict]:
        """Each business as the start screen shows it (today's state, even before the day's first command)."""
        rt = self.runtime
        eng = rt.engine
        hall = self.config.hall
        now = rt.clock()
        today = rt.calendar.day(now)
        minute = rt.calendar.minute(now)
        fresh = eng.day == today  # else nothing has happened yet today: yesterday's counts do not apply
        phase = eng.day_phase(now)["phase"]
        out = []
        for b in hall.businesses:
            issued = eng.counters.get(b.code, 0) if fresh else 0
            if phase == "off":
                state = "off"
            elif phase != "open":
                state = "stopped"
            elif not b.is_open(minute):
                state = "closed"
            elif b.daily_cap is not None and issued >= b.daily_cap:
                state = "full"
            else:
                state = "open"
            out.append({"code": b.code, "name": b.name, "state": state, "note": CARD_TEXT[state],
                        "hours": b.hours_text() or "全天", "waiting": eng.waiting(b.code) if fresh else 0})
        return out

    def _home(self, request: Request, p: Principal, desk: bool, error: str = "", status: int = 200) -> Response:
        day = self.runtime.engine.day_phase(self.runtime.clock())
        return self.templates.TemplateResponse(request, "kiosk.html", {
            "hall_name": self.config.hall.name, "cards": self.cards(), "desk": desk, "error": error, "day": day,
            "desk_refused": request.query_params.get("mode") == "desk" and not desk,
            "appointments": getattr(request.app.state, "appointments", None) is not None,
            "now_minutes": self.runtime.calendar.minute(self.runtime.clock()),
        }, status_code=status)

    async def home(self, request: Request) -> Response:
        token = request.query_params.get("token")
        mode = request.query_params.get("mode", "")
        if token:  # first visit: keep the token in the cookie and drop it from the address bar
            p = await request.app.state.tokens.principal(token.strip())
            if p is None or not p.can("issue"):
                return self._login_page(request, "令牌无效，或该令牌不能取号（需要 kiosk 或 admin 令牌）", mode, 401)
            return await self._with_cookie(RedirectResponse(self._home_url(mode == "desk"), 303), request, token.strip())
        p = await self._principal(request)
        if p is None:
            return self._login_page(request, "", mode)
        return self._home(request, p, self._desk(request, p))

    async def take(self, request: Request) -> Response:
        p = await self._principal(request)
        if p is None:
            return RedirectResponse("/kiosk", 303)
        form = await form_body(request)
        desk = self._desk(request, p, str(form.get("mode", "")))
        business = str(form.get("business", ""))
        green = desk and form.get("green") == "1"
        cmd = c.IssueTicket(business, new_ticket_id(), "desk" if desk else "kiosk", "green" if green else "normal",
                            rating_key=new_rating_key())
        rt = self.runtime
        try:
            await rt.execute(cmd)
        except CoreError as exc:
            return self._home(request, p, desk, _plain(exc.message), 409 if exc.code != "unknown_business" else 404)
        return RedirectResponse(self._ticket_url(cmd.ticket_id, desk), 303)

    async def check_in(self, request: Request) -> Response:
        p = await self._principal(request)
        if p is None:
            return RedirectResponse("/kiosk", 303)
        form = await form_body(request)
        desk = self._desk(request, p, str(form.get("mode", "")))
        appointments = getattr(request.app.state, "appointments", None)
        code = str(form.get("code", "")).strip()
        if appointments is None:
            return self._home(request, p, desk, "本大厅未开通预约", 404)
        if not (len(code) == 6 and code.isdigit()):
            return self._home(request, p, desk, "请输入6位预约码", 422)
        try:
            view = await appointments.check_in(appointments.by_code(code), "desk" if desk else "kiosk", None, True)
        except (ApiError, CoreError) as exc:
            return self._home(request, p, desk, _plain(exc.message), getattr(exc, "status", 409))
        return RedirectResponse(self._ticket_url(view["id"], desk), 303)

    @staticmethod
    def _ticket_url(ticket_id: str, desk: bool) -> str:
        return f"/kiosk/t/{ticket_id}" + ("?" + urlencode({"mode": "desk"}) if desk else "")

    async def ticket_page(self, request: Request) -> Response:
        p = await self._principal(request)
        if p is None:
            return RedirectResponse("/kiosk", 303)
        rt = self.runtime
        ticket_id = request.path_params["ticket_id"]
        t = rt.engine.tickets.get(ticket_id)
        if t is None:
            return self._home(request, p, self._desk(request, p), "没有这张票", 404)
        view = rt.engine.ticket_view(t, rt.clock())
        base = self.config.public_url or str(request.base_url).rstrip("/")
        fresh = rt.clock() - t.issued_at <= KEY_SHOWN_S
        url = ticket_url(base, ticket_id, t.rating_key if fresh else None)
        desk = self._desk(request, p)
        slot = None
        if t.due_at is not None:
            minutes = int(self.config.sections["appointments"].get("slot_minutes", 30))
            slot = f"{rt.calendar.iso(t.due_at)[11:16]}-{rt.calendar.iso(t.due_at + minutes * 60)[11:16]}"
        return self.templates.TemplateResponse(request, "kiosk_ticket.html", {
            "hall_name": self.config.hall.name, "t": view, "url": url, "qr": qr_svg(url),
            "ahead": None if view["position"] is None else view["position"] - 1,
            "eta_minutes": None if view["eta_seconds"] is None else math.ceil(view["eta_seconds"] / 60),
            "issued": rt.calendar.iso(t.issued_at)[:16].replace("T", " "), "slot": slot,
            "home": self._home_url(desk), "return_after": RETURN_AFTER_S,
        })


def _plain(message: str) -> str:
    """The Chinese part of a core message (they read "中文（English.）")."""
    head, sep, _ = message.partition("（")
    return head if sep and head else message
