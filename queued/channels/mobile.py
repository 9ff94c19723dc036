"""The mobile channel: `/m` opened from the WeChat official account, and `/m/t/{id}` from a ticket's QR.

Sign-in is WeChat's web-page OAuth (snsapi_base: silent, gives the openid). The openid is kept in
a server-side session (queued.sessions, 30 days) whose id alone is in an HttpOnly cookie; signing
out (/m/logout) deletes it. `app.state.mobile_session` reads it back, which is what lets
`POST /api/v1/tickets` (and the appointment API) accept a citizen without a kiosk token.
Without an appid, and only where `[wechat] demo_login = true` (the built-in demo hall), the page
offers a clearly marked demo sign-in (演示模式) instead; with neither, /m says WeChat is not set up.
Notices (a few ahead, called) go out through `notify.Notifier`, never in a request's path.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from queued.channels.notify import Notifier
from queued.channels.wechat import WeChatClient, WeChatError, WeChatSettings
from queued.core import events as e
from queued.sessions import LIFETIME_S, SessionError, clear_cookie, set_cookie
from queued.sessions.cookies import secure
from queued.web.api_tickets import hall_json
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import form_body
from queued.web.rate_limit import RateLimited, client_address

log = logging.getLogger("queued.wechat")

SESSION_COOKIE = "qm_session"
STATE_COOKIE = "qm_oauth"
KIND = "mobile"
SESSION_MAX_AGE_S = LIFETIME_S[KIND]  # 30 days
LEVELS = [(5, "非常满意"), (4, "满意"), (3, "基本满意"), (2, "不满意"), (1, "非常不满意")]


def _safe_next(path: str | None) -> str:
    # Only our own pages: never an open redirect to another site.
    if path and path.startswith("/m") and not path.startswith("//") and "\\" not in path:
        return path
    return "/m"


class WeChatMobile:
    http_timeout_s = 5.0  # per WeChat call; the notice sender retries transient failures
    notice_workers = 4

    def __init__(self, daemon):
        self.daemon = daemon
        self.runtime = daemon.runtime
        self.config = daemon.config
        self.settings = WeChatSettings(daemon.config.sections.get("wechat", {}))
        self.templates = make_templates(Path(__file__).parent / "templates")
        self.client: WeChatClient | None = None
        self.notifier: Notifier | None = None
        self._seen_base = ""  # where citizens reach us, for links in notices when public_url is unset
        self.mine: dict[str, list[str]] = {}  # openid → today's ticket ids, newest last
        self.routes = [
            Route("/m", self.page, methods=["GET"]),
            Route("/m/oauth", self.oauth_callback, methods=["GET"]),
            Route("/m/demo-login", self.demo_login, methods=["POST"]),
            Route("/m/logout", self.logout, methods=["POST"]),
            Route("/m/api/mine", self.my_tickets, methods=["GET"]),
            Route("/m/t/{ticket_id}", self.follow_page, methods=["GET"]),
        ]

    # ---- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self.daemon.app.state.mobile_session = self.session_openid
        for t in self.runtime.engine.tickets.values():
            if t.openid:
                self.mine.setdefault(t.openid, []).append(t.id)
        self.runtime.subscribe(self._on_events)
        if self.settings.enabled:
            if not self.config.public_url:
                log.warning("[daemon] public_url is not set: WeChat notices link to /m/t/… only once a phone has "
                            "opened /m since the start")
            self.client = WeChatClient(self.settings, self.http_timeout_s)
            if self.settings.template_ahead or self.settings.template_called:
                self.notifier = Notifier(self.runtime, self.client, self.settings, self.daemon.metrics.registry,
                                         self.page_url, workers=self.notice_workers)
                await self.notifier.start()

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
        if self.client is not None:
            await self.client.close()

    def _on_events(self, events: Sequence[e.Event]) -> None:
        for ev in events:
            if type(ev) is e.TicketIssued and ev.openid:
                self.mine.setdefault(ev.openid, []).append(ev.ticket)
            elif type(ev) is e.DayStarted:
                self.mine.clear()

    # ---- the session ---------------------------------------------------------------------------

    async def session_openid(self, request: Request) -> str | None:
        """app.state.mobile_session: the signed-in citizen's openid, or None."""
        s = request.app.state.sessions.get(KIND, request.cookies.get(SESSION_COOKIE))
        return s.openid if s is not None else None

    async def _signed_in(self, response: Response, request: Request, openid: str) -> Response:
        value, _ = await request.app.state.sessions.create(KIND, openid=openid)
        set_cookie(response, request, self.config.public_url, SESSION_COOKIE, value, SESSION_MAX_AGE_S, samesite="lax")
        response.delete_cookie(STATE_COOKIE, path="/m")
        return response

    # ---- URLs ------------------------------------------------------------------------------------

    def base_url(self, request: Request | None = None) -> str:
        if self.config.public_url:
            return self.config.public_url
        if request is not None:
            self._seen_base = str(request.base_url).rstrip("/")
        return self._seen_base

    def page_url(self, ticket_id: str) -> str:
        base = self.base_url()
        return f"{base}/m/t/{ticket_id}" if base else ""

    # ---- pages -----------------------------------------------------------------------------------

    def _render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        hall = self.config.hall
        context.setdefault("openid", None)
        context.update(hall_name=hall.name, demo=self.settings.demo_login, levels=LEVELS,
                       reasons=list(hall.reasons), windows={w.id: w.label for w in hall.windows})
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    async def page(self, request: Request) -> Response:
        openid = await self.session_openid(request)
        base = self.base_url(request)
        if openid is None:
            if self.settings.demo_login:
                return self._render(request, "mobile_signin.html", next="/m")
            if not self.settings.enabled:
                return self._render(request, "mobile_error.html", 404,
                                    message="本大厅未开通微信取号，请到大厅取号机取号（WeChat sign-in is not set up）。")
            state = secrets.token_urlsafe(16)
            target = self.client.authorize_url(f"{base}/m/oauth", state)
            response = RedirectResponse(target, status_code=302)
            response.set_cookie(STATE_COOKIE, f"{state}|{quote(_safe_next(request.query_params.get('next')))}",
                                max_age=600, path="/m", httponly=True, samesite="lax",
                                secure=secure(request, self.config.public_url))
            return response
        return self._render(request, "mobile.html", hall=hall_json(self.runtime), openid=openid,
                            demo_user=openid.startswith("demo-"),
                            booking=self.daemon.adapter("Appointments") is not None,
                            today=self.runtime.calendar.day(self.runtime.clock()))

    async def oauth_callback(self, request: Request) -> Response:
        if not self.settings.enabled:
            return self._render(request, "mobile_error.html", 404, message="未启用微信登录（WeChat is not configured）")
        code = request.query_params.get("code", "")
        state = request.query_params.get("state", "")
        saved, _, next_path = (request.cookies.get(STATE_COOKIE) or "").partition("|")
        if not code:
            return self._render(request, "mobile_error.html", 400, message="未获得微信授权，请从公众号菜单重新进入。")
        if not saved or not hmac.compare_digest(saved, state):
            return self._render(request, "mobile_error.html", 400,
                                message="登录已过期或来源不明，请重新打开页面（OAuth state mismatch）。")
        try:
            openid = await self.client.openid_for_code(code)
        except WeChatError as exc:
            log.warning("WeChat OAuth code exchange failed: %s", exc)
            what = f"{exc.errcode} {exc.errmsg}" if exc.errcode is not None else exc.errmsg
            return self._render(request, "mobile_error.html", 502,
                                message=f"微信登录失败，请重新打开页面（{what}）。")
        try:
            return await self._signed_in(RedirectResponse(_safe_next(unquote(next_path)), status_code=303), request,
                                         openid)
        except SessionError:
            log.warning("WeChat OAuth gave an openid that cannot be stored: %r", openid[:80])
            return self._render(request, "mobile_error.html", 502, message="微信登录失败，请重新打开页面（bad openid）。")

    async def demo_login(self, request: Request) -> Response:
        if not self.settings.demo_login:
            raise ApiError("forbidden", "演示登录未开启（the demo sign-in is on only where [wechat] demo_login = true）")
        try:
            request.app.state.rate_limits.take("sign_in", client_address(request), None)
        except RateLimited as exc:  # a form's POST: the citizen sees a page, not JSON
            return self._render(request, "mobile_error.html", 429, message=exc.message)
        form = await form_body(request)
        openid = "demo-" + secrets.token_urlsafe(12)
        return await self._signed_in(RedirectResponse(_safe_next(form.get("next")), status_code=303), request, openid)

    async def logout(self, request: Request) -> Response:
        await request.app.state.sessions.end_cookie(KIND, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/m", status_code=303)
        clear_cookie(response, request, self.config.public_url, SESSION_COOKIE, samesite="lax")
        return response

    async def follow_page(self, request: Request) -> Response:
        ticket_id = request.path_params["ticket_id"]
        self.base_url(request)
        if ticket_id in self.runtime.engine.tickets:
            ticket = self.runtime.ticket_json(ticket_id)
        else:
            ticket = await request.app.state.history_ticket(ticket_id)
        if ticket is None:
            return self._render(request, "mobile_error.html", 404, message="没有找到这张票，请核对二维码。")
        return self._render(request, "mobile_ticket.html", ticket=ticket, openid=await self.session_openid(request))

    async def my_tickets(self, request: Request) -> JSONResponse:
        openid = await self.session_openid(request)
        if openid is None:
            raise ApiError("unauthorized", "请先登录（sign in on /m first）")
        eng = self.runtime.engine
        ids = [i for i in self.mine.get(openid, []) if i in eng.tickets]
        tickets = [self.runtime.ticket_json(i) for i in reversed(ids)]
        for view in tickets:  # the holder's own page: it may keep the key (a link that rates without WeChat)
            view["rating_key"] = eng.tickets[view["id"]].rating_key
        return JSONResponse({"tickets": tickets, "demo": self.settings.demo_login})
