"""The mobile channel: `/m` opened from the WeChat official account, and `/m/t/{id}` from a ticket's QR.

Sign-in is WeChat's web-page OAuth (snsapi_base: silent, gives the openid). The openid is kept in
a server-side session (queued.sessions, 30 days) whose id alone is in an HttpOnly cookie; signing
out (/m/logout) deletes it. `app.state.mobile_session` reads it back, which is what lets
`POST /api/v1/tickets` (and the appointment API) accept a citizen without a kiosk token.
Without an appid, and only where `[wechat] demo_login = true` (the built-in demo hall), the page
offers a clearly marked demo sign-in (演示模式) instead; with neither, /m says WeChat is not set up.
Notices (a few ahead, called) go out through `notify.Notifier`, never in a request's path.

Citizens read Chinese only: refusals shown on the page are the Chinese part of the API's message
(or a plain Chinese sentence for malformed requests); the English stays in the logs and in the
API's `message` for staff. Whether a ticket was rated comes from the rating book (`rated` in
/m/api/mine and /m/api/t/{id}), so another phone or browser never shows the form again. On the
holder's own WeChat session the page rates without the QR key, so the rating's channel is `wechat`.
Subscribe notices need the citizen's consent in WeChat: the page loads the JS-SDK, signs
`wx.config` from /m/api/wx-config (wechat_jssdk) and shows the `wx-open-subscribe` button for the
hall's template ids.
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
from queued.channels.printing import serving_now
from queued.channels.wechat import WeChatClient, WeChatError, WeChatSettings
from queued.channels.wechat_jssdk import wx_config
from queued.core import events as e
from queued.core.tickets import holder_proof
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
            Route("/m/api/t/{ticket_id}", self.one_ticket, methods=["GET"]),
            Route("/m/api/wx-config", self.wx_config, methods=["GET"]),
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
        s = self.settings
        context.update(hall_name=hall.name, demo=s.demo_login, levels=LEVELS,
                       reasons=list(hall.reasons), windows={w.id: w.label for w in hall.windows},
                       subscribe={"sdk": s.jssdk_url, "templates": [t for t in (s.template_ahead, s.template_called) if t]}
                       if s.enabled and (s.template_ahead or s.template_called) else None)
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    async def page(self, request: Request) -> Response:
        openid = await self.session_openid(request)
        base = self.base_url(request)
        if openid is None:
            if self.settings.demo_login:
                return self._render(request, "mobile_signin.html", next="/m")
            if not self.settings.enabled:
                return self._render(request, "mobile_error.html", 404,
                                    message="本大厅未开通微信取号，请到大厅取号机取号。")
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
            return self._render(request, "mobile_error.html", 404, message="本大厅未开通微信登录，请到大厅取号机取号。")
        code = request.query_params.get("code", "")
        state = request.query_params.get("state", "")
        saved, _, next_path = (request.cookies.get(STATE_COOKIE) or "").partition("|")
        if not code:
            return self._render(request, "mobile_error.html", 400, message="未获得微信授权，请从公众号菜单重新进入。")
        if not saved or not hmac.compare_digest(saved, state):
            log.info("WeChat OAuth callback with a state that does not match its cookie")
            return self._render(request, "mobile_error.html", 400, message="登录已过期或来源不明，请重新打开页面。")
        try:
            openid = await self.client.openid_for_code(code)
        except WeChatError as exc:
            log.warning("WeChat OAuth code exchange failed: %s", exc)
            code = f"（错误码 {exc.errcode}）" if exc.errcode is not None else ""
            return self._render(request, "mobile_error.html", 502, message=f"微信登录失败，请重新打开页面{code}。")
        try:
            return await self._signed_in(RedirectResponse(_safe_next(unquote(next_path)), status_code=303), request,
                                         openid)
        except SessionError:
            log.warning("WeChat OAuth gave an openid that cannot be stored: %r", openid[:80])
            return self._render(request, "mobile_error.html", 502, message="微信登录失败，请重新打开页面。")

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
        openid = await self.session_openid(request)
        t = self.runtime.engine.tickets.get(ticket_id)
        mine = openid is not None and t is not None and t.openid == openid  # the session proves the holder
        ticket["rated"] = await self.rated(ticket_id) if mine else False  # else the poll with the key says
        ticket["serving"] = self._serving(ticket)
        return self._render(request, "mobile_ticket.html", ticket=ticket, openid=openid, mine=mine)

    async def one_ticket(self, request: Request) -> JSONResponse:
        """The follow page's poll: the API's ticket view and, for its holder (the rating key in
        `X-Rating-Key`, or the WeChat session of its openid), whether it was rated on any device.
        Anybody else gets `rated: false`: a stranger learns nothing about the case."""
        ticket_id = request.path_params["ticket_id"]
        t = self.runtime.engine.tickets.get(ticket_id)
        if t is not None:
            view = self.runtime.ticket_json(ticket_id)
            proof = (t.rating_key, t.openid)
        else:
            view = await request.app.state.history_ticket(ticket_id)
            if view is None:
                raise ApiError("unknown_ticket", f"没有这张票（no ticket {ticket_id[:64]!r}）")
            row = await self.runtime.journal.fetchone("SELECT rating_key, openid FROM tickets WHERE id=?", (ticket_id,))
            proof = (row["rating_key"], row["openid"]) if row is not None else (None, None)
        holder = holder_proof(*proof, request.headers.get("x-rating-key"), await self.session_openid(request))
        view["rated"] = await self.rated(ticket_id) if holder else False
        view["serving"] = self._serving(view)
        return JSONResponse(view)

    def _serving(self, view: dict) -> bool:
        """A window of the ticket's business is open: else the page promises no minutes."""
        return serving_now(self.config.hall, self.runtime.engine, view["business"])

    async def rated(self, ticket_id: str) -> bool:
        """Every case of the ticket has its citizen's rating (the rating book; older days: the cases table)."""
        evaluator = self.daemon.adapter("EvaluatorAdapter")
        if evaluator is None:
            return False
        cases = evaluator.book.ticket_cases(ticket_id)
        if cases:
            return all(c.state == "rated" for c in cases)
        if ticket_id in self.runtime.engine.tickets:
            return False  # not finished yet, or finished with nothing to rate
        rows = await self.runtime.journal.fetchall("SELECT state FROM cases WHERE ticket=?", (ticket_id,))
        return bool(rows) and all(r["state"] == "rated" for r in rows)

    async def wx_config(self, request: Request) -> JSONResponse:
        """wx.config for the page at `url` (signed), with the template ids of the consent button."""
        openid = await self.session_openid(request)
        if openid is None:
            raise ApiError("unauthorized", "请先登录（sign in on /m first）")
        if self.client is None or not (self.settings.template_ahead or self.settings.template_called):
            raise ApiError("not_found", "本大厅未开通订阅通知（no WeChat templates configured）", 404)
        url = request.query_params.get("url", "")
        base = self.base_url(request)
        if not (url == f"{base}/m" or url.startswith((f"{base}/m?", f"{base}/m/"))) or len(url) > 1000:
            raise ApiError("invalid_request", "页面地址不对（url must be a page of this hall's /m）")
        try:
            return JSONResponse(await wx_config(self.client, url))
        except WeChatError as exc:
            log.warning("cannot sign wx.config: %s", exc)
            raise ApiError("unavailable", "微信服务暂不可用，请稍后再试（jsapi_ticket: "
                           f"{exc.errcode} {exc.errmsg}）", 502) from None

    async def my_tickets(self, request: Request) -> JSONResponse:
        openid = await self.session_openid(request)
        if openid is None:
            raise ApiError("unauthorized", "请先登录（sign in on /m first）")
        eng = self.runtime.engine
        ids = [i for i in self.mine.get(openid, []) if i in eng.tickets]
        tickets = [self.runtime.ticket_json(i) for i in reversed(ids)]
        for view in tickets:  # the holder's own page: it may keep the key (a link that rates without WeChat)
            view["rating_key"] = eng.tickets[view["id"]].rating_key
            view["rated"] = await self.rated(view["id"]) if view["status"] == "done" else False
            view["serving"] = self._serving(view)
        return JSONResponse({"tickets": tickets, "demo": self.settings.demo_login})
