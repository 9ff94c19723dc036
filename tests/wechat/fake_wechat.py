"""A local stand-in for WeChat's servers: a real HTTP server (Starlette + uvicorn in its own thread,
on a free port) speaking the endpoints and JSON the mobile channel uses, with their error codes.

- GET  /connect/oauth2/authorize        the silent snsapi_base consent: 302 back with ?code=&state=
- GET  /sns/oauth2/access_token         code → openid (40029 invalid code, 40163 code been used, …)
- GET  /cgi-bin/token                   the server access token, {"access_token", "expires_in": 7200}
- POST /cgi-bin/message/subscribe/send  subscribe messages (40001/42001 token, 43101 refused, 47003 …)
- GET  /cgi-bin/ticket/getticket        the JS-SDK's jsapi_ticket (41001 missing, 40001/42001 token, 40097 type)
- GET  /open/js/jweixin-1.6.0.js        a stand-in for WeChat's JS-SDK inside WeChat: wx.config posts its
                                        arguments to POST /jssdk/config, which checks the signature as WeChat
                                        does (sha1 of jsapi_ticket, noncestr, timestamp, url; "config:invalid
                                        signature" otherwise); <wx-open-subscribe> renders its template and a
                                        tap is the user's consent (POST /jssdk/subscribe, one message per
                                        accepted template, as WeChat's one-time subscriptions)

Knobs for tests: `delay` (slow mode: every API answer waits this long), `fail_sends` (answer the next
N sends with errcode -1 "system error"), `refused` (openids that did not accept), `expire_tokens()`
and `revoke_tokens()`; `require_consent` (a send without the user's consent answers 43101, as WeChat
does), `reject_subscribe` (the user taps 取消 in the consent sheet). Everything received is recorded
in `calls`; delivered messages in `messages`; `js_configs` holds each wx.config check and its result.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fake_server import FakeServer

APPID = "wx8a1c3e5f7b9d0246"
SECRET = "3f0c9a7e5b1d2c4a6e8f0b1d3c5a7e9f"
FIELD_RULES = {  # WeChat's subscribe-message value types and their limits
    "thing": lambda v: 0 < len(v) <= 20,
    "character_string": lambda v: 0 < len(v) <= 32 and re.fullmatch(r"[A-Za-z0-9_\-.]+", v) is not None,
    "number": lambda v: 0 < len(v) <= 32 and re.fullmatch(r"-?\d+(\.\d+)?", v) is not None,
    "time": lambda v: re.fullmatch(r"(\d{4}年\d{1,2}月\d{1,2}日 )?\d{1,2}:\d{2}", v) is not None,
    "phrase": lambda v: 0 < len(v) <= 5,
}


def _err(code: int, msg: str) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": msg})


class FakeWeChat(FakeServer):
    what = "WeChat"

    def __init__(self, appid: str = APPID, secret: str = SECRET):
        super().__init__()
        self.appid, self.secret = appid, secret
        self.users: set[str] = set()  # openids that follow the official account
        self.codes: dict[str, str] = {}  # OAuth code → openid (single use)
        self.used_codes: set[str] = set()
        self.tokens: dict[str, float] = {}  # access token → time.monotonic() it expires
        self.next_openid: str | None = None  # who consents on the next authorize; random if None
        self.delay = 0.0
        self.fail_sends = 0
        self.refused: set[str] = set()
        self.calls: list[dict] = []  # every API call: {"path", "params", "body", "errcode"}
        self.messages: list[dict] = []  # delivered subscribe messages (the JSON body)
        self.in_flight = 0
        self.js_tickets: dict[str, float] = {}  # jsapi_ticket → time.monotonic() it expires
        self.js_configs: list[dict] = []  # each wx.config checked: its arguments, "url" and "result"
        self.browser_user: str | None = None  # who uses the WeChat app the pages open in (the last OAuth)
        self.consents: dict[tuple[str, str], int] = {}  # (openid, template) → messages the user allowed
        self.require_consent = False
        self.reject_subscribe = False

    # ---- controls ----------------------------------------------------------------------------

    def add_user(self, openid: str | None = None) -> str:
        openid = openid or "o" + secrets.token_urlsafe(20)[:27]
        self.users.add(openid)
        return openid

    def issue_code(self, openid: str) -> str:
        self.add_user(openid)
        code = secrets.token_hex(16)
        self.codes[code] = openid
        return code

    def expire_tokens(self) -> None:
        """WeChat's clock passed every token's expiry: the next use answers 42001."""
        for t in self.tokens:
            self.tokens[t] = 0.0

    def revoke_tokens(self) -> None:
        """Someone else fetched a newer token (it invalidates ours): the next use answers 40001."""
        self.tokens.clear()

    def expire_js_tickets(self) -> None:
        for t in self.js_tickets:
            self.js_tickets[t] = 0.0

    def ticket_requests(self) -> int:
        return sum(1 for c in self.calls if c["path"] == "/cgi-bin/ticket/getticket")

    def signature_ok(self, noncestr: str, timestamp, url: str, signature: str) -> str:
        """WeChat's check of wx.config: "config:ok" or its error message."""
        live = [t for t, exp in self.js_tickets.items() if exp > time.monotonic()]
        for t in live:
            text = f"jsapi_ticket={t}&noncestr={noncestr}&timestamp={timestamp}&url={url.split('#')[0]}"
            if hashlib.sha1(text.encode()).hexdigest() == signature:
                return "config:ok"
        return "config:invalid signature"

    def token_requests(self) -> int:
        return sum(1 for c in self.calls if c["path"] == "/cgi-bin/token")

    def sends(self, api: str = "send") -> list[dict]:
        return [c for c in self.calls if c["path"] == f"/cgi-bin/message/subscribe/{api}"]

    # ---- life --------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route("/connect/oauth2/authorize", self.authorize, methods=["GET"]),
            Route("/sns/oauth2/access_token", self.sns_access_token, methods=["GET"]),
            Route("/cgi-bin/token", self.cgi_token, methods=["GET"]),
            Route("/cgi-bin/message/subscribe/send", self.subscribe_send, methods=["POST"]),
            # official accounts' web pages: the same JSON at bizsend
            Route("/cgi-bin/message/subscribe/bizsend", self.subscribe_send, methods=["POST"]),
            Route("/cgi-bin/ticket/getticket", self.getticket, methods=["GET"]),
            Route("/open/js/jweixin-1.6.0.js", self.jssdk, methods=["GET"]),
            Route("/jssdk/config", self.jssdk_config, methods=["POST", "OPTIONS"]),
            Route("/jssdk/subscribe", self.jssdk_subscribe, methods=["POST", "OPTIONS"]),
        ]

    # ---- endpoints ---------------------------------------------------------------------------

    def _record(self, request: Request, body=None) -> dict:
        call = {"path": request.url.path, "params": dict(request.query_params), "body": body, "errcode": None}
        self.calls.append(call)
        return call

    def _token_refused(self, token: str | None) -> JSONResponse | None:
        """WeChat's answer to a call with a missing, superseded or expired access token; None if it is live."""
        if not token:
            return _err(41001, "access_token missing")
        if token not in self.tokens:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if self.tokens[token] < time.monotonic():
            return _err(42001, "access_token expired")
        return None

    async def _answer(self, call: dict, response: JSONResponse) -> JSONResponse:
        self.in_flight += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        call["errcode"] = json.loads(response.body).get("errcode", 0)
        return response

    async def authorize(self, request: Request):
        q = request.query_params
        self._record(request)
        if q.get("appid") != self.appid:
            return PlainTextResponse("appid 参数错误", status_code=400)
        if q.get("response_type") != "code" or q.get("scope") not in ("snsapi_base", "snsapi_userinfo"):
            return PlainTextResponse("scope 参数错误或没有 scope 权限", status_code=400)
        target = q.get("redirect_uri", "")
        if not target.startswith(("http://", "https://")):
            return PlainTextResponse("redirect_uri 参数错误", status_code=400)
        code = self.issue_code(self.next_openid or self.add_user())
        self.browser_user = self.codes[code]
        parts = urlsplit(target)
        query = (parts.query + "&" if parts.query else "") + urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")), status_code=302)

    async def sns_access_token(self, request: Request):
        q = request.query_params
        call = self._record(request)
        if q.get("appid") != self.appid:
            return await self._answer(call, _err(40013, "invalid appid"))
        if q.get("secret") != self.secret:
            return await self._answer(call, _err(40125, "invalid appsecret"))
        if q.get("grant_type") != "authorization_code":
            return await self._answer(call, _err(40002, "invalid grant_type"))
        code = q.get("code", "")
        if code in self.used_codes:
            return await self._answer(call, _err(40163, "code been used"))
        openid = self.codes.pop(code, None)
        if openid is None:
            return await self._answer(call, _err(40029, "invalid code"))
        self.used_codes.add(code)
        return await self._answer(call, JSONResponse({
            "access_token": secrets.token_urlsafe(60), "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(60), "openid": openid, "scope": "snsapi_base",
        }))

    async def cgi_token(self, request: Request):
        q = request.query_params
        call = self._record(request)
        if q.get("grant_type") != "client_credential":
            return await self._answer(call, _err(40002, "invalid grant_type"))
        if q.get("appid") != self.appid:
            return await self._answer(call, _err(40013, "invalid appid"))
        if q.get("secret") != self.secret:
            return await self._answer(call, _err(40001, "invalid credential, access_token is invalid or not latest"))
        token = secrets.token_urlsafe(100)
        self.tokens = {token: time.monotonic() + 7200}  # a new token invalidates the older ones
        return await self._answer(call, JSONResponse({"access_token": token, "expires_in": 7200}))

    async def subscribe_send(self, request: Request):
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        call = self._record(request, body)
        if refused := self._token_refused(request.query_params.get("access_token")):
            return await self._answer(call, refused)
        if not isinstance(body, dict):
            return await self._answer(call, _err(47001, "data format error"))
        if self.fail_sends > 0:
            self.fail_sends -= 1
            return await self._answer(call, _err(-1, "system error"))
        if body.get("touser") not in self.users:
            return await self._answer(call, _err(40003, "invalid openid"))
        if not body.get("template_id"):
            return await self._answer(call, _err(40037, "invalid template_id"))
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return await self._answer(call, _err(47003, "argument invalid! data is empty"))
        for key, item in data.items():
            kind = key.rstrip("0123456789")
            value = item.get("value") if isinstance(item, dict) else None
            rule = FIELD_RULES.get(kind)
            if not isinstance(value, str) or rule is None or not rule(value):
                return await self._answer(call, _err(47003, f"argument invalid! data.{key}.value invalid"))
        if body["touser"] in self.refused:
            return await self._answer(call, _err(43101, "user refuse to accept the msg"))
        consent = (body["touser"], body["template_id"])
        if self.require_consent and self.consents.get(consent, 0) <= 0:
            return await self._answer(call, _err(43101, "user refuse to accept the msg"))
        if self.require_consent:
            self.consents[consent] -= 1  # one-time subscription: one message per consent
        response = await self._answer(call, JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": secrets.randbits(60)}))
        self.messages.append(body)  # delivered once answered (in slow mode, after the delay)
        return response

    # ---- the JS-SDK ------------------------------------------------------------------------------

    async def getticket(self, request: Request):
        q = request.query_params
        call = self._record(request)
        if refused := self._token_refused(q.get("access_token")):
            return await self._answer(call, refused)
        if q.get("type") != "jsapi":
            return await self._answer(call, _err(40097, "invalid args"))
        ticket = secrets.token_urlsafe(64)
        self.js_tickets[ticket] = time.monotonic() + 7200
        return await self._answer(call, JSONResponse({"errcode": 0, "errmsg": "ok", "ticket": ticket,
                                                      "expires_in": 7200}))

    @staticmethod
    def _cors(response: Response) -> Response:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        return response

    async def jssdk(self, request: Request):
        return Response(JWEIXIN.replace("__ORIGIN__", self.url), media_type="application/javascript")

    async def jssdk_config(self, request: Request):
        if request.method == "OPTIONS":
            return self._cors(Response(status_code=204))
        body = json.loads(await request.body() or b"{}")
        if body.get("appId") != self.appid:
            result = "config:invalid appId"
        else:
            result = self.signature_ok(str(body.get("nonceStr", "")), body.get("timestamp", ""),
                                       str(body.get("url", "")), str(body.get("signature", "")))
        self.js_configs.append({**body, "result": result})
        return self._cors(JSONResponse({"errMsg": result}))

    async def jssdk_subscribe(self, request: Request):
        if request.method == "OPTIONS":
            return self._cors(Response(status_code=204))
        body = json.loads(await request.body() or b"{}")
        templates = [t for t in str(body.get("template", "")).split(",") if t]
        status = "reject" if self.reject_subscribe else "accept"
        if status == "accept" and self.browser_user:
            for t in templates:
                self.consents[(self.browser_user, t)] = self.consents.get((self.browser_user, t), 0) + 1
        details = {t: json.dumps({"status": status}) for t in templates}
        return self._cors(JSONResponse({"errMsg": "subscribe:ok", "subscribeDetails": json.dumps(details)}))


# The fake JS-SDK: wx.config → POST /jssdk/config (the signature check); ready/error callbacks; the
# <wx-open-subscribe> open tag renders its text/wxtag-template in a shadow root once config is ok,
# and a tap asks the fake for consent, then fires "success" with subscribeDetails as WeChat does.
JWEIXIN = r"""
(function () {
  var ORIGIN = "__ORIGIN__", readyFns = [], errorFns = [], state = null, tags = [];
  function settle(s, res) {
    state = s;
    (s === "ok" ? readyFns : errorFns).forEach(function (f) { f(res); });
    if (s === "ok") tags.forEach(function (t) { t._render(); });
  }
  window.wx = {
    config: function (c) {
      fetch(ORIGIN + "/jssdk/config", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({appId: c.appId, timestamp: c.timestamp, nonceStr: c.nonceStr, signature: c.signature,
                              openTagList: c.openTagList || [], url: location.href.split("#")[0]})})
        .then(function (r) { return r.json(); })
        .then(function (res) { settle(res.errMsg === "config:ok" ? "ok" : "error", res); },
              function () { settle("error", {errMsg: "config:fail"}); });
    },
    ready: function (f) { if (state === "ok") f(); else readyFns.push(f); },
    error: function (f) { if (state === "error") f({errMsg: "config:invalid signature"}); else errorFns.push(f); }
  };
  class OpenSubscribe extends HTMLElement {
    connectedCallback() { tags.push(this); if (state === "ok") this._render(); }
    _render() {
      if (this.shadowRoot) return;
      var tpl = this.querySelector('script[type="text/wxtag-template"]');
      var root = this.attachShadow({mode: "open"});
      root.innerHTML = tpl ? tpl.textContent : "";
      var self = this;
      root.addEventListener("click", function () {
        fetch(ORIGIN + "/jssdk/subscribe", {method: "POST", headers: {"Content-Type": "application/json"},
          body: JSON.stringify({template: self.getAttribute("template")})})
          .then(function (r) { return r.json(); })
          .then(function (res) { self.dispatchEvent(new CustomEvent("success", {detail: res})); },
                function () { self.dispatchEvent(new CustomEvent("error", {detail: {errCode: -1, errMsg: "fail"}})); });
      });
    }
  }
  customElements.define("wx-open-subscribe", OpenSubscribe);
})();
"""
