"""/admin in headless Chromium: sign in, the review dashboard's charts over seeded ratings, and a
差评 call-back recorded from its page. The daemon's app is served by uvicorn on a free port in this
test's own event loop, so its clock can be set to seed ratings over several days."""

from __future__ import annotations

import pytest

from tests.browser import chromium_page, serving
from tests.evaluator_admin.conftest import at

pytestmark = pytest.mark.browser

# (day, window, levels, reasons of the 差评)
SEED = [
    ("2026-09-14", "1", [5, 5, 4, 3], []), ("2026-09-14", "2", [5, 2], [1]),
    ("2026-09-15", "1", [5, 4, 1], [2, 3]), ("2026-09-15", "2", [4, 4, 5], []),
    ("2026-09-16", "1", [5, 5], []), ("2026-09-16", "2", [1, 2, 3], [1, 4]), ("2026-09-16", "3", [5, 5], []),
    ("2026-09-17", "1", [4, 5, 5], []), ("2026-09-17", "3", [2, 4], [5]),
    ("2026-09-18", "1", [5, 5, 5, 2], [1]), ("2026-09-18", "2", [5, 3], []),
]


@pytest.fixture
async def served(hall, tokens):
    clerks = {"1": tokens["clerk1"], "2": tokens["clerk2"], "3": tokens["admin"]}
    for day, window, levels, reasons in SEED:
        hall.clock.now = at(day)
        for level in levels:
            case = await hall.serve(tokens["kiosk"], clerks[window], window=window, business="C" if window == "3" else "A")
            await hall.rate(case, level, reasons if level <= 2 else [])
    hall.clock.now = at("2026-09-18", "16:00")
    async with serving(hall.daemon.app) as base:
        yield base


async def test_sign_in_see_the_review_charts_and_record_a_call_back(served, tokens, artifacts):
    from playwright.async_api import expect

    base = served
    token = tokens["supervisor"]["Authorization"].split()[1]
    async with chromium_page({"width": 1280, "height": 1000}) as page:
        await page.goto(f"{base}/admin/reviews?from=2026-09-14&to=2026-09-18")
        await expect(page.get_by_role("heading", name="督查员 / 管理员登录")).to_be_visible()
        await page.fill("input[name=token]", token)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/admin/reviews?from=2026-09-14&to=2026-09-18")

        await expect(page.get_by_role("heading", name="好评率与评价件数（按日）")).to_be_visible()
        day_chart = page.locator("#by-day svg.chart")
        await expect(day_chart).to_be_visible()
        assert await day_chart.locator("circle.pt").count() == 5  # one point a day
        await expect(page.locator("#windows svg.chart")).to_contain_text("1号窗口")
        await expect(page.locator("#reasons svg.chart")).to_contain_text("服务态度差")
        await expect(page.locator("#clerks svg.chart")).to_contain_text("张三")
        # 30 ratings, 6 差评: 24 good.
        await expect(page.locator(".cards")).to_contain_text("80.0%")
        await expect(page.locator("#downloads")).to_contain_text("好差评统计（按部门）")
        async with page.expect_download() as dl:
            await page.locator("#downloads tr", has_text="按部门").get_by_text("CSV").click()
        csv_text = open(await (await dl.value).path(), encoding="utf-8-sig").read()
        assert csv_text.splitlines()[0].startswith("分组,名称,办件数")  # one row per department
        await page.screenshot(path=str(artifacts / "admin-reviews.png"), full_page=True)

        await page.click("text=差评整改")
        await expect(page.locator("table")).to_contain_text("待回访")
        await page.locator("a", has_text="处理").first.click()
        await expect(page.get_by_role("heading", name="登记回访")).to_be_visible()
        await page.fill("textarea[name=note]", "已电话致歉，群众表示理解")
        await page.click("text=保存回访")
        await expect(page.locator("h2").first).to_contain_text("已回访")
        await expect(page.locator("body")).to_contain_text("已电话致歉，群众表示理解")
        await expect(page.get_by_role("heading", name="登记整改")).to_be_visible()

        await page.goto(f"{base}/admin")
        await expect(page.get_by_role("heading", name="窗口状态")).to_be_visible()
        await page.screenshot(path=str(artifacts / "admin-hall.png"), full_page=True)
