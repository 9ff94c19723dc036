"""/m in headless Chromium as a WeChat user (the fake WeChat's OAuth and JS-SDK) at 390×844: the
page signs wx.config, WeChat accepts the signature, the user taps 开启叫号提醒 (wx-open-subscribe)
and both notices then reach them; a second number is refused in Chinese only; the rating made on
the WeChat page is channel `wechat`, and another device sees it rated. Screenshots: mobile-wechat-*.png."""

from __future__ import annotations

import httpx
import pytest

from tests.browser import serving
from tests.pages import VIEWPORTS, check_page_async, english_words
from tests.support import free_port, launch_chromium, token
from tests.wechat.conftest import ADAPTER, eventually, wechat_toml
from tests.wechat.fake_wechat import FakeWeChat

pytestmark = pytest.mark.browser

PHONE = {"viewport": VIEWPORTS["phone"], "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}


@pytest.fixture
async def served(make_daemon):
    fake = FakeWeChat().start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra = wechat_toml(fake) + f'jssdk_url = "{fake.url}/open/js/jweixin-1.6.0.js"\n'
    d = await make_daemon(extra=extra, adapters=["evaluator.service:EvaluatorAdapter", ADAPTER], public_url=base)
    async with serving(d.app, port) as base:
        yield d, base, fake
    fake.stop()


async def test_consent_notices_rating_and_chinese_only(served, artifacts):
    from playwright.async_api import async_playwright, expect

    d, base, fake = served
    fake.require_consent = True  # as WeChat: no notice without the user's consent
    fake.next_openid = "oPhone_7Yq"
    db = d.config.database
    hdr = {role: {"Authorization": "Bearer " + token(db, *args)}
           for role, args in (("kiosk", ("kiosk",)), ("w1", ("clerk", "1", "1001")), ("w2", ("clerk", "2", "1002")),
                              ("sup", ("supervisor",)))}
    async with httpx.AsyncClient(base_url=base) as api, async_playwright() as pw:
        for _ in range(2):
            assert (await api.post("/api/v1/tickets", json={"business": "A"}, headers=hdr["kiosk"])).status_code == 201
        browser = await launch_chromium(pw)
        try:
            ctx = await browser.new_context(**PHONE)
            page = await ctx.new_page()
            page.set_default_timeout(10000)
            await page.goto(f"{base}/m")  # → WeChat's authorize → /m/oauth → /m
            await page.wait_for_url(lambda u: u.split("#")[0] == f"{base}/m")
            await page.wait_for_function("window.queuedSubscribe && window.queuedSubscribe.state !== 'loading'")
            assert await page.evaluate("window.queuedSubscribe.state") == "ready"
            checked = fake.js_configs[-1]
            assert checked["result"] == "config:ok" and checked["url"] == f"{base}/m"
            assert checked["openTagList"] == ["wx-open-subscribe"]
            await expect(page.get_by_test_id("subscribe")).to_be_visible()
            await check_page_async(page, artifacts, "mobile-wechat-subscribe", citizen=True)

            await page.get_by_test_id("subscribe-button").click()
            await expect(page.get_by_test_id("subscribe-msg")).to_have_text("已开启提醒：快到您和叫到您时，公众号会通知您。")
            assert fake.consents == {("oPhone_7Yq", "TPL_AHEAD_7Xk2"): 1, ("oPhone_7Yq", "TPL_CALLED_9Qm4"): 1}

            await page.get_by_test_id("take-A").click()
            await expect(page.get_by_test_id("take-msg")).to_have_text("取号成功：A003，前面还有 2 人")
            card = page.get_by_test_id("ticket")
            await expect(card.get_by_test_id("ticket-ahead")).to_have_text("前面还有 2 人")
            await page.get_by_test_id("take-A").click()  # a second number: refused, in Chinese only
            msg = page.get_by_test_id("take-msg")
            await expect(msg).to_have_class("msg err")
            text = await msg.inner_text()
            assert "A003" in text and not english_words(text), text
            await check_page_async(page, artifacts, "mobile-wechat-refused", citizen=True, full_page=True)

            # Both notices arrive: the consent allowed one of each.
            assert (await api.post("/api/v1/windows/1/call-next", headers=hdr["w1"])).status_code == 200
            assert (await api.post("/api/v1/windows/2/call-next", headers=hdr["w2"])).status_code == 200
            # Nobody ahead, both windows busy: no "前面还有 0 人" beside minutes of waiting.
            await expect(card.get_by_test_id("ticket-ahead")).to_have_text("您是下一位")
            await expect(card.get_by_test_id("ticket-eta")).to_contain_text("窗口正在办理，约")
            await check_page_async(page, artifacts, "mobile-wechat-next", citizen=True)
            await api.post("/api/v1/windows/1/finish", headers=hdr["w1"])
            assert (await api.post("/api/v1/windows/1/call-next", headers=hdr["w1"])).json()["ticket"]["number"] \
                == "A003"
            got = await eventually(lambda: len([m for m in fake.messages if m["touser"] == "oPhone_7Yq"]) == 2)
            assert got
            assert sorted(m["template_id"] for m in fake.messages if m["touser"] == "oPhone_7Yq") == [
                "TPL_AHEAD_7Xk2", "TPL_CALLED_9Qm4"]
            assert not [x for x in fake.sends() if x["errcode"] == 43101]
            await expect(card.get_by_test_id("ticket-window")).to_have_text("请到 1号窗口 办理")

            # Rated on the WeChat page: channel wechat.
            case = (await api.post("/api/v1/windows/1/finish", headers=hdr["w1"])).json()["finished"]["case"]
            rating = card.get_by_test_id("rating")
            await expect(rating).to_be_visible()
            await rating.get_by_test_id("rate-5").click()
            await rating.get_by_test_id("rate-submit").click()
            await expect(card.get_by_test_id("rating-done")).to_have_text("感谢您的评价！")
            review = (await api.get(f"/api/v1/reviews/{case}", headers=hdr["sup"])).json()
            assert (review["level"], review["channel"]) == (5, "wechat")
            await check_page_async(page, artifacts, "mobile-wechat-rated", citizen=True)

            # Another device with the QR code's link: rated already, no form.
            tid = next(t.id for t in d.runtime.engine.tickets.values() if t.number == "A003")
            key = d.runtime.engine.tickets[tid].rating_key
            other = await (await browser.new_context(**PHONE)).new_page()
            await other.goto(f"{base}/m/t/{tid}#k={key}")
            await expect(other.get_by_test_id("rating-done")).to_have_text("已评价，感谢您的反馈！")
            await expect(other.get_by_test_id("rate-submit")).to_have_count(0)
            await check_page_async(other, artifacts, "mobile-rated-elsewhere", citizen=True)
        finally:
            await browser.close()


async def test_a_refused_signature_hides_the_button(served, artifacts):
    from playwright.async_api import async_playwright, expect

    d, base, fake = served
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await (await browser.new_context(**PHONE)).new_page()
            await page.goto(f"{base}/m")
            await page.wait_for_url(lambda u: u.split("#")[0] == f"{base}/m")
            await page.wait_for_function("window.queuedSubscribe && window.queuedSubscribe.state !== 'loading'")
            fake.expire_js_tickets()  # WeChat no longer knows the ticket the daemon signed with
            await page.reload()
            await page.wait_for_function("window.queuedSubscribe && window.queuedSubscribe.state !== 'loading'")
            assert await page.evaluate("window.queuedSubscribe") == {"state": "config-refused",
                                                                     "errMsg": "config:invalid signature"}
            await expect(page.get_by_test_id("subscribe")).to_be_hidden()
            await check_page_async(page, artifacts, "mobile-wechat-no-subscribe", citizen=True)
        finally:
            await browser.close()
