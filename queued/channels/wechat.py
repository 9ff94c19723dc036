"""A small client for the WeChat official-account APIs the mobile channel uses.

- Web-page OAuth (网页授权, scope snsapi_base): the authorize URL and the `code` → openid exchange.
- The server access token (`cgi-bin/token`), cached and refreshed before it expires, and at once
  when WeChat says it expired or is invalid (40001, 42001, 40014), with one retry.
- Subscribe messages (`cgi-bin/message/subscribe/send`, or `…/bizsend` for official-account pages).
- The JS-SDK's `jsapi_ticket` (`cgi-bin/ticket/getticket?type=jsapi`), cached like the token and
  refreshed before it expires, one fetch at a time; `js_signature` signs a page's `wx.config`
  (sha1 of "jsapi_ticket=…&noncestr=…&timestamp=…&url=…", the page's URL without its fragment).

Every call has a timeout; nothing here retries on its own except the one token refresh, so the
caller (the notice sender) decides how often to try again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from queued.channels import ChannelError

log = logging.getLogger("queued.wechat")

TOKEN_ERRORS = {40001, 40014, 42001}  # invalid credential, invalid access_token, access_token expired
TRANSIENT_ERRORS = {-1, 45009}  # system busy; API minute quota reached
TOKEN_MARGIN_S = 300.0  # refresh this long before WeChat's stated expiry


class WeChatError(ChannelError):
    """WeChat answered with an errcode (or could not be reached: errcode None, transient)."""

    code, status = "wechat_error", 502

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"微信接口错误 {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def transient(self) -> bool:
        """Worth trying again later: network trouble, a timeout, a 5xx or 'system busy'."""
        return self.errcode is None or self.errcode in TRANSIENT_ERRORS


def _required(data: dict[str, Any], key: str) -> str:
    """The non-empty string `key` of WeChat's answer, or WeChatError."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise WeChatError(None, f"no {key} in the answer: {data!r}")
    return value


def _refresh_at(data: dict[str, Any]) -> float:
    """When to fetch a token or ticket anew: WeChat's expires_in (7200 s if absent) less TOKEN_MARGIN_S,
    and never before half of it (time.monotonic())."""
    expires_in = float(data.get("expires_in") or 7200)
    return time.monotonic() + max(expires_in - TOKEN_MARGIN_S, expires_in / 2)


class WeChatSettings:
    """The [wechat] section, checked: appid and secret (or a file holding the secret)."""

    def __init__(self, section: dict[str, Any]):
        # Checked (and the secret file read) by queued.config; this only names the fields.
        self.appid: str = section.get("appid", "")
        self.secret: str = section.get("secret", "")
        self.api_base: str = section.get("api_base", "https://api.weixin.qq.com").rstrip("/")
        self.authorize_base: str = section.get("authorize_base", "https://open.weixin.qq.com").rstrip("/")
        self.template_ahead: str = section.get("template_ahead", "")
        self.template_called: str = section.get("template_called", "")
        # The JS-SDK the /m page loads for wx.config and the wx-open-subscribe button (a local fake in tests).
        self.jssdk_url: str = section.get("jssdk_url", "https://res.wx.qq.com/open/js/jweixin-1.6.0.js")
        self.notify_ahead: int = int(section.get("notify_ahead", 3))
        self.subscribe_path: str = f"/cgi-bin/message/subscribe/{section.get('subscribe_api', 'send')}"
        # The demo sign-in (演示模式, no WeChat): only where the file says so (config.md 1.1).
        self.demo_login: bool = bool(section.get("demo_login", False)) and not self.appid

    @property
    def enabled(self) -> bool:
        return bool(self.appid)


