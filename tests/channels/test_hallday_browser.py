"""The hall's day in headless Chromium: the clerk console parks (挂起), calls the next, finishes it
as 办不成 with a note, takes the parked case back (回呼) and finishes it 容缺受理; pauses with a
reason; the kiosk says 取号已截止 once `stop_issuing` has passed. The daemon's app runs under uvicorn
in this test's loop, on the test's clock; screenshots at the sizes people use."""

from __future__ import annotations

import pytest

from tests.browser import chromium_page, clerk_sign_in, serving
from tests.channels.conftest import MONDAY_10AM
from tests.pages import check_page_async

pytestmark = pytest.mark.browser

ADAPTERS = ["queued.channels.appointments_api:Appointments", "queued.channels.kiosk:Kiosk",
            "queued.clerk.clerk:ClerkConsole", "evaluator.service:EvaluatorAdapter"]
TIMES = 'stop_issuing = "16:45"\ncloses = "17:30"'


@pytest.fixture
async def served(make_hall):
    hall = await make_hall(adapters=ADAPTERS, hall_extra=TIMES)
    async with serving(hall.daemon.app) as base:
        yield hall, base


async def test_clerk_console_parks_unparks_and_finishes_with_an_outcome(served, artifacts):
    from playwright.async_api import expect

    hall, base = served
    for business in "AAB":
        r = await hall.api.post("/api/v1/tickets", json={"business": business}, headers=hall.tokens["kiosk"])
        assert r.status_code == 201
    async with chromium_page("clerk") as page:
        await clerk_sign_in(page, base)
        await expect(page.locator("#who")).to_contain_text("张三")

        await page.keyboard.press("F1")
        await expect(page.locator("#ticket")).to_have_text("A001")
        await page.keyboard.press("F4")
        await expect(page.locator("#state")).to_have_text("办理中")
        await page.keyboard.press("F10")  # 挂起: a document is missing
        await page.fill("#park-reason", "缺身份证复印件")
        await page.locator("#park-ok").click()
        await expect(page.locator("#msg")).to_have_text("A001 已挂起，可继续呼叫下一位")
        await expect(page.locator("#state")).to_have_text("空闲")
        await expect(page.locator("#parked")).to_contain_text("A001")

        await page.keyboard.press("F1")  # the window goes on with the next citizen
        await expect(page.locator("#ticket")).to_have_text("A002")
        await page.keyboard.press("F4")
        await page.keyboard.press("F9")  # 办结 with an outcome
        await expect(page.locator("#finish-dialog")).to_be_visible()
        await page.locator("#outcomes button[data-outcome=failed]").click()
        await page.locator("#finish-ok").click()  # 办不成 without a note: not sent
        await expect(page.locator("#finish-dialog")).to_be_visible()
        await expect(page.locator("#finish-note")).to_be_focused()
        await page.fill("#finish-note", "不在本中心办理范围，已告知到区税务局办理")
        await check_page_async(page, artifacts, "clerk-finish-outcome")
        await page.locator("#finish-ok").click()
        await expect(page.locator("#msg")).to_have_text("A002 已办结（办不成），请群众评价")

        await page.locator("#parked button[data-number=A001]").click()  # 回呼: the citizen is back
        await expect(page.locator("#ticket")).to_have_text("A001")
        await expect(page.locator("#state")).to_have_text("办理中")
        await expect(page.locator("#msg")).to_have_text("已回呼 A001，继续办理")
        await expect(page.locator("#parked")).to_contain_text("暂无")
        await page.keyboard.press("F9")
        await page.locator("#outcomes button[data-outcome=accepted_pending]").click()
        await page.locator("#finish-ok").click()
        await expect(page.locator("#msg")).to_have_text("A001 已办结（容缺受理），请群众评价")

        await page.keyboard.press("F7")  # 暂停 asks for the reason
        await page.locator("#pause-reasons button[data-reason=会议]").click()
        await expect(page.locator("#state")).to_have_text("暂停服务")
        await expect(page.locator("#msg")).to_have_text("已暂停服务（会议）")
        await check_page_async(page, artifacts, "clerk-hallday")

    day = "2026-11-16"
    sup = hall.tokens["supervisor"]
    ledger = (await hall.api.get(f"/api/v1/reports/failed?from={day}&to={day}", headers=sup)).json()["rows"]
    assert [(x["number"], x["note"]) for x in ledger] == [("A002", "不在本中心办理范围，已告知到区税务局办理")]
    w = (await hall.api.get("/api/v1/windows/1", headers=sup)).json()
    assert (w["state"], w["pause_reason"], w["served_today"], w["parked"]) == ("paused", "会议", 2, [])


async def test_kiosk_says_issuing_has_stopped(served, artifacts):
    from playwright.async_api import expect

    hall, base = served
    token = hall.tokens["kiosk"]["Authorization"].split()[1]
    hall.clock.now = MONDAY_10AM + 6 * 3600 + 40 * 60  # 16:40
    async with chromium_page("kiosk-portrait") as page:
        await page.goto(f"{base}/kiosk?token={token}")
        await expect(page.get_by_test_id("business-A")).to_be_enabled()
        await expect(page.get_by_test_id("kiosk-day")).to_have_count(0)
        hall.clock.now = MONDAY_10AM + 6 * 3600 + 46 * 60  # 16:46: past stop_issuing
        await page.reload()  # what the idle kiosk does by itself each minute
        await expect(page.get_by_test_id("kiosk-day")).to_contain_text("今日16:45取号已截止")
        for code in "ABC":
            await expect(page.get_by_test_id(f"business-{code}")).to_be_disabled()
            await expect(page.get_by_test_id(f"stopped-{code}")).to_have_text("取号已截止")
        await check_page_async(page, artifacts, "kiosk-stopped", citizen=True)
