"""/admin/province in headless Chromium at 1920×1080: the outbox as a supervisor sees it (pending,
a rejection with the platform's message, a case with no 办件编号, the reconciliation alert), and
the re-push button sending the fixed rejection."""

from __future__ import annotations

import asyncio

import pytest

from tests.browser import chromium_page, serving, sign_in
from tests.province.support import ID_NUMBER, wait_until

pytestmark = pytest.mark.browser


async def test_the_outbox_page_and_its_repush_button(make_hall, fake, artifacts):
    from playwright.async_api import expect

    h = await make_hall(fake, "zhejiang")
    for window in ("1", "2", "1"):
        await h.rate(await h.serve(window), 5)
    await h.settled()
    fake.script(fake.ZJ, "reject:事项编码 taskCode 在事项库中不存在")
    bad = await h.rate(await h.serve("2"), 2, reasons=0b10)
    await wait_until(lambda: fake.outcomes()["reject"] == 1)
    await h.rate(await h.serve("1", bind=False), 4)  # no 办件编号: never pushed
    fake.down(0, float("inf"))
    for window in ("1", "2"):
        await h.rate(await h.serve(window), 4, channel="qr")
    await wait_until(lambda: fake.outcomes()["down"] >= 2)
    await asyncio.sleep(0.6)  # older than retry_max_s (0.5 s here): the reconciliation alerts
    assert await h.province.reconcile(days=1)

    async with serving(h.d.app) as base:
        async with chromium_page({"width": 1920, "height": 1080}) as page:
            await sign_in(page, f"{base}/admin/province", h.h["supervisor"]["Authorization"].split()[1])
            await expect(page.get_by_role("heading", name="浙江省政务服务好差评平台 zhejiang")).to_be_visible()
            await expect(page.get_by_role("alert")).to_contain_text("对账告警")
            await expect(page.locator("td.msg").first).to_contain_text("事项编码 taskCode 在事项库中不存在")
            await expect(page.get_by_text("办件未绑定办件编号，不能推送")).to_be_visible()
            await expect(page.get_by_text("重试中").first).to_be_visible()
            html = await page.content()
            assert ID_NUMBER not in html and "13800" not in html and "王小明" not in html
            await page.screenshot(path=str(artifacts / "admin-province.png"), full_page=False)

            fake.downs.clear()  # the platform is back; the supervisor fixed the rejection's cause
            async with page.expect_navigation():  # the form's POST and its redirect, then reload
                await page.click(f"button.repush[data-rating='{bad.rating_id}']")
            await h.settled()
            await page.reload()
            await expect(page.locator(f"tr[data-rating='{bad.rating_id}']")).to_have_count(0)
            await page.screenshot(path=str(artifacts / "admin-province-after-repush.png"), full_page=False)
    [row] = await h.outbox(rating_id=bad.rating_id)
    assert (row["state"], row["repushes"]) == ("accepted", 1)
    assert len(fake.stored("zhejiang")) == 6  # three, the fixed rejection, two after the outage; not the unbound