def js_signature(jsapi_ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """The JS-SDK's wx.config signature (WeChat's 附录1): sha1 over the four fields in this order,
    the URL without its #fragment."""
    url = url.split("#", 1)[0]
    text = f"jsapi_ticket={jsapi_ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(text.encode()).hexdigest()


class WeChatClient:
    def __init__(self, settings: WeChatSettings, timeout_s: float = 5.0):
        self.settings = settings
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=min(3.0, timeout_s)))
        self._token: str | None = None
        self._token_expires = 0.0  # time.monotonic() after which we fetch a new one
        self._token_lock = asyncio.Lock()
        self.tokens_fetched = 0
        self._ticket: str | None = None
        self._ticket_expires = 0.0
        self._ticket_lock = asyncio.Lock()
        self.tickets_fetched = 0

    async def close(self) -> None:
        await self.http.aclose()

    # ---- OAuth for the web page ------------------------------------------------------------------

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        # Parameter order matters to WeChat: it checks them as documented.
        query = urlencode({"appid": self.settings.appid, "redirect_uri": redirect_uri,
                           "response_type": "code", "scope": "snsapi_base", "state": state})
        return f"{self.settings.authorize_base}/connect/oauth2/authorize?{query}#wechat_redirect"

    async def openid_for_code(self, code: str) -> str:
        s = self.settings
        data = await self._get("/sns/oauth2/access_token", {"appid": s.appid, "secret": s.secret, "code": code,
                                                            "grant_type": "authorization_code"})
        return _required(data, "openid")

    # ---- the server access token -------------------------------------------------------------------

    async def access_token(self, force: bool = False) -> str:
        async with self._token_lock:
            if not force and self._token and time.monotonic() < self._token_expires:
                return self._token
            s = self.settings
            data = await self._get("/cgi-bin/token", {"grant_type": "client_credential", "appid": s.appid,
                                                      "secret": s.secret})
            token = _required(data, "access_token")
            self._token = token
            self._token_expires = _refresh_at(data)
            self.tokens_fetched += 1
            return token

    def forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None

    # ---- the JS-SDK ticket and signature ------------------------------------------------------------

    async def jsapi_ticket(self) -> str:
        """The cached jsapi_ticket (2 h at WeChat, refreshed TOKEN_MARGIN_S early). Concurrent callers
        wait for the one fetch; a refused access token (40001, 42001, 40014) is fetched anew once."""
        async with self._ticket_lock:
            if self._ticket and time.monotonic() < self._ticket_expires:
                return self._ticket
            data = await self._with_token(
                lambda token: self._get("/cgi-bin/ticket/getticket", {"access_token": token, "type": "jsapi"}),
                " for getticket")
            ticket = _required(data, "ticket")
            self._ticket = ticket
            self._ticket_expires = _refresh_at(data)
            self.tickets_fetched += 1
            return ticket

    def forget_jsapi_ticket(self) -> None:
        self._ticket = None

    # ---- subscribe messages --------------------------------------------------------------------------

    async def send_subscribe(self, touser: str, template_id: str, data: dict[str, dict[str, str]],
                             page: str = "") -> None:
        """Send one subscribe message; refresh the token once if WeChat says it is stale."""
        body: dict[str, Any] = {"touser": touser, "template_id": template_id, "data": data}
        if page:
            body["page"] = page
        await self._with_token(lambda token: self._post(self.settings.subscribe_path, {"access_token": token}, body))

    # ---- transport --------------------------------------------------------------------------------

    async def _with_token(self, call, what: str = "") -> dict[str, Any]:
        """`await call(token)` with the server access token; a refused token (TOKEN_ERRORS) is
        forgotten and fetched anew, once."""
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                return await call(token)
            except WeChatError as exc:
                if exc.errcode in TOKEN_ERRORS and attempt == 1:
                    log.info("WeChat access token refused%s (%s); fetching a new one", what, exc.errcode)
                    self.forget_token(token)
                    continue
                raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return await self._call("GET", path, params, None)

    async def _post(self, path: str, params: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", path, params, body)

    async def _call(self, method: str, path: str, params: dict[str, str], body: Any) -> dict[str, Any]:
        url = self.settings.api_base + path
        try:
            if body is None:
                r = await self.http.request(method, url, params=params)
            else:
                # WeChat wants UTF-8 JSON as is; escaped Chinese counts against its field lengths.
                content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                r = await self.http.request(method, url, params=params, content=content,
                                            headers={"Content-Type": "application/json; charset=utf-8"})
        except httpx.TimeoutException as exc:
            raise WeChatError(None, f"timeout calling {path}: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise WeChatError(None, f"cannot reach WeChat ({path}): {exc}") from None
        if r.status_code >= 500:
            raise WeChatError(None, f"HTTP {r.status_code} from {path}")
        try:
            data = r.json()
        except ValueError:
            raise WeChatError(None, f"not JSON from {path} (HTTP {r.status_code})") from None
        if not isinstance(data, dict):
            raise WeChatError(None, f"unexpected answer from {path}: {data!r}")
        errcode = data.get("errcode", 0)
        if errcode not in (0, None):
            raise WeChatError(int(errcode), str(data.get("errmsg", "")))
        return data
