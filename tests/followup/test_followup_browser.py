"""The 差评 loop in headless Chromium: the supervisor's follow-up page (1920x1080) with the phone
and the 二次评价 link's delivery, the empty call-back note refused on the page, the citizen's
consent on the QR page and the 二次评价 page (390x844), and /results with 回访率 and 整改率 (1920x1080).
The daemon's app is served by uvicorn on a free port in the test's own event loop."""

from __future__ import annotations

import pytest

from tests.browser import serving, sign_in
from tests.followup.conftest import at, eventually, make_tokens, sms_toml
from tests.pages import VIEWPORTS, check_page_async
from tests.support import launch_chromium

pytestmark = pytest.mark.browser
PHONE = "13905711234"


@pytest.fixture
async def served(make_hall, fake_sms, secret_file):
    h = await make_hall(sms_toml(fake_sms, secret_file))
    t = make_tokens(h.db)
    seeded = {}
    # Last month: two 差评 at window 1 (one rectified), one at window 2 (called back).
    h.clock.now = at("2026-08-20")
    a = await h.serve(t, phone="13905710001", project_no="330100202608200001")
    await h.rate_bad(a)
    await h.rectify(t["leader"], a["case"])
    b = await h.serve(t, phone="13905710002", project_no="330100202608200002")
    await h.rate_bad(b, 2)
    c = await h.serve(t, window="2")
    await h.rate_bad(c)
    await h.act(t["supervisor"], c["case"], "callback", {"contacted": True, "note": "已沟通"})
    # This month: the case whose page we look at (rectified, the SMS sent), and an open one.
    h.clock.now = at("2026-09-18")
    d = await h.serve(t, phone=PHONE, project_no="330100202609180021")
    await h.rate_bad(d, 1, "等了一个多小时，窗口只开了一个")
    await h.rectify(t["leader"], d["case"])
    e = await h.serve(t, phone="13905710005", project_no="330100202609180022")
    await h.rate_bad(e, 2, "材料要求没有一次说清")
    f = await h.serve(t)  # the citizen will leave a phone on the QR page
    await eventually(lambda: len(fake_sms.sent) == 2)
    seeded.update(rectified=d["case"], open=e["case"], qr=f, token=fake_sms.sent[-1]["values"]["token"])
    h.clock.now = at("2026-09-18", "16:00")
    async with serving(h.daemon.app) as base:
        yield h, t, seeded, base


async def test_the_follow_up_the_citizens_pages_and_the_results(served, artifacts):
    from playwright.async_api import async_playwright, expect

    h, t, seeded, base = served
    leader = t["leader"]["Authorization"].split()[1]
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page(viewport=VIEWPORTS["admin"], locale="zh-CN")
            await sign_in(page, f"{base}/admin/followups/{seeded['rectified']}", leader)
            await page.wait_for_url(f"**/admin/followups/{seeded['rectified']}")
            await expect(page.get_by_test_id("phone")).to_contain_text(PHONE)  # the handler sees it whole
            await expect(page.get_by_test_id("recheck-state")).to_contain_text("已发送")
            await expect(page.locator("body")).to_contain_text("增开一个综合窗口")
            await check_page_async(page, artifacts, "followup-detail-1920", full_page=True)

            await page.goto(f"{base}/admin/followups/{seeded['open']}")
            await page.fill("textarea[name=note]", "   ")  # not empty for the browser, empty for the record
            await page.click("text=保存回访")
            await expect(page.locator("#action-error")).to_contain_text("请填写回访记录")
            await expect(page.locator("h2").first).to_contain_text("待回访")
            await check_page_async(page, artifacts, "followup-note-refused-1920", full_page=True)

            await page.goto(f"{base}/admin/followups")
            await expect(page.locator("table")).to_contain_text("139****1234")
            assert PHONE not in await page.locator("body").inner_text()
            assert "built-in method" not in await page.locator("body").inner_text()
            await check_page_async(page, artifacts, "followup-list-1920", full_page=True)

            phone = await browser.new_page(viewport=VIEWPORTS["phone"], locale="zh-CN", is_mobile=True,
                                           has_touch=True)
            qr = seeded["qr"]
            await phone.goto(f"{base}/m/t/{qr['ticket']}#k={h.keys[qr['ticket']]}")
            await phone.get_by_test_id("rate-1").click()
            await phone.get_by_test_id("rate-submit").click()
            await expect(phone.get_by_test_id("contact")).to_be_visible()
            await phone.get_by_test_id("contact-phone").fill("13905719999")
            await phone.get_by_test_id("contact-submit").click()
            await expect(phone.get_by_test_id("contact-msg")).to_contain_text("请先勾选同意回访")
            await phone.get_by_test_id("contact-consent").check()
            await check_page_async(phone, artifacts, "m-contact-consent-390", citizen=True)
            await phone.get_by_test_id("contact-submit").click()
            await expect(phone.get_by_test_id("contact-done")).to_contain_text("139****9999")
            rows = await h.rows("SELECT phone, channel FROM case_contacts")
            assert rows == [{"phone": "13905719999", "channel": "qr"}]

            await phone.goto(f"{base}/r/{seeded['token']}")
            await expect(phone.get_by_test_id("recheck-measures")).to_contain_text("增开一个综合窗口")
            await check_page_async(phone, artifacts, "recheck-390", citizen=True, full_page=True)
            await phone.get_by_test_id("recheck-submit").click()  # nothing chosen: the browser asks first
            assert await h.rows("SELECT * FROM second_ratings") == []
            await phone.get_by_text("满意", exact=True).click()
            await phone.fill("textarea[name=comment]", "现在开了两个窗口，快多了")
            await phone.get_by_test_id("recheck-submit").click()
            await expect(phone.get_by_test_id("recheck-done")).to_contain_text("感谢您的评价")
            await check_page_async(phone, artifacts, "recheck-done-390", citizen=True)
            (second,) = await h.rows("SELECT level, comment FROM second_ratings")
            assert second == {"level": 4, "comment": "现在开了两个窗口，快多了"}

            await page.goto(f"{base}/results?month=2026-09")
            sep, aug = page.get_by_test_id("followup-2026-09"), page.get_by_test_id("followup-2026-08")
            # August: window 1 two 差评 (one called back and rectified), window 2 one (called back only).
            await expect(aug).to_contain_text("全厅合计")
            aug_text = await aug.inner_text()
            assert "1号窗口\t2\t1\t50.0%\t1\t50.0%" in aug_text, aug_text
            assert "2号窗口\t1\t1\t100.0%\t0\t0.0%" in aug_text, aug_text
            assert "全厅合计\t3\t2\t66.7%\t1\t33.3%" in aug_text, aug_text
            sep_text = await sep.inner_text()
            assert "1号窗口\t3\t1\t33.3%\t1\t33.3%" in sep_text, sep_text  # d called back and rectified; e, f open
            assert PHONE not in await page.locator("body").inner_text()
            await check_page_async(page, artifacts, "results-1920", citizen=True, full_page=True)
        finally:
            await browser.close()
