"""The JS-SDK side of subscribe notices against the fake WeChat: the jsapi_ticket (cached, refreshed
before it expires, one fetch at a time, a refused access token fetched anew on 40001/42001), the
wx.config signature WeChat checks, /m/api/wx-config, and 43101 for a send the user never allowed."""

from __future__ import annotations

import asyncio
import time

import pytest

from queued.channels.wechat import TOKEN_MARGIN_S, WeChatClient, WeChatError, WeChatSettings, js_signature
from tests.wechat.conftest import eventually
from tests.wechat.test_oauth import sign_in


def client_for(fake) -> WeChatClient:
    return WeChatClient(WeChatSettings({"appid": fake.appid, "secret": fake.secret, "api_base": fake.url}))


def test_signature_is_wechats_example():
    # WeChat's JS-SDK documentation, 附录1 (JS-SDK使用权限签名算法).
    sig = js_signature("sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
                       "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#frag")
    assert sig == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


async def test_the_ticket_is_fetched_once_and_cached(fake_wechat):
    c = client_for(fake_wechat)
    try:
        fake_wechat.delay = 0.2  # a slow WeChat: ten pages at once still cause one fetch
        tickets = await asyncio.gather(*(c.jsapi_ticket() for _ in range(10)))
        assert len(set(tickets)) == 1 and fake_wechat.ticket_requests() == 1 and fake_wechat.token_requests() == 1
        fake_wechat.delay = 0
        assert await c.jsapi_ticket() == tickets[0] and fake_wechat.ticket_requests() == 1
        left = c._ticket_expires - time.monotonic()
        assert 7200 - TOKEN_MARGIN_S - 5 < left <= 7200 - TOKEN_MARGIN_S  # refreshed 5 minutes early
        c._ticket_expires = time.monotonic() - 1  # that moment came
        assert await c.jsapi_ticket() != tickets[0] and fake_wechat.ticket_requests() == 2
        assert fake_wechat.token_requests() == 1  # the access token is still good
    finally:
        await c.close()


@pytest.mark.parametrize("stale, errcode", [("revoke_tokens", 40001), ("expire_tokens", 42001)])
async def test_a_refused_access_token_is_fetched_anew(fake_wechat, stale, errcode):
    c = client_for(fake_wechat)
    try:
        await c.jsapi_ticket()
        getattr(fake_wechat, stale)()
        c.forget_jsapi_ticket()
        ticket = await c.jsapi_ticket()
        answers = [x["errcode"] for x in fake_wechat.calls if x["path"] == "/cgi-bin/ticket/getticket"]
        assert answers == [0, errcode, 0] and fake_wechat.token_requests() == 2
        assert ticket in fake_wechat.js_tickets
    finally:
        await c.close()


async def test_a_wrong_secret_is_an_error_not_a_loop(fake_wechat):
    c = WeChatClient(WeChatSettings({"appid": fake_wechat.appid, "secret": "wrong", "api_base": fake_wechat.url}))
    try:
        with pytest.raises(WeChatError) as err:
            await c.jsapi_ticket()
        assert err.value.errcode == 40001 and fake_wechat.token_requests() == 1
    finally:
        await c.close()


async def test_wx_config_is_signed_for_the_page(client, fake_wechat):
    r = await client.get("/m/api/wx-config", params={"url": "http://hall/m"})
    assert r.status_code == 401
    await sign_in(client, fake_wechat, "oJssdk_1")
    r = await client.get("/m/api/wx-config", params={"url": "http://hall/m?from=menu"})
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["appId"] == fake_wechat.appid and c["openTagList"] == ["wx-open-subscribe"]
    assert c["templates"] == ["TPL_AHEAD_7Xk2", "TPL_CALLED_9Qm4"]
    assert fake_wechat.signature_ok(c["nonceStr"], c["timestamp"], "http://hall/m?from=menu", c["signature"]) \
        == "config:ok"
    assert fake_wechat.signature_ok(c["nonceStr"], c["timestamp"], "http://hall/m", c["signature"]) \
        == "config:invalid signature"  # signed for its own URL only
    again = (await client.get("/m/api/wx-config", params={"url": "http://hall/m"})).json()
    assert again["nonceStr"] != c["nonceStr"] and fake_wechat.ticket_requests() == 1  # the ticket is cached
    for url in ("https://evil.example/m", "http://hall/admin", "http://hall/mx", ""):
        r = await client.get("/m/api/wx-config", params={"url": url})
        assert r.status_code == 422, url


async def test_wx_config_when_wechat_fails(client, fake_wechat):
    await sign_in(client, fake_wechat, "oJssdk_2")
    fake_wechat.secret = "rotated"  # the hall's secret no longer works: WeChat answers 40001
    fake_wechat.revoke_tokens()
    r = await client.get("/m/api/wx-config", params={"url": "http://hall/m"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "unavailable"
    assert r.json()["error"]["message"].startswith("微信服务暂不可用")


async def test_a_notice_the_user_never_allowed_is_43101(client, fake_wechat, wechat_daemon):
    from tests.support import token

    fake_wechat.require_consent = True
    kiosk = {"Authorization": "Bearer " + token(wechat_daemon.config.database, "kiosk")}
    w1 = {"Authorization": "Bearer " + token(wechat_daemon.config.database, "clerk", "1", "1001")}
    await sign_in(client, fake_wechat, "oNoConsent")
    r = await client.post("/api/v1/tickets", json={"business": "A"})
    assert r.status_code == 201, r.text
    await client.post("/api/v1/windows/1/call-next", headers=w1)
    await eventually(lambda: [x for x in fake_wechat.sends() if x["errcode"] == 43101])
    assert not [m for m in fake_wechat.messages if m["touser"] == "oNoConsent"]
    # Another citizen allows the "called" template in WeChat's sheet: that one notice arrives.
    fake_wechat.add_user("oConsent")
    fake_wechat.browser_user = "oConsent"
    async with __import__("httpx").AsyncClient() as phone:
        await phone.post(f"{fake_wechat.url}/jssdk/subscribe", json={"template": "TPL_CALLED_9Qm4"})
    await client.post("/api/v1/windows/1/finish", headers=w1)
    await client.post("/api/v1/tickets", json={"business": "A", "openid": "oConsent"}, headers=kiosk)
    await client.post("/api/v1/windows/1/call-next", headers=w1)
    got = await eventually(lambda: [m for m in fake_wechat.messages if m["touser"] == "oConsent"])
    assert [m["template_id"] for m in got] == ["TPL_CALLED_9Qm4"]
