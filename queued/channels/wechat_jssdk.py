"""`wx.config` for the /m page: what the WeChat JS-SDK needs to show the subscribe-notice consent
button (`wx-open-subscribe`, an open tag of official-account web pages).

WeChat checks the signature against the page's own URL (without the #fragment) and the hall's
jsapi_ticket; the page must be served from a domain set as the account's JS接口安全域名 (docs/wechat.md).
"""

from __future__ import annotations

import secrets
import time

from queued.channels.wechat import WeChatClient, js_signature


async def wx_config(client: WeChatClient, url: str, now: float | None = None) -> dict:
    """The arguments of wx.config for `url`, signed with the cached jsapi_ticket, and the template
    ids the consent button asks for."""
    ticket = await client.jsapi_ticket()
    timestamp = int(time.time() if now is None else now)
    nonce = secrets.token_urlsafe(12)
    s = client.settings
    return {
        "appId": s.appid, "timestamp": timestamp, "nonceStr": nonce,
        "signature": js_signature(ticket, nonce, timestamp, url),
        "jsApiList": [], "openTagList": ["wx-open-subscribe"],
        "templates": [t for t in (s.template_ahead, s.template_called) if t],
    }
