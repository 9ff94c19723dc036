"""/admin (the live hall) in headless Chromium at 1920×1080: today's figures, each window's state
with its pause reason, and the supervisor's actions done from the page — pause with a reason,
resume, send a ticket to a window, cancel a ticket, and a refused action that says why and changes
nothing. Screenshots: test-artifacts/admin-hall-1920.png, admin-hall-dialog-1920.png,
admin-hall-refused-1920.png."""

from __future__ import annotations

import pytest

from tests.browser import chromium_page, serving, sign_in
from tests.pages import check_page_async, english_words
from tests.security.inputs_hall import fingerprint

pytestmark = pytest.mark.browser


@pytest.fixture
async def site(hall, tokens):
    c = hall.client
    for b in ("A", "A", "A", "B", "B", "C"):
        assert (await c.post("/api/v1/tickets", json={"business": b}, headers=tokens["kiosk"])).status_code == 201
    hall.clock.advance(300)
    await c.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])  # A001 at window 1
    hall.clock.advance(240)
    await c.post("/api/v1/windows/1/finish", headers=tokens["clerk1"])  # served in 4 min
    await c.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])  # A002 at window 1
    await c.post("/api/v1/windows/2/call-next", headers=tokens["clerk2"])  # B001 at window 2
    await c.post("/api/v1/windows/2/skip", headers=tokens["clerk2"])  # B001 过号
    async with serving(hall.daemon.app) as base:
        yield base


def row(page, window: str):
    return page.locator(f'#windows tr[data-window="{window}"]')


async def test_the_live_hall_shows_today_and_takes_the_supervisors_actions(site, hall, tokens, artifacts):
    from playwright.async_api import expect

    token = tokens["supervisor"]["Authorization"].split()[1]
    async with chromium_page("admin") as page:
        await sign_in(page, f"{site}/admin/login?next=/admin", token)
        await page.wait_for_url("**/admin")
        cards = page.locator(".live-cards")
        # 6 issued, 1 served; waits 300 s (A001) and 540 s (A002, B001) → 460 s; 1 of 6 skipped.
        await expect(page.locator("#t-issued")).to_have_text("6")
        await expect(page.locator("#t-served")).to_have_text("1")
        await expect(page.locator("#t-wait")).to_have_text("7分40秒")
        await expect(page.locator("#t-service")).to_have_text("4分00秒")
        await expect(page.locator("#t-abandon")).to_have_text("16.7%")
        await expect(page.locator("#t-saturation")).to_have_text("50.0%")  # window 1 calls, 2 idle
        await expect(cards).to_contain_text("忙 1 / 开 2")
        await expect(row(page, "1")).to_contain_text("呼叫中")
        await expect(row(page, "1")).to_contain_text("A002")
        await check_page_async(page, artifacts, "admin-hall-1920", full_page=True)

        # Pause window 2 with a reason, from its row.
        await row(page, "2").get_by_role("button", name="暂停").click()
        await expect(page.locator("#act")).to_be_visible()
        await page.select_option("#act-reason", "会议")
        await check_page_async(page, artifacts, "admin-hall-dialog-1920")
        await page.click("#act-ok")
        await expect(page.locator("#notice")).to_have_text("已暂停2号窗口")
        await expect(row(page, "2")).to_contain_text("暂停服务（会议，0分钟）")
        assert hall.daemon.runtime.engine.windows["2"].pause_reason == "会议"

        # Sending C001: only window 3 serves C, so only it is offered.
        await page.locator("#waiting tr", has_text="C001").get_by_role("button", name="派往窗口").click()
        offered = await page.eval_on_selector_all("#act-window option", "os => os.filter(o => !o.hidden).map(o => o.text)")
        assert offered == ["3号窗口"] and await page.locator("#act-reason-row").is_hidden()
        await page.click("#act-cancel")
        # A refused action: send A003 to paused window 2. The dialog says why; nothing changes.
        before = await fingerprint(hall.daemon)
        waiting = page.locator("#waiting tr", has_text="A003")
        await waiting.get_by_role("button", name="派往窗口").click()
        await page.select_option("#act-window", "2")
        await page.click("#act-ok")
        await expect(page.locator("#act-error")).to_contain_text("未执行：")
        await expect(page.locator("#act-error")).to_contain_text("2号窗口状态为暂停服务，不能特呼")
        err_text = await page.locator("#act-error").inner_text()
        assert english_words(err_text) == [], err_text  # the Chinese part of the API's message only
        await check_page_async(page, artifacts, "admin-hall-refused-1920")
        assert await fingerprint(hall.daemon) == before
        await page.click("#act-cancel")

        # Resume window 2, then send A003 there: window 2 calls it.
        await row(page, "2").get_by_role("button", name="恢复").click()
        await page.click("#act-ok")
        await expect(page.locator("#notice")).to_have_text("已恢复2号窗口")
        await expect(row(page, "2")).to_contain_text("空闲")
        await page.locator("#waiting tr", has_text="A003").get_by_role("button", name="派往窗口").click()
        await page.select_option("#act-window", "2")
        await page.click("#act-ok")
        await expect(page.locator("#notice")).to_have_text("已将 A003 派往2号窗口")
        await expect(row(page, "2")).to_contain_text("A003")
        await expect(row(page, "2")).to_contain_text("呼叫中")

        # Cancel B002.
        await page.locator("#waiting tr", has_text="B002").get_by_role("button", name="取消此号").click()
        await page.click("#act-ok")
        await expect(page.locator("#notice")).to_have_text("已取消 B002 号")
        await expect(page.locator("#waiting")).not_to_contain_text("B002")
        b002 = next(t for t in hall.daemon.runtime.engine.tickets.values() if t.number == "B002")
        assert (b002.status, b002.cancel_reason) == ("cancelled", "admin")
        await expect(page.locator("#t-waiting")).to_have_text("1")  # C001 only
        await check_page_async(page, artifacts, "admin-hall-after-1920", full_page=True)
