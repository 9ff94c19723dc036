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

Each kiosk is known by its token's label: `[[kiosk]] label = …` gives it its own printer (or none),
QR codes on or off, and 适老化 mode as its start screen (docs/kiosk.md). `?elder=1` is 适老化 mode:
large print, high contrast, only the businesses open now, spoken guidance (kiosk_voice).
The layout fills the screen in portrait (1080×1920) and landscape (1920×1080): the start screen
sets the grid's columns per orientation from the number of businesses, and each name is sized to
fit its button on one line (it never breaks inside a word).

The confirmation's QR code carries the ticket's rating key (the holder's proof) only in the first
KEY_SHOWN_S after the ticket was issued, while it is the confirmation of that very ticket: a later
visit to /kiosk/t/{id} (staff who learned the id) shows a QR code to follow it, not to rate it.
"""

from __future__ import annotations

import logging
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
from queued.channels.kiosk_voice import KioskVoice
from queued.channels.printing import serving_now, serving_windows, ticket_url, wait_lines
from queued.core import commands as c
from queued.core.errors import CoreError
from queued.runtime import new_rating_key, new_ticket_id
from queued.sessions import LIFETIME_S, set_cookie
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import form_body

log = logging.getLogger("queued.kiosk")

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
            Route("/kiosk/voice/guide.wav", self.voice_guide, methods=["GET"]),
            Route("/kiosk/voice/t/{ticket_id}.wav", self.voice_ticket, methods=["GET"]),
        ]
        self.kiosks: dict[str, dict] = self.config.sections.get("kiosks") or {}
        self.voice = KioskVoice(self.config)

    async def start(self) -> None:
        if not self.config.public_url:  # the demo hall: refused at start where a kiosk or printer is declared
            log.warning("[daemon] public_url is not set: the kiosk's QR codes lead to the address the kiosk's "
                        "browser uses, which phones may not reach")

    async def stop(self) -> None:
        pass

    def _conf(self, p: Principal) -> dict:
        """This kiosk's [[kiosk]] table (by its token's label), or the defaults."""
        return self.kiosks.get(p.label) or {"qr": True, "elder": False, "printer": None}

    def _elder(self, request: Request, p: Principal, value: str | None = None) -> bool:
        value = value if value is not None else request.query_params.get("elder")
        if value in ("0", "1"):
            return value == "1"
        return bool(self._conf(p).get("elder"))

    def _printer(self):
        return self.daemon.adapter("TicketPrinter")

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
    def _home_url(desk: bool, elder: bool | None = None) -> str:
        query = {k: v for k, v in (("mode", "desk" if desk else ""), ("elder", {True: "1", False: "0"}.get(elder)))
                 if v}
        return "/kiosk" + ("?" + urlencode(query) if query else "")

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
            out.append({"code": b.code, "name": b.name, "state": state, "note": CARD_TEXT[state], "fit": fit_len(b.name),
                        "hours": b.hours_text() or "全天", "waiting": eng.waiting(b.code) if fresh else 0})
        return out

    def _home(self, request: Request, p: Principal, desk: bool, error: str = "", status: int = 200,
              elder: bool | None = None) -> Response:
        day = self.runtime.engine.day_phase(self.runtime.clock())
        elder = self._elder(request, p) if elder is None else elder
        cards = self.cards()
        if elder:  # fewer choices: what can be taken now
            cards = [b for b in cards if b["state"] == "open"]
        return self.templates.TemplateResponse(request, "kiosk.html", {
            "hall_name": self.config.hall.name, "cards": cards, "desk": desk, "error": error, "day": day,
            "desk_refused": request.query_params.get("mode") == "desk" and not desk,
            "appointments": getattr(request.app.state, "appointments", None) is not None and not elder,
            "now_minutes": self.runtime.calendar.minute(self.runtime.clock()),
            "elder": elder, "elder_default": bool(self._conf(p).get("elder")), "grid": grid(len(cards), elder),
            "toggle_url": self._home_url(desk, not elder), "idle_url": self._home_url(desk),
            "voice": self.voice.enabled, "guide_text": self.voice.GUIDE,
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
        elder = self._elder(request, p, str(form.get("elder", "")))
        business = str(form.get("business", ""))
        green = desk and form.get("green") == "1"
        cmd = c.IssueTicket(business, new_ticket_id(), "desk" if desk else "kiosk", "green" if green else "normal",
                            rating_key=new_rating_key())
        rt = self.runtime
        printer = self._printer()
        if printer is not None:  # this kiosk's own printer prints it (after the commit)
            printer.note_source(cmd.ticket_id, p.label)
        try:
            await rt.execute(cmd)
        except CoreError as exc:
            if printer is not None:
                printer.forget_source(cmd.ticket_id)
            return self._home(request, p, desk, _plain(exc.message), 409 if exc.code != "unknown_business" else 404,
                              elder=elder)
        return RedirectResponse(self._ticket_url(cmd.ticket_id, desk, elder), 303)

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
    def _ticket_url(ticket_id: str, desk: bool, elder: bool = False) -> str:
        query = {k: v for k, v in (("mode", "desk" if desk else ""), ("elder", "1" if elder else "")) if v}
        return f"/kiosk/t/{ticket_id}" + ("?" + urlencode(query) if query else "")

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
        conf = self._conf(p)
        base = self.config.public_url or str(request.base_url).rstrip("/")
        fresh = rt.clock() - t.issued_at <= KEY_SHOWN_S
        url = ticket_url(base, ticket_id, t.rating_key if fresh else None) if conf.get("qr", True) else ""
        desk = self._desk(request, p)
        elder = self._elder(request, p)
        printer = self._printer()
        printed = (fresh and t.channel in ("kiosk", "desk") and printer is not None
                   and printer.line_for(p.label) is not None)
        slot = None
        if t.due_at is not None:
            minutes = int(self.config.sections["appointments"].get("slot_minutes", 30))
            slot = f"{rt.calendar.iso(t.due_at)[11:16]}-{rt.calendar.iso(t.due_at + minutes * 60)[11:16]}"
        ahead = None if view["position"] is None else view["position"] - 1
        serving = serving_now(self.config.hall, rt.engine, t.business)
        return self.templates.TemplateResponse(request, "kiosk_ticket.html", {
            "hall_name": self.config.hall.name, "t": view, "url": url, "qr": qr_svg(url) if url else "",
            "wait": wait_lines(ahead, view["eta_seconds"], serving) if view["status"] == "waiting" else [],
            "windows": serving_windows(self.config.hall, rt.engine, t.business),
            "issued": rt.calendar.iso(t.issued_at)[:16].replace("T", " "), "slot": slot, "printed": printed,
            "home": self._home_url(desk), "return_after": RETURN_AFTER_S * (2 if elder else 1), "elder": elder,
            "voice": self.voice.enabled and elder and fresh,
            "speech": self.voice.ticket_text(view["number"], ahead, view["eta_seconds"],
                                             serving_windows(self.config.hall, rt.engine, t.business), serving),
        })

    # ---- spoken guidance (适老化) -------------------------------------------------------------------

    async def voice_guide(self, request: Request) -> Response:
        if await self._principal(request) is None:
            return Response(status_code=401)
        return await self._wav(self.voice.GUIDE)

    async def voice_ticket(self, request: Request) -> Response:
        if await self._principal(request) is None:
            return Response(status_code=401)
        rt = self.runtime
        t = rt.engine.tickets.get(request.path_params["ticket_id"])
        if t is None or rt.clock() - t.issued_at > KEY_SHOWN_S:  # the confirmation's own speech only
            return Response(status_code=404)
        est = rt.engine.estimate(t, rt.clock())
        text = self.voice.ticket_text(t.number, None if est.position is None else est.position - 1, est.eta_seconds,
                                      serving_windows(self.config.hall, rt.engine, t.business),
                                      serving_now(self.config.hall, rt.engine, t.business))
        return await self._wav(text)

    async def _wav(self, text: str) -> Response:
        data = await self.voice.wav(text)
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="audio/wav", headers={"Cache-Control": "no-store"})


def fit_len(name: str) -> float:
    """How many ideographs wide the longest unbreakable part of `name` is (spaces and brackets may
    break; Latin letters and digits count as about half): the start screen sizes the name by it."""
    parts = name.replace("（", " （").replace("(", " (").split()
    return max((sum(1.0 if ord(ch) > 0x2E80 else 0.6 for ch in part) for part in parts), default=1.0)


def grid(n: int, elder: bool) -> dict[str, int]:
    """Columns and rows of the start screen in portrait and landscape, for `n` buttons: few enough
    columns that names stay large, enough that the buttons fill the screen."""
    n = max(1, n)
    if elder:
        pc = 1 if n <= 5 else 2
        lc = 1 if n == 1 else 2 if n <= 4 else 3
    else:
        pc = 1 if n <= 4 else 2 if n <= 12 else 3
        lc = n if n <= 2 else 2 if n <= 4 else 3 if n <= 9 else 4
    return {"pc": pc, "pr": math.ceil(n / pc), "lc": lc, "lr": math.ceil(n / lc)}


def _plain(message: str) -> str:
    """The Chinese part of a core message (they read "中文（English.）")."""
    head, sep, _ = message.partition("（")
    return head if sep and head else message
